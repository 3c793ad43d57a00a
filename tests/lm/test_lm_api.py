"""Lm and Lm2 behaviour: resampling reproducibility, options, errors, tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mixedmodels import ColumnError, DataError, FormulaError, Lm, Lm2

SAMPLE = Path(__file__).parents[1] / "fixtures" / "pymer4" / "sample_data.csv"


@pytest.fixture(scope="module")
def df() -> pl.DataFrame:
    return pl.read_csv(SAMPLE)


def test_permutations_and_bootstrap_are_reproducible_for_a_seed(df: pl.DataFrame) -> None:
    m = Lm("DV ~ IV1 + IV2", data=df)
    a = m.fit(summarize=False, permute=999, conf_int="boot", n_boot=200, seed=5)
    b = m.fit(summarize=False, permute=999, conf_int="boot", n_boot=200, seed=5)
    assert a.equals(b)
    assert a.columns == ["term", "Estimate", "2.5_ci", "97.5_ci", "SE", "Num_perm", "T-stat", "Perm-P-val", "Sig"]
    assert m.sig_type == "permutation (999)" and m.ci_type == "boot (200)"
    c = m.fit(summarize=False, permute=999, seed=6)
    assert not c["Perm-P-val"].equals(a["Perm-P-val"])
    # IV2 is a strong predictor: no permutation of the response reaches its t.
    assert a["Perm-P-val"][2] == pytest.approx(1 / 1000)
    # The bootstrap interval is about the t interval.
    t_int = m.fit(summarize=False)
    assert a["2.5_ci"][2] == pytest.approx(t_int["2.5_ci"][2], rel=0.25)


def test_few_permutations_warn_and_true_is_refused(df: pl.DataFrame) -> None:
    m = Lm("DV ~ IV1", data=df)
    with pytest.warns(UserWarning, match="< 500 permutations"):
        m.fit(summarize=False, permute=100, seed=1)
    with pytest.raises(TypeError, match="number of permutations"):
        m.fit(summarize=False, permute=True)


def test_bad_options_are_named(df: pl.DataFrame) -> None:
    m = Lm("DV ~ IV1", data=df)
    with pytest.raises(DataError, match="robust must be"):
        m.fit(summarize=False, robust="hc4")
    with pytest.raises(DataError, match="cluster="):
        m.fit(summarize=False, robust="cluster")
    with pytest.raises(ColumnError, match="'nope'"):
        m.fit(summarize=False, robust="cluster", cluster="nope")
    with pytest.raises(DataError, match="conf_int"):
        m.fit(summarize=False, conf_int="Wald")
    with pytest.raises(TypeError, match="unknown_option"):
        m.fit(summarize=False, unknown_option=1)
    with pytest.raises(DataError, match="Lmer"):
        Lm("DV ~ IV1 + (1 | Group)", data=df)
    with pytest.raises(FormulaError):
        Lm("DV ~ IV1 +", data=df)
    logit = Lm("DV_l ~ IV1", data=df, family="binomial")
    with pytest.raises(DataError, match="standard parametric inference"):
        logit.fit(summarize=False, robust=True)
    with pytest.raises(DataError, match="family must be"):
        Lm("DV ~ IV1", data=df, family="tweedie")


def test_summary_alias_and_printing(df: pl.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    m = Lm("DV ~ IV1", data=df)
    m.fit(summary=False)
    assert capsys.readouterr().out == ""
    m.fit(robust="hc3")
    out = capsys.readouterr().out
    assert "robust (hc3)" in out and "Residual standard error" in out and "F-statistic" in out


def test_clusters_give_cluster_df_and_hac_lags_change_errors(df: pl.DataFrame) -> None:
    m = Lm("DV ~ IV1 + IV3", data=df)
    m.fit(summarize=False, robust="cluster", cluster="Group")
    assert m.coefs["DF"].to_list() == [47 - 3] * 3
    se1 = m.fit(summarize=False, robust="hac", n_lags=1)["SE"]
    se4 = m.fit(summarize=False, robust="hac", n_lags=4)["SE"]
    assert not np.allclose(se1, se4)


def test_predict_and_missing_rows(df: pl.DataFrame) -> None:
    data = df.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("IV1")).alias("IV1"))
    m = Lm("DV ~ IV1 + IV3", data=data)
    m.fit(summarize=False, no_warnings=True)
    pred = m.predict(data)
    assert np.isnan(pred[3]) and np.allclose(np.delete(pred, 3), m.fits)
    assert m.data["fits"][3] is None
    with pytest.raises(ColumnError, match="IV3"):
        m.predict(data.drop("IV3"))
    logit = Lm("DV_l ~ IV1", data=df, family="binomial")
    logit.fit(summarize=False)
    assert np.allclose(logit.predict(df), logit.data["fit_probs"])
    assert np.allclose(logit.predict(df, pred_type="link"), logit.data["fits"])


def test_to_corrs_against_residualised_correlations(df: pl.DataFrame) -> None:
    m = Lm("DV ~ IV1 + IV2", data=df)
    m.fit(summarize=False)
    x = np.column_stack([np.ones(df.height), df["IV2"].to_numpy()])
    r_iv1 = df["IV1"].to_numpy() - x @ np.linalg.lstsq(x, df["IV1"].to_numpy(), rcond=None)[0]
    y = df["DV"].to_numpy()
    e_y = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    semi = m.to_corrs("semi")
    partial = m.to_corrs("partial", ztrans_corrs=True)
    assert semi["corr"][0] is None
    assert semi["corr"][1] == pytest.approx(np.corrcoef(y, r_iv1)[0, 1], rel=1e-10)
    assert partial["corr"][1] == pytest.approx(np.arctanh(np.corrcoef(e_y, r_iv1)[0, 1]), rel=1e-10)


def test_rank_replaces_numeric_variables_by_ranks(df: pl.DataFrame) -> None:
    ranked = df.with_columns(pl.col("DV").rank("average"), pl.col("IV2").rank("average"))
    m = Lm("DV ~ IV2", data=df)
    m.fit(summarize=False, rank=True)
    direct = Lm("DV ~ IV2", data=ranked).fit(summarize=False)
    np.testing.assert_allclose(m.coefs["Estimate"], direct["Estimate"], rtol=1e-12)
    assert m.ranked_data


def test_lm2_nested_groups_correlations_and_clusters(df: pl.DataFrame) -> None:
    data = df.with_columns(school=(pl.col("Group") % 5).cast(pl.String))
    m = Lm2("DV ~ IV2", data=data, group=["Group", "school"])
    m.fit(summarize=False)
    assert [t.height for t in m.fixef_levels] == [47, 5]
    assert m.coefs["DF"].to_list() == [4.0, 4.0]
    means = m.fixef_levels[0].group_by("school").agg(pl.col("IV2").mean()).sort("school")
    np.testing.assert_allclose(means["IV2"], m.fixef_levels[1]["IV2"], rtol=1e-12)
    single = Lm2("DV ~ IV2", data=data, group="Group")
    single.fit(summarize=False, robust="cluster", cluster="school")
    assert single.coefs["DF"].to_list() == [5 - 1, 5 - 1]
    with pytest.raises(ColumnError, match="spans several clusters"):
        Lm2("DV ~ IV2", data=data, group="school").fit(summarize=False, robust="cluster", cluster="Group")
    corr = Lm2("DV ~ IV1 + IV2", data=data, group="Group")
    corr.fit(summarize=False, to_corrs="partial")
    assert corr.coefs["Estimate"][0] is None or np.isnan(corr.coefs["Estimate"][0])
    assert corr.fixef.columns == ["Group", "IV1", "IV2"]
    z = corr.fixef["IV2"].to_numpy()
    # Fisher z of correlations (NaN in a group where IV1 is constant).
    assert np.isfinite(z).sum() >= 40 and np.all(np.abs(np.tanh(z[np.isfinite(z)])) <= 1)
    assert corr.fits is None


def test_lm2_permutations_on_means_and_t(df: pl.DataFrame) -> None:
    m = Lm2("DV ~ IV2", data=df, group="Group")
    t = m.fit(summarize=False, permute=999, seed=3)
    mean = m.fit(summarize=False, permute=999, perm_on="coef", seed=3)
    assert t["Perm-P-val"][1] == pytest.approx(1 / 1000) and mean["Perm-P-val"][1] == pytest.approx(1 / 1000)
    with pytest.raises(DataError, match="perm_on"):
        m.fit(summarize=False, permute=600, perm_on="median")
    with pytest.raises(TypeError, match="group must be"):
        Lm2("DV ~ IV2", data=df, group=3)  # type: ignore[arg-type]


def test_aliased_group_columns_warn_and_are_left_out() -> None:
    # Group "b" never varies x: its slope cannot be estimated.
    data = pl.DataFrame(
        {
            "y": [1.0, 2.0, 3.1, 4.2, 2.0, 2.5, 2.2, 5.0, 6.1, 7.3, 8.0, 9.4],
            "x": [1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            "g": ["a"] * 4 + ["b"] * 3 + ["c"] * 5,
        }
    )
    m = Lm2("y ~ x", data=data, group="g")
    with pytest.warns(UserWarning, match="'b' \\(x\\)"):
        m.fit(summarize=False)
    assert np.isnan(m.fixef["x"][1])
    assert m.coefs["DF"].to_list() == [2.0, 1.0]


def test_lazy_frames_keep_the_columns_fit_reads(df: pl.DataFrame) -> None:
    lazy = df.lazy()
    assert Lm2("DV ~ IV2", data=lazy, group="Group").fit(summarize=False).height == 2
    m = Lm("DV ~ IV2", data=lazy)
    assert m.fit(summarize=False, robust="cluster", cluster="Group")["DF"][0] == 47 - 2


def test_offsets_are_subtracted_as_lm_does(df: pl.DataFrame) -> None:
    data = df.with_columns(o=2.0 * pl.col("IV2"))
    plain = Lm("DV ~ IV2", data=data).fit(summarize=False)
    for model in (Lm("DV ~ IV2 + offset(o)", data=data), Lm2("DV ~ IV2 + offset(o)", data=data, group="Group")):
        shifted = model.fit(summarize=False)
        if isinstance(model, Lm):
            # lm(DV ~ IV2 + offset(o)): the slope drops by exactly 2
            assert shifted["Estimate"][1] == pytest.approx(plain["Estimate"][1] - 2.0, rel=1e-10)
        np.testing.assert_allclose(model.fits + np.asarray(model.residuals), data["DV"], rtol=1e-12)
        np.testing.assert_allclose(model.offset, data["o"])
