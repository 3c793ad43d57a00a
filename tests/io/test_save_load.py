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


def _no_fit(*args, **kwargs):
    raise AssertionError("load_model fitted the model again")


def _load_without_fitting(model, path, monkeypatch, core_class, entries=("fit",)):
    """Save ``model`` and load it with the core's fit ``entries`` (and the
    model's own ``fit``) raising, so that any refit fails the test."""
    save_model(model, path)
    with monkeypatch.context() as patch:
        for name in entries:
            patch.setattr(core_class, name, _no_fit)
        patch.setattr(type(model), "fit", _no_fit)
        return load_model(path)


def _glmer_cases():
    cbpp = mm.load_dataset("cbpp")
    cbind = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    dietox = mm.load_dataset("dietox").filter(pl.col("Time") <= 4)
    grouse = mm.load_dataset("grouseticks")
    return {
        "binomial-probit-nAGQ0": (mm.Lmer(cbind, data=cbpp, family="binomial"), {"link": "probit", "nAGQ": 0}),
        "binomial-nAGQ9": (mm.Lmer(cbind, data=cbpp, family="binomial"), {"nAGQ": 9}),
        "gamma-log": (mm.Lmer("Weight ~ Time + (1 | Pig)", data=dietox, family="gamma"), {"link": "log"}),
        "inverse_gaussian": (mm.Lmer("Weight ~ Time + (1 | Pig)", data=dietox, family="inverse_gaussian"), {}),
        "negative_binomial": (mm.Lmer("TICKS ~ YEAR + (1 | BROOD)", data=grouse, family="negative_binomial"), {}),
        "negative_binomial-given": (
            mm.Lmer("TICKS ~ YEAR + (1 | BROOD)", data=grouse, family="negative_binomial", nb_theta=2.5),
            {},
        ),
    }


@pytest.mark.parametrize("case", list(_glmer_cases()))
def test_glmms_of_every_family_load_without_optimizing(case, tmp_path, monkeypatch):
    m, options = _glmer_cases()[case]
    m.fit(summarize=False, no_warnings=True, **options)
    loaded = _load_without_fitting(m, tmp_path / "m.mm", monkeypatch, _core.GlmerFit)
    _same(m, loaded)
    assert (loaded.nAGQ, loaded.link, loaded.nb_theta) == (m.nAGQ, m.link, m.nb_theta)
    assert loaded.optsummary == m.optsummary  # the optimizer's record, evaluations included
    assert loaded.summary_text() == m.summary_text()
    assert np.array_equal(loaded.vcov, m.vcov) and loaded.deviance == m.deviance
    assert np.array_equal(loaded.predict(m.data, pred_type="link"), m.predict(m.data, pred_type="link"))
    factors = [t.label for t in m.fixed_terms if not any(t.numeric)]
    for term in factors:
        for a, b in zip(loaded.post_hoc(term, summarize=False), m.post_hoc(term, summarize=False), strict=True):
            assert a.equals(b)
    # a GLMM's anova is the likelihood-ratio comparison with another model
    null = mm.Lmer(m.formula.split("~")[0] + "~ 1 + (1 | " + m.formula.split("(1 | ")[1], data=m.data, family=m.family)
    null.fit(summarize=False, no_warnings=True, **options)
    assert mm.anova(null, loaded).equals(mm.anova(null, m))


