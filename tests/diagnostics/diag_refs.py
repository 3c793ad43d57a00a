"""Helpers of the diagnostics tests: HLMdiag and lme4 references
(tests/fixtures/diagnostics, made by diaggen.R and diaggen_extra.R)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import mixedmodels as mm

DIAGNOSTICS = Path(__file__).parents[1] / "fixtures" / "diagnostics"


def diag_reference(case: str) -> dict[str, Any]:
    return json.loads((DIAGNOSTICS / f"{case}.json").read_text())


def fit_reference(case: str) -> tuple[mm.Lmer, dict[str, Any]]:
    ref = diag_reference(case)
    data = mm.load_dataset(ref["data"].removesuffix(".csv"))
    m = mm.Lmer(ref["formula"], data=data)
    m.fit(summarize=False, no_warnings=True)
    return m, ref


def by_label(table: pl.DataFrame, key: str, labels: list[Any], column: str) -> np.ndarray:
    """A column of ``table`` in the order of ``labels`` of its ``key`` column."""
    index = {str(v): i for i, v in enumerate(table[key].to_list())}
    values = table[column].cast(pl.Float64).to_numpy()
    return np.array([values[index[str(label)]] for label in labels])


@functools.cache
def sleepstudy_fit() -> tuple[mm.Lmer, dict[str, Any]]:
    """The sleepstudy case, fitted once for every module that asks."""
    return fit_reference("sleepstudy_diag")
