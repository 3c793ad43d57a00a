"""pymer4 0.8.2's tests/test_io.py, ported: the imports and the data fixture
changed (pymer4's sample data, bundled here), and the check of the ``.rds``
file pymer4 writes beside the model left out (there is no R here). Lm and Lm2
run once the package has them."""

import pytest

import mixedmodels
from mixedmodels import Lmer, load_dataset
from mixedmodels.io import load_model, save_model

Lm = getattr(mixedmodels, "Lm", None)
Lm2 = getattr(mixedmodels, "Lm2", None)


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


@pytest.mark.skipif(Lm is None, reason="mixedmodels has no Lm yet")
def test_saveload_lm(df, tmp_path):
    model = Lm("DV ~ IV1 + IV3", data=df)
    model.fit(summarize=False)
    output_file = tmp_path / "model.joblib"

    save_model(model, output_file)
    assert output_file.exists()

    m = load_model(output_file)
    assert m.coefs.equals(model.coefs)
    assert m.data.equals(model.data)


@pytest.mark.skipif(Lm2 is None, reason="mixedmodels has no Lm2 yet")
def test_saveload_lm2(df, tmp_path):
    model = Lm2("DV ~ IV3 + IV2", group="Group", data=df)
    model.fit(summarize=False)
    output_file = tmp_path / "model.joblib"

    save_model(model, output_file)
    assert output_file.exists()

    m = load_model(output_file)
    assert m.coefs.equals(model.coefs)
    assert m.data.equals(model.data)
