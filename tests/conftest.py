"""Shared fixtures: lme4 reference values (tests/fixtures/lme4) and the data
preparation each reference case applied in R (its `r_prep`), redone with polars."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import mixedmodels as mm

FIXTURES = Path(__file__).parent / "fixtures" / "lme4"


def load_reference(case: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{case}.json").read_text())


def as_list(x: Any) -> list[Any]:
    """jsonlite writes length-1 vectors as scalars."""
    return x if isinstance(x, list) else [x]


def _ordered_days(d: pl.DataFrame) -> pl.DataFrame:
    levels = [str(v) for v in sorted(d["Days"].unique().to_list())]
    return d.with_columns(pl.col("Days").cast(pl.String).cast(pl.Enum(levels)).alias("Dayf"))


# The R `prep` of each case, in polars (see tests/fixtures/lme4/cases_extra.R).
PREP = {
    "sleepstudy_days_ordered": _ordered_days,
    "sleepstudy_weights": lambda d: d.with_columns(w=1.0 + (pl.col("Days") % 3)),
}

# fit() options reproducing each case's R call.
FIT_OPTIONS: dict[str, dict[str, Any]] = {
    "sleepstudy_days_ordered": {"ordered": True, "factors": {"Dayf": [str(i) for i in range(10)]}},
    "sleepstudy_weights": {"weights": "w"},
    "machines_sum": {"contrasts": {"Machine": "sum"}},
    "machines_helmert": {"contrasts": {"Machine": "helmert"}},
    "machines_custom": {"contrasts": {"Machine": np.array([[-1, 0], [0.5, -1], [0.5, 1]])}},
    "dietox_evit_relevel": {"factors": {"Evit": ["Evit100", "Evit000", "Evit200"]}},
}


def case_data(ref: dict[str, Any]) -> pl.DataFrame:
    d = mm.load_dataset(ref["data"].removesuffix(".csv"))
    prep = PREP.get(ref["id"])
    return prep(d) if prep else d


def fit_case(case: str, **extra: Any) -> tuple[mm.Lmer, dict[str, Any]]:
    ref = load_reference(case)
    m = mm.Lmer(ref["formula"], data=case_data(ref))
    opts = {**FIT_OPTIONS.get(case, {}), **extra}
    m.fit(REML=bool(ref["REML"]), summarize=False, no_warnings=True, **opts)
    return m, ref


@pytest.fixture(scope="session")
def reference():
    return load_reference
