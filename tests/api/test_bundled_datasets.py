"""The bundled datasets keep R's factor level orders: a factor whose order in
R is not the sorted one (cbpp's herd 1, ..., 15 rather than 1, 10, 11, ...) is
a polars Enum in R's order, so ranef tables and reference levels read as
lme4's. R's orders are in tools/dataset_levels.json (tools/dataset_levels.R)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import mixedmodels as mm

ROOT = Path(__file__).resolve().parents[2]
LEVELS = json.loads((ROOT / "tools" / "dataset_levels.json").read_text())
FIXTURES = ROOT / "tests" / "fixtures" / "lme4"


def _r_levels(column: pl.Series, order: str | list[str]) -> list[str]:
    if order == "numeric":
        return sorted(column.drop_nulls().unique().to_list(), key=float)
    return list(order)


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_factor_columns_have_r_level_order(name: str) -> None:
    data = mm.load_dataset(name)
    for column, spec in LEVELS[name].items():
        levels = _r_levels(data[column].cast(pl.String), spec["order"])
        dtype = data.schema[column]
        if levels == sorted(levels):
            assert dtype == pl.String, (name, column)
        else:
            assert isinstance(dtype, pl.Enum), (name, column)
            assert dtype.categories.to_list() == levels, (name, column)


def test_cbpp_random_effects_are_listed_in_lme4s_order() -> None:
    reference = json.loads((FIXTURES / "cbpp_binomial.json").read_text())
    m = mm.Lmer(reference["formula"], data=mm.load_dataset("cbpp"), family="binomial")
    m.fit(summarize=False)
    herd = m.ranef["herd"]
    assert herd["level"].to_list() == [str(i) for i in range(1, 16)]
    assert herd["level"].to_list() == [r["level"] for r in reference["ranef"]]
    assert herd["(Intercept)"].to_list() == pytest.approx([r["condval"] for r in reference["ranef"]], rel=1e-3)


def test_chem97_gender_reference_level_is_rs() -> None:
    data = mm.load_dataset("chem97").head(3000)
    m = mm.Lm("score ~ gender", data=data)
    m.fit(summarize=False)
    assert m.fixed_names == ["(Intercept)", "genderF"]  # R's levels: M, F
