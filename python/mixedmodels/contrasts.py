"""How a model codes its factors: the level orders and contrast weights of
``fit(factors=...)``, polynomial contrasts for ``ordered=True`` and the
contrasts of ``fit(contrasts=...)``, gathered in a :class:`Coding` that the
model applies to the data it is fitted to and to every new data it predicts
for.

Contrast weights are human-readable comparisons of level means, converted to
R's contrast matrices as pymer4's ``con2R`` and R's ``contrasts<-`` do
(:func:`contrasts_from_weights`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mixedmodels._frame import CoreFrame, core_frame
from mixedmodels.exceptions import DataError

# A contrast as the core takes it: a name, or (values column-major, ncol, names).
CoreContrast = tuple[str, Any]

__all__ = ["Coding", "contrasts_from_weights"]


@dataclass(frozen=True)
class Coding:
    """The factor coding of a fit.

    ``levels``: a column's levels in the order ``fit(factors=...)`` gave (the
    first is the reference), applied as a polars Enum; ``contrast_codes``: the
    contrast matrices converted from contrast weights; ``ordered``: the columns
    given polynomial contrasts (``ordered=True``); ``contrasts``: every
    contrast for the core, by variable.
    """

    levels: dict[str, list[str]] = field(default_factory=dict)
    contrast_codes: dict[str, np.ndarray] = field(default_factory=dict)
    ordered: list[str] = field(default_factory=list)
    contrasts: list[CoreContrast] = field(default_factory=list)

    @classmethod
    def from_fit_arguments(
        cls,
        data: pl.DataFrame,
        factors: Mapping[str, Any] | None = None,
        ordered: bool = False,
        contrasts: Mapping[str, Any] | None = None,
    ) -> Coding:
        """The coding of ``fit(factors=, ordered=, contrasts=)`` on ``data``."""
        levels, codes = _split_factors(factors)
        clash = sorted(set(codes) & set(contrasts or {}))
        if clash:
            raise DataError(f"factors gives contrast weights for {clash}: leave them out of contrasts=")
        for col in codes:
            _check_weight_levels(data, col, levels[col])
        ordered_cols = [c for c in levels if c not in codes] if ordered else []
        return cls(levels, codes, ordered_cols, _contrasts_for_core({**(contrasts or {}), **codes}))

    def apply(self, frame: pl.DataFrame, partial: bool = False) -> pl.DataFrame:
        """``frame`` with the level orders applied (a level outside them becomes
        missing); with ``partial``, to those of its columns ``frame`` has (a
        part of the data, as out-of-core fits read it)."""
        exprs = []
        for col, levels in self.levels.items():
            if col not in frame.columns:
                if partial:
                    continue
                raise DataError(f"factors: column '{col}' is not in the data")
            exprs.append(pl.col(col).cast(pl.String).replace_strict(levels, levels, default=None).cast(pl.Enum(levels)))
        return frame.with_columns(exprs) if exprs else frame

    def core_frame(self, frame: pl.DataFrame, names: Sequence[str], partial: bool = False) -> CoreFrame:
        """The columns ``names`` of ``frame``, coded, as the core takes them
        (``partial``: see :meth:`apply`)."""
        return core_frame(self.apply(frame, partial), names, ordered=self.ordered)

    def unused_warnings(self, factor_variables: set[str]) -> list[str]:
        """R's warning for a contrast naming no factor of the fixed effects."""
        return [
            f"contrasts: variable '{name}' is not a factor of the fixed effects; its contrast is ignored"
            for name, _ in self.contrasts
            if name not in factor_variables
        ]


