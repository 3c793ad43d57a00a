"""Group deletion influence and group cross-validation of out-of-core fits,
from the per-group pieces of the reduced statistics (no second pass):
every measure of `influence(level=g)` (one-step and exact, with the
relative variance changes) and every fold's and the pooled scores of
`cross_validate(group=g)` must be the in-memory fit's, for crossed and
nested factors, random slopes, weights, several factors' terms of one
factor, two or more terms of other factors than the deleted one (the
triple pieces), and offsets (rmse only); what needs the rows is refused
saying why. ``fit(group_sums=...)`` forms the pieces or not, as asked.

Agreement: 1e-8 relative, value by value (with a floor of 1e-10 of the
column's largest value for values near zero). Measured when written: one-step
measures 5e-13, exact refits' measures 4e-11, their rvc 2.4e-10 (the refits'
optima), CV scores 7e-12.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import polars as pl
import pytest
from outofcore_data import make_data, write_parquet

import mixedmodels as mm
from mixedmodels.sources import base

RTOL = 1e-8

# (formula, fit arguments, grouping factors to delete)
CASES = [
    ("y ~ x + f + (1 | g1) + (1 | g2)", {}, ["g1", "g2"]),
    ("y ~ x + (1 | school/class)", {"weights": "w"}, ["school", "class:school"]),
    ("y ~ x * f + (x | g1) + (1 | g2)", {"contrasts": {"f": "sum"}, "weights": "w"}, ["g2", "g1"]),
    ("y ~ x + offset(o) + (1 | g1) + (0 + x | g1)", {}, ["g1"]),
    # Two terms of another factor (their block over the deleted rows: a triple table keyed by two factors).
    ("y ~ x + (1 | g2) + (x || g1)", {"weights": "w"}, ["g2", "g1"]),
    # Terms of two other factors, one with a slope (triples of levels).
    ("y ~ x + f + (x | g1) + (1 | g2) + (1 | school)", {"weights": "w"}, ["g1", "g2", "school"]),
]


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return make_data(n=1500)


@pytest.fixture(scope="module")
def parquet(data, tmp_path_factory) -> str:
    return write_parquet(data, str(tmp_path_factory.mktemp("groups")), parts=3)


def fit(formula: str, data, kw: dict) -> mm.Lmer:
    m = mm.Lmer(formula, data=data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(summarize=False, no_warnings=True, **kw)
    return m


@pytest.fixture(scope="module")
def pairs(data, parquet):
    return [(fit(f, data, kw), fit(f, parquet, kw)) for f, kw, _ in CASES]


def same(a, b, what: str) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    floor = 1e-10 * np.max(np.abs(a))
    rel = np.abs(a - b) / np.maximum(np.abs(a), floor)
    assert np.all(np.isfinite(b)) and np.max(rel) <= RTOL, (what, np.max(rel))
    return float(np.max(rel))


def same_table(mem: pl.DataFrame, ooc: pl.DataFrame, key: str) -> None:
    assert mem.columns == ooc.columns
    assert mem[key].cast(pl.String).to_list() == ooc[key].cast(pl.String).to_list()
    for column in mem.columns[1:]:
        same(mem[column], ooc[column], column)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_influence_by_group(pairs, i):
    mem, ooc = pairs[i]
    assert ooc.engine == "polars"
    for group in CASES[i][2]:
        for approx in (True, False):
            a = mem.influence(level=group, approx=approx, leverage=())
            b = ooc.influence(level=group, approx=approx)  # no leverage by default out of core
            same_table(a, b, group)
            if not approx:
                assert any(c.startswith("rvc.") for c in b.columns)


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_cross_validation_by_group(pairs, i):
    mem, ooc = pairs[i]
    scoring = ["rmse"] if "offset" in CASES[i][0] else ["rmse", "r2"]
    for group in CASES[i][2]:
        for folds in (None, 3):
            a = mem.cross_validate(group=group, folds=folds, seed=5, scoring=scoring)
            b = ooc.cross_validate(group=group, folds=folds, seed=5, scoring=scoring)
            assert b.predictions is None
            assert str(a.folds[group].to_list()) == str(b.folds[group].to_list())
            assert a.folds["n"].to_list() == b.folds["n"].to_list()
            for s in scoring:
                same(a.folds[s], b.folds[s], f"{group} {folds} {s}")
                same([a.scores[s]], [b.scores[s]], f"{group} {folds} pooled {s}")
            assert b.folds["converged"].all()


def test_what_needs_the_rows_is_refused(pairs):
    ooc = pairs[0][1]
    attempts = {
        "single rows": lambda: ooc.influence(),
        "hat matrix": lambda: ooc.influence(level="g1", leverage="overall"),
        "observation folds": lambda: ooc.cross_validate(split="observation", folds=3),
        "each held-out row's error": lambda: ooc.cross_validate(group="g1", scoring="mae"),
        "prediction, which": lambda: ooc.cross_validate(group="g1", scoring=lambda y, yhat: 0.0),
        "grouping factors": lambda: ooc.cross_validate(group="f"),
    }
    for words, attempt in attempts.items():
        with pytest.raises(mm.exceptions.DataError, match=words):
            attempt()
    offset = pairs[3][1]
    with pytest.raises(mm.exceptions.DataError, match="offsets"):
        offset.cross_validate(group="g1", scoring="r2")


def test_pieces_not_kept_above_the_limit(parquet, monkeypatch):
    monkeypatch.setattr(base, "GROUP_SUMS_MAX_BYTES", 0.0)
    m = fit("y ~ x + (1 | g1) + (1 | g2)", parquet, {})
    with pytest.raises(mm.exceptions.DataError, match=r"fit\(group_sums=True\)"):
        m.cross_validate(group="g1")


def test_group_sums_argument(data, parquet, monkeypatch):
    monkeypatch.setattr(base, "GROUP_SUMS_MAX_BYTES", 0.0)
    formula = "y ~ x + (1 | g1) + (1 | g2)"
    asked = fit(formula, parquet, {"group_sums": True})  # formed above the automatic limit
    assert asked.cross_validate(group="g1", folds=3, seed=1).scores["rmse"] > 0
    monkeypatch.setattr(base, "GROUP_SUMS_MAX_BYTES", 1e12)
    refused = fit(formula, parquet, {"group_sums": False})  # not formed under it
    with pytest.raises(mm.exceptions.DataError, match="group_sums"):
        refused.influence(level="g1")
    for bad in ("yes", 1, [True]):
        with pytest.raises(mm.exceptions.DataError, match="group_sums must be"):
            mm.Lmer(formula, data=parquet).fit(summarize=False, group_sums=bad)
    with pytest.raises(mm.exceptions.DataError, match="out-of-core fits"):
        mm.Lmer(formula, data=data).fit(summarize=False, group_sums=True)


def test_group_sums_counted_by_the_memory_check(parquet, monkeypatch):
    needs: list[float] = []
    check = base.check_memory

    def recording(plan, n):
        needs.append(plan.memory_estimate(n, os.cpu_count() or 1)[0])
        check(plan, n)

    monkeypatch.setattr(base, "check_memory", recording)
    formula = "y ~ x + (1 | g1) + (1 | g2)"
    for asked in (False, True):
        fit(formula, parquet, {"group_sums": asked})
    without, with_pieces = needs
    assert with_pieces > without
    monkeypatch.setattr(base, "available_memory", lambda: (without + with_pieces) / 2)
    with pytest.raises(mm.exceptions.DataError, match="reduced system needs"):
        fit(formula, parquet, {"group_sums": True})
    fit(formula, parquet, {"group_sums": False})