def _lm_cases():
    d = mm.load_dataset("sample_data")
    weighted = {"weights": "IV3", "robust": "hc3", "conf_int": "boot", "n_boot": 50, "permute": 20, "seed": 1}
    return {
        "Lm": (mm.Lm("DV ~ IV1 + IV3", data=d), {}),
        "Lm-weighted-boot-permute": (mm.Lm("DV ~ IV1 + IV2", data=d.with_columns(pl.col("IV3").cast(str))), weighted),
        "Lm-rank-cluster": (mm.Lm("DV ~ IV1 + IV3", data=d), {"rank": True, "robust": "cluster", "cluster": "Group"}),
        "Lm-binomial": (mm.Lm("DV_l ~ IV1 + IV3", data=d), {}),
        "Lm-poisson": (mm.Lm("IV3 ~ IV1", data=d.with_columns(pl.col("IV3") * 2), family="poisson"), {}),
        "Lm2": (mm.Lm2("DV ~ IV3 + IV2", group="Group", data=d), {"conf_int": "boot", "n_boot": 50, "seed": 2}),
        "Lm2-corrs-permute": (
            mm.Lm2("DV ~ IV3 + IV2", group="Group", data=d),
            {"to_corrs": "partial", "permute": 20, "seed": 3},
        ),
    }


@pytest.mark.parametrize("case", list(_lm_cases()))
def test_the_other_model_classes_load_without_fitting(case, tmp_path, monkeypatch):
    m, options = _lm_cases()[case]
    if case == "Lm-binomial":
        m = mm.Lm(m.formula, data=m.data, family="binomial")
    m.fit(summarize=False, no_warnings=True, **options)
    if m.is_generalized:  # IRLS is not run again
        loaded = _load_without_fitting(m, tmp_path / "m.mm", monkeypatch, _core.GlmFit)
    else:  # least squares is closed-form, one solve; neither bootstrap nor permutations run again
        core = _core.Lm2Fit if isinstance(m, mm.Lm2) else _core.LmFit
        resampling = ("bootstrap_intervals", "permutation_test")
        loaded = _load_without_fitting(m, tmp_path / "m.mm", monkeypatch, core, resampling)
    copies = (loaded, pickle.loads(pickle.dumps(m)), copy.deepcopy(m))
    for again in copies:
        assert type(again) is type(m) and again.formula == m.formula and again.family == m.family
        assert again.coefs.equals(m.coefs) and again.data.equals(m.data)
        assert again.logLike == m.logLike and again.warnings == m.warnings
        assert again.summary_text() == m.summary_text() and np.array_equal(again.vcov, m.vcov, equal_nan=True)
        assert np.array_equal(again.design_matrix.to_numpy(), m.design_matrix.to_numpy())
        assert (again.fits is None and m.fits is None) or np.array_equal(again.fits, m.fits, equal_nan=True)
        if isinstance(m, mm.Lm2):
            assert again.fixef.equals(m.fixef)
        elif not m.ranked_data:
            assert np.array_equal(again.predict(m.data), m.predict(m.data), equal_nan=True)
    if isinstance(m, mm.Lm) and m.is_generalized:
        assert loaded._fit.iterations == m._fit.iterations and np.array_equal(loaded.vcov, m.vcov)


def test_a_saved_generalized_fit_of_other_data_is_refused(glmms, tmp_path):
    m = glmms[0]
    path = save_model(m, tmp_path / "m.mm")
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    metadata = json.loads(parts["metadata.json"])
    metadata["estimates"]["core"]["beta"] = metadata["estimates"]["core"]["beta"][:2]
    parts["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, content in parts.items():
            z.writestr(name, content)
    with pytest.raises(mm.DataError, match="the saved beta has 2 values but the model of these data has 4"):
        load_model(path)


def test_a_rank_fit_loads_on_the_ranks(tmp_path, monkeypatch):
    m = mm.Lmer("DV ~ IV1 + (1 | Group)", data=mm.load_dataset("sample_data"))
    m.fit(summarize=False, rank=True, rank_group="IV3", no_warnings=True)
    loaded = _load_without_fitting(m, tmp_path / "m.mm", monkeypatch, _core.LmerFit)
    _same_fit(m, loaded)
    assert loaded.ranked_data


def _same_fit(a: mm.MixedModel, b: mm.MixedModel) -> None:
    """The results of the core's fits (not the saved tables) are equal."""
    assert np.array_equal(a.fits, b.fits) and np.array_equal(a.vcov, b.vcov)
    assert all(a.ranef[g].equals(b.ranef[g]) for g in a.ranef)