def contrasts_from_weights(weights: Any) -> np.ndarray:
    """R's contrast matrix (levels x levels-1) for human-readable contrast
    weights (one row a contrast, one column a level), as pymer4's ``con2R``
    and gmodels' ``make.contrasts``: the pseudo-inverse of the rows
    ``[1/k, ..., 1/k]`` stacked over the weights, first column dropped; with
    fewer than k-1 contrasts the matrix is completed as R's ``contrasts<-``
    does, with columns of the Q of the QR decomposition of
    ``cbind(1, given)``. The coefficient of column j then estimates the
    weighted sum of level means of row j (weights centred to sum to zero)."""
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    if w.ndim != 2:
        raise DataError("contrast weights must be one row a contrast, one column a level")
    m, k = w.shape
    if m >= k:
        raise DataError(f"{m} contrast(s) for {k} levels: give at most {k - 1} (one row a contrast)")
    stacked = np.vstack([np.full(k, 1.0 / k), w])
    if np.linalg.matrix_rank(stacked) != m + 1:
        raise DataError("the contrast weights are collinear (or a row is constant): the contrasts are not estimable")
    given = np.linalg.pinv(stacked)[:, 1:]
    if m == k - 1:
        return given
    q, _ = np.linalg.qr(np.column_stack([np.ones(k), given]), mode="complete")
    out = q[:, 1:k].copy()
    out[:, :m] = given
    return out


def _split_factors(factors: Mapping[str, Any] | None) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """``fit(factors=...)``: each column's level order, and the contrast
    matrix of the columns given as contrast weights (a dict or list of dicts)."""
    levels: dict[str, list[str]] = {}
    codes: dict[str, np.ndarray] = {}
    for col, spec in (factors or {}).items():
        if isinstance(spec, str):
            raise DataError(f"factors['{col}'] must be a list of levels or a dict of contrast weights, not a string")
        rows = [spec] if isinstance(spec, Mapping) else list(spec)
        n_dicts = sum(isinstance(r, Mapping) for r in rows)
        if n_dicts == 0:
            levels[col] = [str(v) for v in rows]
            repeated = sorted({lv for lv in levels[col] if levels[col].count(lv) > 1})
            if repeated:
                raise DataError(f"factors['{col}']: the level(s) {repeated} are listed more than once")
            continue
        if n_dicts != len(rows):
            raise DataError(f"factors['{col}']: a list must hold only levels or only dicts of contrast weights")
        weights = [{str(lv): float(v) for lv, v in r.items()} for r in rows]
        if not all(np.isfinite(v) for r in weights for v in r.values()):
            raise DataError(f"factors['{col}']: every contrast weight must be a finite number")
        lv = list(dict.fromkeys(name for r in weights for name in r))
        levels[col] = lv
        codes[col] = contrasts_from_weights([[r.get(name, 0.0) for name in lv] for r in weights])
    return levels, codes


def _check_weight_levels(frame: pl.DataFrame, col: str, levels: list[str]) -> None:
    """Contrast weights need one weight a level, for exactly the data's levels."""
    if col not in frame.columns:
        raise DataError(f"factors: column '{col}' is not in the data")
    present = set(frame.get_column(col).drop_nulls().cast(pl.String).unique().to_list())
    missing, unused = sorted(present - set(levels)), [lv for lv in levels if lv not in present]
    if missing:
        raise DataError(f"factors['{col}']: no contrast weight for the level(s) {missing}")
    if unused:
        raise DataError(f"factors['{col}']: the level(s) {unused} do not occur in the data")


def _contrasts_for_core(contrasts: Mapping[str, Any] | None) -> list[CoreContrast]:
    out: list[CoreContrast] = []
    for name, spec in (contrasts or {}).items():
        if isinstance(spec, str):
            out.append((name, spec))
        else:
            m = np.asarray(spec, dtype=float)
            if m.ndim != 2 or m.shape[1] == 0:
                raise DataError(f"contrasts['{name}'] must be a name or a levels x k matrix with k >= 1")
            if not np.isfinite(m).all():
                raise DataError(f"contrasts['{name}']: every entry of the matrix must be a finite number")
            out.append((name, (list(m.flatten(order="F")), int(m.shape[1]), None)))
    return out
