"""The embedded default: polars' streaming engine over a LazyFrame (or
Parquet, CSV or IPC files). The first pass is one streaming aggregation
plus a ``unique()`` per factor column; the second streams batches of the
model's columns, evaluated by polars, into the core's accumulator, which
sums them by level in Rust: no group-by table of level pairs is ever
materialised, so memory stays with the reduced system."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels.exceptions import ColumnError
from mixedmodels.sources.base import Source, StreamedFit, as_float_array
from mixedmodels.sources.expressions import to_polars

# Rows a batch of the second pass holds.
BATCH_ROWS = 1_000_000


def complete(schema: dict[str, pl.DataType], used: Sequence[str], levels: dict[str, list[str]]) -> pl.Expr:
    """Rows with a value (not null, not NaN) in every ``used`` column, and one
    of the given ``levels`` in the columns fit(factors=...) orders."""
    conditions = []
    for c in used:
        cond = pl.col(c).is_not_null()
        if schema[c].is_float():
            cond = cond & pl.col(c).is_not_nan()
        if c in levels:
            cond = cond & pl.col(c).cast(pl.String).is_in(levels[c])
        conditions.append(cond)
    return pl.all_horizontal(conditions) if conditions else pl.lit(True)


class PolarsSource(Source):
    engine = "polars"

    def __init__(self, frame: pl.LazyFrame) -> None:
        super().__init__(frame)
        self._schema = dict(frame.collect_schema())

    def schema(self) -> list[tuple[str, bool]]:
        return [(name, _is_numeric(dtype)) for name, dtype in self._schema.items()]

    def pilot(self, used: Sequence[str], n: int) -> pl.DataFrame:
        cols = list(dict.fromkeys(used))
        return self.frame.select(cols).filter(complete(self._schema, cols, self.level_filters)).head(n).collect()

    def first_pass(
        self, used: Sequence[str], requests: Sequence[Sequence[str]], moments: Sequence[tuple[Any, float]]
    ) -> tuple[int, int, list[pl.DataFrame], list[tuple[float, float, float]]]:
        ok = complete(self._schema, used, self.level_filters)
        aggs = [pl.len().alias("n_rows"), ok.sum().alias("n_complete")]
        for i, (tree, shift) in enumerate(moments):
            x = to_polars(tree, _no_lookups)
            valid = x.is_not_null() & x.is_not_nan()
            d = x.filter(valid) - shift
            aggs += [valid.sum().alias(f"n{i}"), d.sum().alias(f"s{i}"), (d * d).sum().alias(f"q{i}")]
        row = self.frame.select(aggs).collect(engine="streaming").row(0, named=True)
        found = [(float(row[f"n{i}"]), float(row[f"s{i}"]), float(row[f"q{i}"])) for i in range(len(moments))]
        distinct = [self.distinct(cols, used) for cols in requests]
        return int(row["n_rows"]), int(row["n_complete"]), distinct, found

    def distinct(self, columns: Sequence[str], used: Sequence[str] | None) -> pl.DataFrame:
        frame = self.frame if used is None else self.frame.filter(complete(self._schema, used, self.level_filters))
        return frame.select(list(columns)).unique().sort(list(columns)).collect(engine="streaming")

    def complete_frame(self, used: Sequence[str]) -> pl.LazyFrame:
        return self.frame.filter(complete(self._schema, used, self.level_filters))

    def second_pass(self, fit: StreamedFit) -> Any:
        plan = fit.plan
        keys = list(plan.key_columns)
        basic = [to_polars(tree, fit.lookups).alias(f"__b{i}") for i, (_, tree) in enumerate(plan.basic())]
        query = self.frame.filter(complete(self._schema, fit.used, self.level_filters)).select(
            *[pl.col(k) for k in keys], *basic
        )
        acc = plan.accumulator()
        names = [f"__b{i}" for i in range(len(basic))]
        for batch in query.collect_batches(chunk_size=BATCH_ROWS, engine="streaming"):
            columns = [as_float_array(batch.get_column(n).to_numpy()) for n in names]
            acc.add(fit.coding.core_frame(batch.select(keys), keys, partial=True), columns)
        return acc.finish()

    def predictions(
        self, fit: StreamedFit, core: Any, frame: Any, outputs: dict[str, str], use_rfx: bool = True
    ) -> pl.LazyFrame:
        return add_predictions(fit, core, frame, outputs, use_rfx)


def add_predictions(
    fit: StreamedFit, core: Any, frame: pl.LazyFrame, outputs: dict[str, str], use_rfx: bool = True
) -> pl.LazyFrame:
    """``frame`` with the linear predictor (``"eta"``) and the response
    residual (``"resid"``) under the names of ``outputs``."""
    plan = fit.plan
    eta = to_polars(fixed_predictor(fit, core), fit.lookups)
    temporary: list[str] = []
    for b, (keys, _, z, table) in enumerate(ranef_tables(fit, core) if use_rfx else []):
        frame, added = _join_modes(frame, pl.from_dict(table).lazy(), keys, b)
        temporary += added
        for r, tree in enumerate(z):
            eta = eta + to_polars(tree, fit.lookups) * pl.col(f"__re{b}_{r}").fill_null(0.0)
    exprs = []
    for name, kind in outputs.items():
        if kind == "eta":
            exprs.append(eta.alias(name))
        else:
            exprs.append((to_polars(plan.response(), fit.lookups) - eta).alias(name))
    return frame.with_columns(exprs).drop(temporary)


def _join_modes(frame: pl.LazyFrame, modes: pl.LazyFrame, keys: list[str], b: int) -> tuple[pl.LazyFrame, list[str]]:
    """Left join of bar b's conditional modes on its key columns, compared as
    numbers or as strings (a factor's categories may differ between the data
    and new data); returns the frame and the temporary columns it gained."""
    schema = frame.collect_schema()
    names = [f"__key{b}_{i}" for i in range(len(keys))]
    as_key = [pl.Float64 if _is_numeric(schema[k]) else pl.String for k in keys]
    frame = frame.with_columns(pl.col(k).cast(t).alias(n) for k, t, n in zip(keys, as_key, names, strict=True))
    modes = modes.with_columns(pl.col(k).cast(t).alias(n) for k, t, n in zip(keys, as_key, names, strict=True))
    modes = modes.drop(keys)
    joined = frame.join(modes, on=names, how="left", maintain_order="left")
    added = [c for c in modes.collect_schema().names()]
    return joined, added


def fixed_predictor(fit: StreamedFit, core: Any) -> Any:
    """X beta + offsets as an expression tree, for the fit's kept columns."""
    names = list(fit.plan.x_names)
    keep = [names.index(n) for n in core.fixed_names]
    return fit.plan.fixed_predictor(keep, [float(b) for b in core.beta])


def ranef_tables(fit: StreamedFit, core: Any) -> list[tuple[list[str], int, list[Any], dict[str, Any]]]:
    """For each bar: its key columns, distinct table, random-effects column
    trees, and a table of its distinct keys with the conditional modes."""
    plan = fit.plan
    terms = core.terms()
    out = []
    for b in range(plan.nbars):
        keys, table, z = plan.bar(b)
        term = terms[list(plan.bar_order).index(b)]
        modes = np.asarray(term["ranef"]).reshape(len(term["levels"]), -1)
        levels = np.asarray(plan.bar_levels(b), dtype=np.int64)
        data: dict[str, Any] = {k: fit.distinct[table].get_column(k) for k in keys}
        for r in range(modes.shape[1]):
            data[f"__re{b}_{r}"] = modes[levels, r]
        out.append((list(keys), table, list(z), data))
    return out


def _is_numeric(dtype: Any) -> bool:
    return bool(dtype.is_numeric())


def _no_lookups(table: int) -> tuple[str, list[Any]]:
    raise ColumnError("internal: a moment's expression has no factor")
