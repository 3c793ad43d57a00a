"""The tables a model hands out (coefs, anova, post hoc, model comparison)
print every column whatever polars' display settings, and stay polars
DataFrames for users' code."""

from __future__ import annotations

import pickle

import polars as pl
import pytest

import mixedmodels as mm
from mixedmodels._table import ResultTable


@pytest.fixture(scope="module")
def glmm() -> mm.Glmer:
    m = mm.Lmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mm.load_dataset("cbpp"), family="binomial"
    )
    m.fit(summarize=False)
    return m


@pytest.fixture(scope="module")
def lmm() -> mm.Lmer:
    m = mm.Lmer("Reaction ~ Days + (Days | Subject)", data=mm.load_dataset("sleepstudy"))
    m.fit(summarize=False)
    return m


def _shows_every_column(table: pl.DataFrame) -> None:
    with pl.Config(tbl_cols=3, tbl_rows=2, tbl_width_chars=60):
        before = pl.Config.state()
        text, shown, html = str(table), repr(table), table._repr_html_()
        assert pl.Config.state() == before  # the user's settings are untouched
        plain = str(pl.DataFrame(table))
    assert "…" in plain  # a plain frame hides columns under these settings
    assert "…" not in text and text == shown
    for name in table.columns:
        assert name in text and f"<th>{name}</th>" in html
    for value in table[:, 1].cast(pl.String).to_list():
        assert value[:6] in text  # every row, values at full width


def test_coefs_print_every_column_and_stay_dataframes(glmm, lmm):
    for m in (glmm, lmm):
        assert isinstance(m.coefs, pl.DataFrame) and isinstance(m.coefs, ResultTable)
        _shows_every_column(m.coefs)
        assert m.coefs.equals(pl.DataFrame(m.coefs))
        assert m.coefs["SE"].to_list() == pytest.approx(list((m.vcov.diagonal()) ** 0.5))
        derived = m.coefs.filter(pl.col("term") != "(Intercept)").with_columns(pl.col("SE") * 2)
        assert isinstance(derived, pl.DataFrame) and derived.height == m.coefs.height - 1


def test_fit_returns_the_displayed_table():
    for m in (
        mm.Lm("DV ~ IV1 + IV3", data=mm.load_dataset("sample_data")),
        mm.Lm2("DV ~ IV3 + IV2", group="Group", data=mm.load_dataset("sample_data")),
    ):
        coefs = m.fit(summarize=False)
        assert coefs is m.coefs and isinstance(coefs, ResultTable)


def test_anova_post_hoc_and_comparison_tables_print_whole(glmm, lmm):
    _shows_every_column(lmm.anova())
    estimates, contrasts = glmm.post_hoc("period", summarize=False)
    _shows_every_column(estimates)
    _shows_every_column(contrasts)
    simpler = mm.Lmer("Reaction ~ Days + (1 | Subject)", data=mm.load_dataset("sleepstudy"))
    simpler.fit(summarize=False)
    with pytest.warns(UserWarning, match="refitting model"):
        comparison = mm.anova(simpler, lmm)
    _shows_every_column(comparison)
    _shows_every_column(lmm.ranova())
    _shows_every_column(lmm.contest([0, 1]))


def test_tables_survive_pickling(lmm):
    again = pickle.loads(pickle.dumps(lmm.coefs))
    assert isinstance(again, pl.DataFrame) and again.equals(lmm.coefs)
