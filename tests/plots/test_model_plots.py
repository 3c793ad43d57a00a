"""The plots draw what the model estimated: rendered with matplotlib's Agg
backend, each test reads the artists back (points, their positions, the ends
of the error bars) and compares them with the model's numbers and lme4's."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import polars as pl
import pytest
from scipy import stats

import mixedmodels as mm
from mixedmodels import plots

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LME4 = Path(__file__).resolve().parents[1] / "fixtures" / "lme4"
REFERENCE = json.loads((LME4 / "sleepstudy_slope_reml.json").read_text())
Z = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def sleep():
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    m.fit(summarize=False)
    return m


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _errorbar(ax):
    """The (center line, error segments) of the errorbar drawn on ``ax``."""
    (container,) = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    line, _, (segments,) = container.lines
    return line, np.asarray(segments.get_segments())


def test_forest_plot_draws_estimates_intervals_and_group_coefficients(sleep):
    ax = plots.plot_summary(sleep)
    line, segments = _errorbar(ax)
    assert np.asarray(line.get_xdata()) == pytest.approx(sleep.coefs["Estimate"].to_numpy())
    assert np.asarray(line.get_ydata()) == pytest.approx([0, 1])
    assert segments[:, 0, 0] == pytest.approx(sleep.coefs["2.5_ci"].to_numpy())
    assert segments[:, 1, 0] == pytest.approx(sleep.coefs["97.5_ci"].to_numpy())
    # lme4's Wald intervals
    assert segments[:, 0, 0] == pytest.approx([r["lower"] for r in REFERENCE["confint_wald"]], rel=1e-6)
    points = [c for c in ax.collections if c.get_label() == "_groups"]
    assert len(points) == 2 and all(len(np.asarray(p.get_offsets())) == 18 for p in points)
    for p, term in zip(points, ["(Intercept)", "Days"], strict=True):
        assert np.sort(np.asarray(p.get_offsets())[:, 0]) == pytest.approx(
            np.sort(sleep.fixef["Subject"][term].to_numpy())
        )
    assert [t.get_text() for t in ax.get_yticklabels()] == ["(Intercept)", "Days"]


def test_forest_plot_options(sleep):
    ax = plots.plot_summary(sleep, error_bars="se", plot_intercept=False, ranef=False, orient="h", axlim=(-5, 20))
    line, segments = _errorbar(ax)
    se = sleep.coefs["SE"][1]
    assert np.asarray(line.get_ydata()) == pytest.approx([sleep.coefs["Estimate"][1]])
    assert segments[0, :, 1] == pytest.approx([sleep.coefs["Estimate"][1] - se, sleep.coefs["Estimate"][1] + se])
    assert not [c for c in ax.collections if c.get_label() == "_groups"]
    assert ax.get_ylim() == (-5, 20)
    _, given = plt.subplots()
    assert plots.plot_summary(sleep, ax=given) is given
    with pytest.raises(ValueError, match="orient"):
        plots.plot_summary(sleep, orient="x")
    with pytest.raises(ValueError, match="grouping factors"):
        plots.plot_summary(sleep, ranef_idx=3)


def test_forest_plot_of_a_glmm():
    cbpp = mm.Lmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mm.load_dataset("cbpp"), family="binomial"
    )
    cbpp.fit(summarize=False)
    line, segments = _errorbar(cbpp.plot_summary())
    assert np.asarray(line.get_xdata()) == pytest.approx(cbpp.coefs["Estimate"].to_numpy())
    assert segments[:, 1, 0] == pytest.approx(cbpp.coefs["97.5_ci"].to_numpy())


def test_group_lines_and_population_interval(sleep):
    ax = plots.plot_lines(sleep, "Days", grps=["308", "309"])
    group_lines = [line for line in ax.lines if line.get_label() != "population"]
    (population,) = [line for line in ax.lines if line.get_label() == "population"]
    x = np.arange(10)
    table = sleep.fixef["Subject"]
    for line, level in zip(group_lines, ["308", "309"], strict=True):
        row = table.row(by_predicate=pl.col("level") == level, named=True)
        assert np.asarray(line.get_ydata()) == pytest.approx(row["(Intercept)"] + row["Days"] * x)
    b, v = sleep.beta, sleep.vcov
    assert np.asarray(population.get_ydata()) == pytest.approx(b[0] + b[1] * x)
    band = ax.collections[0].get_paths()[0].vertices
    se = np.sqrt(v[0, 0] + 2 * x * v[0, 1] + x**2 * v[1, 1])
    upper_at_9 = band[np.isclose(band[:, 0], 9), 1]
    assert upper_at_9.max() == pytest.approx(b[0] + 9 * b[1] + Z * se[9])
    assert upper_at_9.min() == pytest.approx(b[0] + 9 * b[1] - Z * se[9])
    assert len(plots.plot_lines(sleep, "Days", grps=[0, 1, 2], plot_ci=False).lines) == 4
    assert len(sleep.plot("Days").lines) == 19
    with pytest.raises(ValueError, match="not a fixed-effects column"):
        plots.plot_lines(sleep, "Weeks")


def test_caterpillar_matches_lme4_condvar(sleep):
    fig = plots.plot_ranef(sleep)
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == ["Subject: (Intercept)", "Subject: Days"]
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    for a, term in zip(axes, ["(Intercept)", "Days"], strict=True):
        line, segments = _errorbar(a)
        modes = {r["level"]: (r["condval"], r["condsd"]) for r in REFERENCE["ranef"] if r["term"] == term}
        expected = np.array([modes[level][0] for level in labels])
        half = np.array([Z * modes[level][1] for level in labels])
        assert np.asarray(line.get_xdata()) == pytest.approx(expected, abs=1e-3)  # lme4's condval
        assert segments[:, 1, 0] - segments[:, 0, 0] == pytest.approx(2 * half, rel=1e-4)  # lme4's condsd
        if term == "(Intercept)":  # levels sorted by the intercepts, as lme4's dotplot sorts them
            assert np.all(np.diff(expected) >= 0)
    with pytest.raises(ValueError, match="not a grouping factor"):
        plots.plot_ranef(sleep, group="Days")


def test_profile_plot_draws_the_zeta_traces_and_the_profile_intervals(sleep):
    fig = plots.plot_profile(sleep)
    lme4 = {r["term"]: (r["lower"], r["upper"]) for r in REFERENCE["confint_profile"]}
    table = sleep.confint(method="profile")
    traces = sleep.profile()
    z = Z
    axes = [a for a in fig.axes if a.get_visible()]
    assert (
        [a.get_title() for a in axes] == table["term"].to_list() == traces["term"].unique(maintain_order=True).to_list()
    )
    for a, (term, lower, upper) in zip(axes, table.iter_rows(), strict=True):
        trace = traces.filter(pl.col("term") == term)
        x, zeta = trace["value"].to_numpy(), trace["zeta"].to_numpy()
        assert np.all(np.diff(x) > 0) and np.all(np.diff(zeta) > 0)  # a profile's zeta rises with the parameter
        # the interval's ends are where the trace crosses -+z (lme4's confint(profile(m)))
        assert np.interp([-z, z], zeta, x) == pytest.approx([lower, upper], rel=1e-6)
        if term in lme4:
            assert [lower, upper] == pytest.approx(list(lme4[term]), rel=1e-3)
        (line,) = [line for line in a.lines if line.get_label() == "profile"]
        drawn = np.column_stack([line.get_xdata(), line.get_ydata()])
        assert drawn == pytest.approx(np.column_stack([x, zeta])[np.abs(zeta) <= 1.3 * z])
        (ends,) = [c for c in a.collections if c.get_label() == "interval"]
        assert [seg[0, 0] for seg in ends.get_segments()] == pytest.approx([lower, upper])
        assert [seg[1, 1] for seg in ends.get_segments()] == pytest.approx([-z, z])
        wald = [line for line in a.lines if line.get_label() == "Wald"]
        assert len(wald) == (term in sleep.fixed_names)
    (estimate,) = [line for line in axes[-1].lines if line.get_label() == "estimate"]
    assert estimate.get_xdata()[0] == pytest.approx(sleep.beta[1])
    glmm = mm.Lmer("incidence ~ period + (1 | herd)", data=mm.load_dataset("cbpp"), family="poisson")
    glmm.fit(summarize=False)
    with pytest.raises(mm.DataError, match="linear mixed models only"):
        mm.intervals.profile(glmm)


def test_residual_diagnostics(sleep):
    fig = plots.plot_diagnostics(sleep)
    fitted_vs, qq, scale = fig.axes
    assert fitted_vs.collections[0].get_offsets().data == pytest.approx(np.column_stack([sleep.fits, sleep.residuals]))
    standardized = np.asarray(sleep.residuals(type="pearson")) / sleep.sigma
    n = len(standardized)
    theoretical = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)  # R's ppoints for n > 10
    assert qq.collections[0].get_offsets().data == pytest.approx(np.column_stack([theoretical, np.sort(standardized)]))
    assert scale.collections[0].get_offsets().data[:, 1] == pytest.approx(np.sqrt(np.abs(standardized)))
    assert plots.residuals.ppoints(5) == pytest.approx((np.arange(1, 6) - 3 / 8) / (5 + 1 - 3 / 4))
    with pytest.raises(ValueError, match="3 panels"):
        plots.plot_diagnostics(sleep, ax=plt.subplots(1, 2)[1])


def test_two_stage_model_forest_plot():
    lm2 = mm.Lm2("DV ~ IV2", group="Group", data=mm.load_dataset("sample_data"))
    lm2.fit(summarize=False)
    ax = lm2.plot_summary()
    line, segments = _errorbar(ax)
    assert np.asarray(line.get_xdata()) == pytest.approx(lm2.coefs["Estimate"].to_numpy())
    assert segments[:, 0, 0] == pytest.approx(lm2.coefs["2.5_ci"].to_numpy())
    points = [c for c in ax.collections if c.get_label() == "_groups"]
    assert len(points) == 2
    assert np.sort(np.asarray(points[1].get_offsets())[:, 0]) == pytest.approx(np.sort(lm2.fixef["IV2"].to_numpy()))
