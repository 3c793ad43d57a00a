"""Group deletion and group cross-validation of an out-of-core fit (a model
fitted from a LazyFrame, files, a Dask or Spark DataFrame), from the
per-group pieces of its reduced statistics: no second pass over the rows.

Deleting level g of a grouping factor subtracts the rows of g from every sum
they entered: the blocks of g's own random effects (which are g's rows
only), the sums of each term of another factor over its cells with g, the
blocks between two terms of other factors over g's rows (sums over triples
of levels), all summed by the pass beside the fit's sums, and g's own
[X y]'W[X y], count and log weights. The downdated system is then refitted (``approx=False``)
or refactored at the fitted parameters (``approx=True``, HLMdiag's one-step
measures) by the same core code as in memory, so the numbers agree with an
in-memory fit's to rounding. A held-out group's squared prediction error,
sum (y - X beta)^2, is a quadratic form in its sums of [X y] products.

What needs the rows is refused, saying why: observation-level influence
and leverage, observation folds, the mean absolute error and score
functions (each needs every held-out row's error) and per-row predictions.
The pass forms the pieces as ``fit(group_sums=...)`` says (by default when
they take at most ``mixedmodels.sources.base.GROUP_SUMS_MAX_BYTES``).
``diagnostics`` and ``cross_validation`` call this module for out-of-core
models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from mixedmodels import _core
from mixedmodels.exceptions import DataError

__all__ = ["cross_validate_groups", "influence_groups", "level_labels"]

MEASURES = ("cooksd", "mdffits", "covtrace", "covratio")


def level_labels(model: Any, group: str) -> tuple[pl.Series, int]:
    """A grouping factor's levels (in its data column's type where polars
    gives the source's schema) and their number."""
    levels = next(t.levels for t in model.random_terms if t.group == group)
    labels = pl.Series(group, [str(v) for v in levels], dtype=pl.String)
    data = model.data
    if isinstance(data, pl.LazyFrame):
        dtype = data.collect_schema().get(group)
        if dtype is not None and (dtype.is_numeric() or dtype == pl.Boolean):
            labels = labels.cast(dtype)
    return labels, len(levels)


def influence_groups(model: Any, group: str | None, approx: bool, leverage: list[str] | None) -> pl.DataFrame:
    """``m.influence(level=group)`` of an out-of-core fit (see the module)."""
    if group is None:
        raise DataError(
            "observation-level influence (level=1) deletes single rows: an out-of-core fit holds sums by level "
            "of its grouping factors, not each row's share; use level=<grouping factor>, or fit in memory"
        )
    if leverage:
        raise DataError(
            "leverage is the diagonal of the hat matrix, one value a row: an out-of-core fit does not compute it "
            "from its sums; use leverage=() (the deletion measures work), or fit in memory"
        )
    values = _core.influence_groups_sums(model.core, group, not approx)
    columns = {m: np.asarray(values[m]) for m in MEASURES}
    if not approx:
        rvc = np.asarray(values["rvc"])
        for j, name in enumerate(values["rvc_names"]):
            columns[f"rvc.{name}"] = rvc[:, j]
    labels, _ = level_labels(model, group)
    return pl.DataFrame([labels]).with_columns(pl.DataFrame(columns)).fill_nan(None)


def cross_validate_groups(
    model: Any, group: str, fold_levels: list[list[int]], scores: list[str], reml: bool
) -> tuple[dict[str, list[float]], list[int], list[bool], dict[str, float]]:
    """Group folds of an out-of-core fit: each fold's scores, rows and
    convergence, and the scores pooled over every held-out row."""
    unavailable = [s for s in scores if s not in ("rmse", "r2")]
    if unavailable:
        raise DataError(
            f"scores {', '.join(unavailable)} of an out-of-core fit: only rmse and r2 come from the sums "
            "(squared errors expand into sums of products of the held-out rows); the others need each "
            "held-out row's error"
        )
    got = _core.cross_validate_groups_sums(model.core, group, fold_levels, reml)
    n, sse = np.asarray(got["n"]), np.asarray(got["sse"])
    sum_y, sum_y2 = np.asarray(got["sum_y"]), np.asarray(got["sum_y2"])
    if "r2" in scores and np.isnan(sum_y).any():
        raise DataError(
            "r2 of an out-of-core fit with offsets: the sums hold the response less its offsets, so the "
            "observed response's spread is not known; use rmse"
        )
    ok = np.isfinite(sse)
    per_fold: dict[str, list[float]] = {}
    pooled: dict[str, float] = {}
    for s in scores:
        if s == "rmse":
            per_fold[s] = list(np.sqrt(sse / n))
            pooled[s] = float(np.sqrt(sse[ok].sum() / n[ok].sum()))
        else:
            per_fold[s] = list(1.0 - sse / (sum_y2 - sum_y**2 / n))
            total = sum_y2[ok].sum() - sum_y[ok].sum() ** 2 / n[ok].sum()
            pooled[s] = float(1.0 - sse[ok].sum() / total)
    return per_fold, [round(v) for v in n], list(got["converged"]), pooled
