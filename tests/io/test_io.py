"""pymer4 0.8.2's tests/test_io.py, ported: the imports and the data fixture
changed (pymer4's sample data, bundled here), and the check of the ``.rds``
file pymer4 writes beside the model left out (there is no R here). The last
test, not pymer4's, runs the same steps on a generalized model (pymer4's
``Lmer(..., family="binomial")``, here a ``Glmer``)."""

import pytest

from mixedmodels import Glmer, Lm, Lm2, Lmer, load_dataset
from mixedmodels.io import load_model, save_model


@pytest.fixture(scope="module")
def df():
    return load_dataset("sample_data")


def test_saveload_lmer(df, tmp_path):
    model = Lmer("DV ~ IV3 + IV2 + (IV2|Group) + (1|IV3)", data=df)
    model.fit(summarize=False)
    output_file = tmp_path / "model.joblib"

    save_model(model, output_file)
    assert output_file.exists()

    m = load_model(output_file)
    assert m.coefs.equals(model.coefs)
    assert m.data.equals(model.data)


def test_saveload_lm(df, tmp_path):
    model = Lm("DV ~ IV1 + IV3", data=df)
    model.fit(summarize=False)
    output_file = tmp_path / "model.joblib"

    save_model(model, output_file)
    assert output_file.exists()

    m = load_model(output_file)
    assert m.coefs.equals(model.coefs)
    assert m.data.equals(model.data)


def test_saveload_lm2(df, tmp_path):
    model = Lm2("DV ~ IV3 + IV2", group="Group", data=df)
    model.fit(summarize=False)
    output_file = tmp_path / "model.joblib"

    save_model(model, output_file)
    assert output_file.exists()

    m = load_model(output_file)
    assert m.coefs.equals(model.coefs)
    assert m.data.equals(model.data)


def test_saveload_glmer(df, tmp_path):
    model = Lmer("DV_l ~ IV1 + (1|Group)", data=df, family="binomial")
    model.fit(summarize=False)
    output_file = tmp_path / "model.joblib"

    save_model(model, output_file)
    assert output_file.exists()

    m = load_model(output_file)
    assert isinstance(m, Glmer)
    assert m.coefs.equals(model.coefs)
    assert m.data.equals(model.data)
