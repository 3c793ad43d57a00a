"""Cross-validation of mixed models (``m.cross_validate()``): the model
refitted without each fold in the Rust core (in parallel; linear models on
their downdated cross-products, warm-started at the fitted parameters) and
the fold's rows predicted from the refit.

- ``split="group"`` (default): whole levels of a grouping factor are held
  out, one a fold (``folds=None``) or ``folds=k`` folds of shuffled levels.
  Their random effects are unknown, so they are predicted at the population
  level (R's ``predict(re.form = NA)``).
- ``split="observation"``: ``folds=k`` folds of shuffled rows, predicted with
  the refit's random effects of their levels.

Scores pool every held-out row (RMSE = sqrt(total squared error / n)); each
fold's are in :attr:`CVResult.folds`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from mixedmodels import _core, group_sums
from mixedmodels._args import seed_value, whole_number
from mixedmodels._progress import run_in_chunks
from mixedmodels.diagnostics import level_values, model_warning
from mixedmodels.exceptions import DataError

__all__ = ["SCORES", "CVResult", "cross_validate"]

SCORES = ("rmse", "mae", "r2", "deviance", "log_loss", "brier")
"""The built-in scores: rmse, mae, r2 (any model), deviance (generalized
models: the family's mean deviance), log_loss and brier (binomial models)."""

Scorer = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class CVResult:
    """The result of :func:`cross_validate`.

    ``folds``: one row a fold: the held-out level(s) in a column named after
    the grouping factor (a list of levels for k folds) or the fold number
    (``fold``, observation split), ``n`` (held-out rows), ``converged`` (of
    the refit), and one column a score. ``scores``: each score over every
    held-out row. ``predictions``: one row a row of the fit: ``row`` (its
    position in the data), ``fold``, the observed ``y`` and the out-of-fold
    ``prediction``; None for an out-of-core fit (its rows stay in the source).
    """

    folds: pl.DataFrame
    scores: dict[str, float]
    predictions: pl.DataFrame | None


def cross_validate(
    model: Any,
    group: str | None = None,
    folds: int | None = None,
    scoring: str | Scorer | Sequence[str | Scorer] = ("rmse",),
    seed: int | None = None,
    refit: str = "REML",
    split: str = "group",
    progress: bool | None = None,
) -> CVResult:
    """Group-level (or observation-level) cross-validation; see the module's
    description. ``group``: a grouping factor of the model or a column of the
    data (default: the model's only grouping factor). ``scoring``: built-in
    score names (:data:`SCORES`) and functions ``(y, yhat) -> float``.
    ``refit``: ``"REML"`` or ``"ML"`` for the training fits of a linear model
    (a generalized model is refitted by its own criterion). ``seed`` fixes the
    shuffle of k folds (None: a random one).

    An out-of-core fit (``m.streamed``) holds out whole levels of one of its
    grouping factors and scores them from its reduced statistics
    (:mod:`mixedmodels.group_sums`): rmse and r2, the same folds and numbers
    as in memory, no ``predictions``."""
    model._check_fitted()
    scorers = _scorers(scoring)
    if refit not in ("REML", "ML"):
        raise DataError(f"refit must be 'REML' or 'ML', not {refit!r}")
    if split not in ("group", "observation"):
        raise DataError(f"split must be 'group' or 'observation', not {split!r}")
    k = None if folds is None else whole_number(folds, "folds", minimum=2)
    seed = seed_value(seed)
    if model.streamed:
        return _streamed(model, group, k, scorers, seed, refit == "REML", split)
    if split == "observation":
        if k is None:
            raise DataError("observation folds need a number of folds: folds=k")
        if group is not None:
            raise DataError("group= chooses the groups of split='group'; observation folds ignore it")
        rows = [list(f) for f in _core.cv_row_folds(model.nobs, k, seed)]
        key = pl.DataFrame({"fold": np.arange(1, len(rows) + 1)})
    else:
        name = _group_name(model, group)
        codes, levels = _group_codes(model, name)
        fold_levels, rows = _core.cv_group_folds(codes, len(levels), k, seed)
        values = level_values(model, name, levels).to_list()
        labels = [[values[i] for i in f] for f in fold_levels]
        key = pl.DataFrame({name: [f[0] for f in labels] if k is None else labels})
    core = model.core
    parts = run_in_chunks(
        rows,
        lambda chunk: _core.cross_validate(core, chunk, split == "observation", refit == "REML"),
        "cross-validation",
        progress,
    )
    predictions = [p for part in parts for p in part[0]]
    converged = [c for part in parts for c in part[1]]
    failed = sum(bool(np.isnan(np.asarray(p)).all()) for p in predictions)
    if failed:
        model_warning(
            f"{failed} of {len(rows)} training refits failed (the rows left do not identify the fixed effects, "
            "e.g. a factor level only the held-out rows have): their predictions are null and the scores leave "
            "them out"
        )
    y, w = (np.asarray(a) for a in _core.cv_response(core))
    fold_scores: dict[str, list[float]] = {s: [] for s in scorers}
    for fold, pred in zip(rows, predictions, strict=True):
        idx = np.asarray(fold)
        for s, f in scorers.items():
            fold_scores[s].append(_score(core, s, f, y[idx], np.asarray(pred), w[idx]))
    order = np.concatenate([np.asarray(f) for f in rows])
    yhat = np.concatenate([np.asarray(p) for p in predictions])
    kept = order[np.isfinite(yhat)]  # rows of failed refits left out
    scores = {s: _score(core, s, f, y[kept], yhat[np.isfinite(yhat)], w[kept]) for s, f in scorers.items()}
    table = key.with_columns(
        pl.Series("n", [len(f) for f in rows], dtype=pl.Int64),
        pl.Series("converged", converged, dtype=pl.Boolean),
        *(pl.Series(s, v, dtype=pl.Float64) for s, v in fold_scores.items()),
    )
    fold_of = np.concatenate([np.full(len(f), i + 1) for i, f in enumerate(rows)])
    by_row = np.argsort(order, kind="stable")
    per_row = pl.DataFrame(
        {
            "row": model.fit_rows[order][by_row],
            "fold": fold_of[by_row],
            "y": y[order][by_row],
            "prediction": yhat[by_row],
        }
    )
    return CVResult(folds=table.fill_nan(None), scores=scores, predictions=per_row.fill_nan(None))


def _streamed(
    model: Any, group: str | None, k: int | None, scorers: dict[str, Scorer | None], seed: int, reml: bool, split: str
) -> CVResult:
    """Group folds of an out-of-core fit, scored from its sums."""
    if split == "observation":
        raise DataError(
            "observation folds hold out single rows: an out-of-core fit holds sums by level of its grouping "
            "factors, not each row's share; use split='group', or fit in memory"
        )
    custom = [name for name, f in scorers.items() if f is not None]
    if custom:
        raise DataError(
            f"score functions ({', '.join(custom)}) need each held-out row's prediction, which an out-of-core fit "
            "does not form: use 'rmse' or 'r2'"
        )
    groups = list(dict.fromkeys(t.group for t in model.random_terms))
    if group is not None and group not in groups:
        raise DataError(
            f"group {group!r}: an out-of-core fit holds out levels of its grouping factors ({', '.join(groups)}), "
            "whose sums it has; other columns need the rows"
        )
    name = _group_name(model, group)
    labels, nlevels = group_sums.level_labels(model, name)
    fold_levels, _ = _core.cv_group_folds(np.arange(nlevels, dtype=np.uint32), nlevels, k, seed)
    fold_levels = [list(f) for f in fold_levels]
    per_fold, n, converged, pooled = group_sums.cross_validate_groups(model, name, fold_levels, list(scorers), reml)
    failed = sum(not np.isfinite(v) for v in per_fold[next(iter(per_fold))])
    if failed:
        model_warning(f"{failed} of {len(fold_levels)} training refits failed: the scores leave them out")
    values = labels.to_list()
    key_values = [[values[i] for i in f] for f in fold_levels]
    key = pl.DataFrame({name: [f[0] for f in key_values] if k is None else key_values})
    table = key.with_columns(
        pl.Series("n", n, dtype=pl.Int64),
        pl.Series("converged", converged, dtype=pl.Boolean),
        *(pl.Series(s, v, dtype=pl.Float64) for s, v in per_fold.items()),
    )
    return CVResult(folds=table.fill_nan(None), scores=pooled, predictions=None)


def _scorers(scoring: Any) -> dict[str, Scorer | None]:
    """Score name -> None (built-in) or the function."""
    items = [scoring] if isinstance(scoring, str) or callable(scoring) else list(scoring)
    if not items:
        raise DataError("scoring needs at least one score")
    out: dict[str, Scorer | None] = {}
    for s in items:
        if isinstance(s, str):
            if s not in SCORES:
                raise DataError(f"unknown score {s!r}: use {', '.join(SCORES)} or a function (y, yhat) -> float")
            out[s] = None
        elif callable(s):
            out[getattr(s, "__name__", f"score_{len(out) + 1}")] = s
        else:
            raise DataError(f"a score is a name or a function (y, yhat) -> float, not {s!r}")
    return out


def _score(core: Any, name: str, f: Scorer | None, y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    if f is None:
        return float(
            _core.cv_score(core, name, np.ascontiguousarray(y), np.ascontiguousarray(yhat), np.ascontiguousarray(w))
        )
    return float(f(y, yhat))


def _group_name(model: Any, group: str | None) -> str:
    groups = list(dict.fromkeys(t.group for t in model.random_terms))
    if group is None:
        if len(groups) != 1:
            raise DataError(f"the model has several grouping factors ({', '.join(groups)}): choose one with group=")
        return groups[0]
    if not isinstance(group, str):
        raise DataError(f"group must be the name of a grouping factor or a column, not {group!r}")
    if group not in groups and group not in model.fit_frame.columns:
        raise DataError(f"group {group!r} is neither a grouping factor of the model ({', '.join(groups)}) nor a column")
    return group


def _group_codes(model: Any, group: str) -> tuple[np.ndarray, list[Any]]:
    """The level of each row of the fit, and the levels: a grouping factor's
    as the model has them, else the column's distinct values, sorted."""
    if any(t.group == group for t in model.random_terms):
        codes, levels = _core.grouping(model.core, group)
        return np.asarray(codes, dtype=np.uint32), list(levels)
    column = model.fit_frame[group]
    if column.null_count():
        raise DataError(f"column {group!r} has missing values on the rows of the fit")
    levels = column.unique().sort().to_list()
    index = {v: i for i, v in enumerate(levels)}
    codes = np.fromiter((index[v] for v in column.to_list()), dtype=np.uint32, count=column.len())
    return codes, levels
