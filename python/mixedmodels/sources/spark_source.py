"""PySpark DataFrames (``mixedmodels[spark]``): the same passes with Spark's
own group-by and sums. The model's columns become Spark SQL expressions
(evaluated in the JVM: executors need neither Python packages nor this
one), and only the reduced tables are collected to the driver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels._frame import _to_frame
from mixedmodels.sources.base import Source, StreamedFit, as_float_array, missing_extra
from mixedmodels.sources.expressions import _quoted, to_spark
from mixedmodels.sources.polars_source import fixed_predictor, ranef_tables

_NUMERIC = ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType", "DecimalType")


def _functions() -> Any:
    try:
        from pyspark.sql import functions
    except ImportError as error:
        raise missing_extra("spark", error) from None
    return functions


class SparkSource(Source):
    engine = "spark"
    extra = "spark"

    def __init__(self, frame: Any) -> None:
        _functions()
        super().__init__(frame)
        self._types = {f.name: type(f.dataType).__name__ for f in frame.schema.fields}

    def schema(self) -> list[tuple[str, bool]]:
        return [(name, kind in _NUMERIC) for name, kind in self._types.items()]

    def _complete(self, used: Sequence[str]) -> Any:
        F = _functions()
        cond = F.lit(True)
        for c in dict.fromkeys(used):
            col = F.col(_quoted(c))
            cond = cond & col.isNotNull()
            if self._types[c] in ("FloatType", "DoubleType"):
                cond = cond & ~F.isnan(col)
            if c in self.level_filters:
                cond = cond & col.cast("string").isin(self.level_filters[c])
        return cond

    def complete_frame(self, used: Sequence[str]) -> Any:
        return self.frame.filter(self._complete(used))

    def pilot(self, used: Sequence[str], n: int) -> pl.DataFrame:
        cols = [_quoted(c) for c in dict.fromkeys(used)]
        return _to_frame(self.complete_frame(used).select(*cols).limit(n).toPandas())

    def distinct(self, columns: Sequence[str], used: Sequence[str] | None) -> pl.DataFrame:
        frame = self.frame if used is None else self.complete_frame(used)
        rows = frame.select(*[_quoted(c) for c in columns]).distinct().toPandas()
        return _to_frame(rows).sort(list(columns))

    def first_pass(
        self, used: Sequence[str], requests: Sequence[Sequence[str]], moments: Sequence[tuple[Any, float]]
    ) -> tuple[int, int, list[pl.DataFrame], list[tuple[float, float, float]]]:
        F = _functions()
        aggs = [F.count(F.lit(1)).alias("n_rows"), F.sum(self._complete(used).cast("long")).alias("n_complete")]
        for i, (tree, shift) in enumerate(moments):
            x = to_spark(tree, _no_lookups)
            valid = x.isNotNull() & ~F.isnan(x)
            d = F.when(valid, x - F.lit(shift)).otherwise(F.lit(0.0))
            aggs += [F.sum(valid.cast("long")).alias(f"n{i}"), F.sum(d).alias(f"s{i}"), F.sum(d * d).alias(f"q{i}")]
        row = self.frame.agg(*aggs).collect()[0].asDict()
        found = [
            (float(row[f"n{i}"]), float(row[f"s{i}"] or 0.0), float(row[f"q{i}"] or 0.0)) for i in range(len(moments))
        ]
        distinct = [self.distinct(cols, used) for cols in requests]
        return int(row["n_rows"]), int(row["n_complete"] or 0), distinct, found

    def second_pass(self, fit: StreamedFit) -> Any:
        F = _functions()
        plan = fit.plan
        keys = list(plan.key_columns)
        basic = [to_spark(tree, fit.lookups).alias(f"__b{i}") for i, (_, tree) in enumerate(plan.basic())]
        base = self.complete_frame(fit.used).select(*[F.col(_quoted(k)) for k in keys], *basic)
        weight = plan.weight_column
        tables = plan.tables()
        parts = []
        global_row: list[float] = []
        for table_keys, sums in tables:
            aggs = [F.sum(_product(cols, weighted, weight)).alias(f"__p{j}") for j, (cols, weighted) in enumerate(sums)]
            if table_keys:
                grouped = base.groupBy(*[F.col(_quoted(k)) for k in table_keys]).agg(*aggs).toPandas()
                parts.append(_table(grouped, list(table_keys), len(sums), fit))
            else:
                row = base.agg(*aggs).collect()[0]
                global_row = [float(row[f"__p{j}"] or 0.0) for j in range(len(sums))]
        return plan.stats_from_tables(parts, global_row)

    def predictions(
        self, fit: StreamedFit, core: Any, frame: Any, outputs: dict[str, str], use_rfx: bool = True
    ) -> Any:
        F = _functions()
        eta = to_spark(fixed_predictor(fit, core), fit.lookups)
        temporary: list[str] = []
        if use_rfx:
            for b, (keys, _, z, table) in enumerate(ranef_tables(fit, core)):
                frame, added = self._join_modes(frame, table, keys, b)
                temporary += added
                for r, tree in enumerate(z):
                    eta = eta + to_spark(tree, fit.lookups) * F.coalesce(F.col(f"__re{b}_{r}"), F.lit(0.0))
        for name, kind in outputs.items():
            value = eta if kind == "eta" else to_spark(fit.plan.response(), fit.lookups) - eta
            frame = frame.withColumn(name, value)
        return frame.drop(*temporary)

    def _join_modes(self, frame: Any, table: dict[str, Any], keys: list[str], b: int) -> tuple[Any, list[str]]:
        """Left join (broadcast) of bar b's conditional modes on its keys, as numbers or strings."""
        F = _functions()
        modes = pl.from_dict(table).to_pandas()
        names = [f"__key{b}_{i}" for i in range(len(keys))]
        types = {f.name: type(f.dataType).__name__ for f in frame.schema.fields}
        for k, n in zip(keys, names, strict=True):
            numeric = types.get(k) in _NUMERIC
            frame = frame.withColumn(n, F.col(_quoted(k)).cast("double" if numeric else "string"))
            modes[n] = modes[k].astype("float64" if numeric else str)
        modes = modes.drop(columns=keys)
        right = frame.sparkSession.createDataFrame(modes)
        joined = frame.join(F.broadcast(right), on=names, how="left")
        return joined, list(modes.columns)


def _product(cols: Sequence[int], weighted: bool, weight: int | None) -> Any:
    F = _functions()
    factors = [F.col(f"__b{i}") for i in cols]
    if weighted and weight is not None:
        factors.append(F.col(f"__b{weight}"))
    if not factors:
        return F.lit(1.0)
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out


def _table(table: Any, keys: list[str], width: int, fit: StreamedFit) -> tuple[Any, np.ndarray]:
    values = as_float_array(table[[f"__p{j}" for j in range(width)]].fillna(0.0).to_numpy(dtype=float))
    keys_frame = _to_frame(table[keys])
    return fit.coding.core_frame(keys_frame, keys, partial=True), values.reshape(len(table), width)


def _no_lookups(table: int) -> tuple[str, list[Any]]:
    raise RuntimeError("internal: a moment's expression has no factor")
