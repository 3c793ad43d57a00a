"""Saved, pickled and copied models give back every result: coefficients,
random effects, predictions, anova and post hoc tables, for linear models
(rebuilt at the saved estimates, without optimizing) and generalized ones;
files from a newer format are refused."""

from __future__ import annotations

import copy
import json
import pickle
import zipfile

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.io import FORMAT_VERSION, load_model, save_model


def _same(a: mm.MixedModel, b: mm.MixedModel) -> None:
    assert type(a) is type(b) and a.formula == b.formula and a.family == b.family
    assert a.coefs.equals(b.coefs)
    assert a.data.equals(b.data)
    assert a.ranef_var.equals(b.ranef_var) and a.ranef_corr.equals(b.ranef_corr)
    assert a.ranef.keys() == b.ranef.keys() and all(a.ranef[g].equals(b.ranef[g]) for g in a.ranef)
    assert a.fixef.keys() == b.fixef.keys() and all(a.fixef[g].equals(b.fixef[g]) for g in a.fixef)
    assert (a.logLike, a.AIC, a.BIC) == (b.logLike, b.AIC, b.BIC)
    assert np.array_equal(a.fits, b.fits) and np.array_equal(a.residuals, b.residuals)
    assert a.warnings == b.warnings
    assert np.array_equal(a.predict(a.data), b.predict(b.data))


@pytest.fixture(scope="module")
def sleep() -> mm.Lmer:
    data = mm.load_dataset("sleepstudy").with_columns(pl.col("Days").alias("D2"))
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=data)
    m.fit(summarize=False, weights=1 + np.arange(180) % 3)
    return m


@pytest.fixture(scope="module")
def factors() -> mm.Lmer:
    m = mm.Lmer("DV ~ IV3 + IV2 + (IV2|Group) + (1|IV3)", data=mm.load_dataset("sample_data"))
    m.fit(summarize=False, factors={"IV3": ["1.0", "0.5", "1.5"]}, ddf="Kenward-Roger", no_warnings=True)
    return m


@pytest.fixture(scope="module")
def glmms() -> list[mm.Glmer]:
    cbpp = mm.load_dataset("cbpp")
    binomial = mm.Lmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=cbpp, family="binomial")
    binomial.fit(summarize=False)
    poisson = mm.Lmer("incidence ~ period + (1 | herd)", data=cbpp, family="poisson")
    poisson.fit(summarize=False, nAGQ=5)
    return [binomial, poisson]


def test_save_load_linear_model_without_refitting(sleep, tmp_path, monkeypatch):
    path = save_model(sleep, tmp_path / "sleep.mm")
    original = _core.LmerFit.fit

    def no_refit(*args, **kwargs):
        raise AssertionError("load_model optimized again")

    monkeypatch.setattr(_core.LmerFit, "fit", no_refit)
    loaded = load_model(path)
    monkeypatch.setattr(_core.LmerFit, "fit", original)
    _same(sleep, loaded)
    assert loaded.REML and np.array_equal(loaded.prior_weights, sleep.prior_weights)
    assert loaded.optsummary["feval"] == sleep.optsummary["feval"]
    assert loaded.anova().equals(sleep.anova())


def test_save_load_with_factor_levels_and_post_hoc(factors, tmp_path):
    loaded = load_model(save_model(factors, tmp_path / "m.zip"))
    _same(factors, loaded)
    assert loaded.factors == factors.factors and loaded.ddf == "Kenward-Roger"
    assert np.array_equal(loaded.vcov_kenward_roger, factors.vcov_kenward_roger)
    for a, b in zip(loaded.post_hoc("IV3", summarize=False), factors.post_hoc("IV3", summarize=False), strict=True):
        assert a.equals(b)
    assert loaded.anova(type=3).equals(factors.anova(type=3))


def test_save_load_generalized_models(glmms, tmp_path):
    for m in glmms:
        loaded = load_model(save_model(m, tmp_path / f"{m.family}.mm"))
        _same(m, loaded)
        assert loaded.nAGQ == m.nAGQ and loaded.link == m.link
        for a, b in zip(loaded.post_hoc("period", summarize=False), m.post_hoc("period", summarize=False), strict=True):
            assert a.equals(b)


def test_pickle_and_deepcopy(sleep, factors, glmms):
    for m in [sleep, factors, *glmms]:
        _same(m, pickle.loads(pickle.dumps(m)))
        copied = copy.deepcopy(m)
        _same(m, copied)
        assert copied.data is not m.data
    unfitted = mm.Lmer("Reaction ~ Days + (1 | Subject)", data=mm.load_dataset("sleepstudy"))
    again = pickle.loads(pickle.dumps(unfitted))
    assert not again.fitted and again.data.equals(unfitted.data)
    again.fit(summarize=False)
    assert again.coefs is not None


def test_statsmodels_results_pickle():
    data = mm.load_dataset("dietox")
    result = mm.mixedlm("Weight ~ Time", data, groups="Pig").fit()
    again = pickle.loads(pickle.dumps(result))
    assert again.params.equals(result.params) and again.cov_re.equals(result.cov_re)


def test_files_of_a_newer_format_or_of_another_kind_are_refused(sleep, tmp_path):
    path = save_model(sleep, tmp_path / "sleep.mm")
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    metadata = json.loads(parts["metadata.json"])
    assert metadata["format"] == "mixedmodels-model" and metadata["format_version"] == FORMAT_VERSION
    assert metadata["class"] == "Lmer" and metadata["formula"] == sleep.formula
    metadata["format_version"] = FORMAT_VERSION + 1
    metadata["mixedmodels_version"] = "9.0.0"
    parts["metadata.json"] = json.dumps(metadata).encode()
    newer = tmp_path / "newer.mm"
    with zipfile.ZipFile(newer, "w") as z:
        for name, content in parts.items():
            z.writestr(name, content)
    with pytest.raises(mm.DataError, match=r"written by mixedmodels 9\.0\.0 in model-file format 2.*upgrade"):
        load_model(newer)
    not_zip = tmp_path / "notes.txt"
    not_zip.write_text("hello")
    with pytest.raises(mm.DataError, match="not a mixedmodels model file"):
        load_model(not_zip)


@pytest.mark.parametrize(
    "make",
    [
        lambda d: mm.Lm("DV ~ IV1 + IV3", data=d),
        lambda d: mm.Lm("DV_l ~ IV1 + IV3", data=d, family="binomial"),
        lambda d: mm.Lm2("DV ~ IV3 + IV2", group="Group", data=d),
    ],
    ids=["Lm", "Lm-binomial", "Lm2"],
)
def test_save_load_and_pickle_of_the_other_model_classes(make, tmp_path):
    data = mm.load_dataset("sample_data")
    m = make(data)
    m.fit(summarize=False)
    for again in (load_model(save_model(m, tmp_path / "m.mm")), pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert type(again) is type(m) and again.formula == m.formula and again.family == m.family
        assert again.coefs.equals(m.coefs) and again.data.equals(m.data)
        assert again.logLike == m.logLike and again.warnings == m.warnings


def test_save_load_gamma_glmm(tmp_path):
    data = mm.load_dataset("dietox").filter(pl.col("Time") <= 4)
    m = mm.Lmer("Weight ~ Time + (1 | Pig)", data=data, family="gamma")
    m.fit(summarize=False, link="log")
    _same(m, load_model(save_model(m, tmp_path / "gamma.mm")))
