"""An Lmer fitted out of core (polars' streaming engine) offers what works
from the sums through the usual interface, row-level results as lazy
frames, and refuses what needs the rows, saying why."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from outofcore_data import make_data, write_parquet

import mixedmodels as mm
from mixedmodels.exceptions import ColumnError, DataError, UnavailableError
from mixedmodels.sources import base

FORMULA = "y ~ x + f + (1 | g1) + (1 | g2)"


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return make_data(n=1200)


@pytest.fixture(scope="module")
def files(data, tmp_path_factory) -> str:
    return write_parquet(data, str(tmp_path_factory.mktemp("parts")), parts=3)


def fit(formula, data, **kw):
    m = mm.Lmer(formula, data=data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(summarize=False, **kw)
    return m


@pytest.fixture(scope="module")
def pair(data, files):
    return fit(FORMULA, data), fit(FORMULA, files)


def test_paths_globs_and_directories_stream(pair, files, tmp_path, data):
    mem, ooc = pair
    assert ooc.engine == "polars" and ooc.streamed and isinstance(ooc.data, pl.LazyFrame)
    by_dir = fit(FORMULA, files.rsplit("/", 1)[0])
    data.write_csv(tmp_path / "d.csv")
    by_csv = fit(FORMULA, str(tmp_path / "d.csv"))
    for m in (ooc, by_dir, by_csv):
        np.testing.assert_allclose(m.beta, mem.beta, rtol=1e-7)
    with pytest.raises(DataError, match="not a Parquet, CSV or Arrow IPC"):
        mm.Lmer(FORMULA, data=str(tmp_path / "d.txt"))
    with pytest.raises(DataError, match="no file"):
        mm.Lmer(FORMULA, data=str(tmp_path / "missing.parquet"))


def test_row_level_results_are_lazy_frames(pair, data):
    mem, ooc = pair
    fits = ooc.fits.collect()
    assert isinstance(ooc.fits, pl.LazyFrame) and fits.height == mem.nobs
    np.testing.assert_allclose(fits["fits"], mem.fits, rtol=1e-6)
    np.testing.assert_allclose(ooc.residuals.collect()["residuals"], mem.residuals, rtol=1e-5, atol=1e-8)
    new = data.tail(40).with_columns(pl.col("g1").replace("s03", "unseen"))
    lazy = ooc.predict(new.lazy())
    assert isinstance(lazy, pl.LazyFrame)
    got = lazy.collect()["prediction"].to_numpy()
    expected = mem.predict(new)
    ok = np.isfinite(expected)
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-6)
    np.testing.assert_allclose(ooc.predict(new), expected, rtol=1e-6)  # in-memory new data: an array
    np.testing.assert_allclose(
        ooc.predict(new.lazy(), use_rfx=False).collect()["prediction"].to_numpy()[ok],
        mem.predict(new, use_rfx=False)[ok],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "what",
    ["fit_rows", "fit_mask", "fit_frame", "response", "prior_weights", "offset"],
)
def test_what_needs_the_rows_says_so(pair, what):
    _, ooc = pair
    with pytest.raises(UnavailableError, match="out of core"):
        getattr(ooc, what)


def test_refusals_name_the_reason(pair, files, data):
    _, ooc = pair
    with pytest.raises(UnavailableError, match="out of core"):
        ooc.simulate(2)
    with pytest.raises(DataError, match="Kenward-Roger"):
        fit(FORMULA, files, ddf="Kenward-Roger")
    with pytest.raises(DataError, match="single rows"):
        ooc.influence()
    with pytest.raises(DataError, match="holds only the sums"):
        ooc.hlm_resid(level="g1")
    with pytest.raises(DataError, match="PIRLS"):
        mm.Glmer("I(y > 5) ~ x + (1 | g1)", data=pl.scan_parquet(files), family="binomial")
    with pytest.raises(DataError, match="give its name"):
        fit(FORMULA, files, weights=np.ones(data.height))
    with pytest.raises(ColumnError, match="orthogonal poly"):
        fit("y ~ poly(x, 2) + (1 | g1)", files)
    with pytest.raises(ColumnError, match="several columns"):
        fit("y ~ factor(k + g2) + (1 | g1)", files)


def test_inference_from_the_sums(pair, data, files):
    mem, ooc = pair
    np.testing.assert_allclose(ooc.coefs["DF"], mem.coefs["DF"], rtol=1e-6)
    np.testing.assert_allclose(
        ooc.confint("profile")[["lower", "upper"]], mem.confint("profile")[["lower", "upper"]], rtol=1e-5
    )
    contrast = ooc.contest([0, 1, 0, 0])
    np.testing.assert_allclose(contrast["P-val"], mem.contest([0, 1, 0, 0])["P-val"], rtol=1e-5)
    # Likelihood-ratio comparison: each model a pass of its own.
    small = fit("y ~ x + f + (1 | g1)", files)
    lrt, lrt_mem = mm.compare.anova(small, ooc), mm.compare.anova(fit("y ~ x + f + (1 | g1)", data), mem)
    np.testing.assert_allclose(lrt["Chisq"].fill_null(0), lrt_mem["Chisq"].fill_null(0), rtol=1e-6, atol=1e-8)


def test_bootstrap_from_the_sums(pair):
    mem, ooc = pair
    reps = ooc.bootstrap(n_boot=200, seed=3, progress=False)
    assert reps.height == 200 and reps.null_count().sum_horizontal().item() == 0
    se = mem.coefs["SE"].to_numpy()
    # The replicates scatter around the estimates with the Wald standard errors.
    mean = reps.select(mem.fixed_names).mean().to_numpy().ravel()
    sd = reps.select(mem.fixed_names).std().to_numpy().ravel()
    assert np.all(np.abs(mean - mem.beta) < 4 * se / np.sqrt(200))
    assert np.all((sd > 0.7 * se) & (sd < 1.3 * se))
    again = ooc.bootstrap(n_boot=200, seed=3, progress=False)
    assert again.equals(reps)


def test_factor_levels_and_contrasts_as_in_memory(data, files):
    lazy = pl.scan_parquet(files).with_columns(pl.col("f").cast(pl.Enum(["mid", "lo", "hi"])))
    enum = fit(FORMULA, lazy)
    assert enum.fixed_names == ["(Intercept)", "x", "flo", "fhi"]
    ordered = fit(FORMULA, files, factors={"f": ["hi", "lo"]})
    mem = fit(FORMULA, data, factors={"f": ["hi", "lo"]})
    assert ordered.fixed_names == mem.fixed_names and ordered.warnings == mem.warnings
    np.testing.assert_allclose(ordered.beta, mem.beta, rtol=1e-6)


def test_memory_estimate_refuses_before_the_pass(files, monkeypatch):
    monkeypatch.setattr(base, "available_memory", lambda: 1e3)
    with pytest.raises(DataError, match=r"needs about .* more than the"):
        fit(FORMULA, files)


def test_anova_types_one_and_two_from_the_sums(pair):
    mem, ooc = pair
    for kind in (1, 2):
        np.testing.assert_allclose(
            ooc.anova(type=kind)["F-stat"], mem.anova(type=kind)["F-stat"], rtol=1e-6, err_msg=f"type {kind}"
        )
    with pytest.raises(UnavailableError, match="type=1 or type=2"):
        ooc.anova(type=3)
