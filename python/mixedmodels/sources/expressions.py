"""The core's column expressions in each engine's own language.

The core describes every column an out-of-core pass evaluates (a column of
X or Z, the response, the weights) as a small tree (nested tuples):
``("num", v)``, ``("col", name)``, ``("un", op, x)``, ``("bin", op, a, b)``
and ``("lookup", table, values)`` (a factor's coding: the row's value of the
factor's column looked up among the distinct values the first pass found).
This module turns a tree into a polars expression, a Dask/pandas series, or
a Spark column, keeping R's arithmetic where the engines differ from it
(Spark returns null where R returns NaN or an infinity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

Tree = tuple[Any, ...]
# table index -> (key column, the distinct key values, in the core's order)
Lookups = Callable[[int], tuple[str, list[Any]]]

_INF = float("inf")


# ------------------------------------------------------------------ polars
def to_polars(tree: Tree, lookups: Lookups) -> pl.Expr:
    """A polars expression (float64) computing the tree on a row."""
    kind = tree[0]
    if kind == "num":
        return pl.lit(float(tree[1]), dtype=pl.Float64)
    if kind == "col":
        return pl.col(tree[1]).cast(pl.Float64)
    if kind == "lookup":
        column, keys = lookups(tree[1])
        key = pl.col(column)
        if keys and isinstance(keys[0], str):
            key = key.cast(pl.String)
        return key.replace_strict(keys, [float(v) for v in tree[2]], default=None, return_dtype=pl.Float64)
    if kind == "un":
        return _polars_unary(tree[1], to_polars(tree[2], lookups))
    a, b = to_polars(tree[2], lookups), to_polars(tree[3], lookups)
    return _polars_binary(tree[1], a, b)


def _polars_unary(op: str, x: pl.Expr) -> pl.Expr:
    table: dict[str, Callable[[pl.Expr], pl.Expr]] = {
        "neg": lambda e: -e,
        "not": lambda e: (e == 0).cast(pl.Float64),
        "log": lambda e: e.log(),
        "exp": lambda e: e.exp(),
        "sqrt": lambda e: e.sqrt(),
        "abs": lambda e: e.abs(),
        "log10": lambda e: e.log10(),
        "log2": lambda e: e.log(2.0),
        "log1p": lambda e: e.log1p(),
        "expm1": lambda e: e.exp() - 1.0,
        "sin": lambda e: e.sin(),
        "cos": lambda e: e.cos(),
        "tan": lambda e: e.tan(),
        "floor": lambda e: e.floor(),
        "ceiling": lambda e: e.ceil(),
        "trunc": lambda e: pl.when(e >= 0).then(e.floor()).otherwise(e.ceil()),
        "not_finite": lambda e: (~e.is_finite()).fill_null(True).cast(pl.Float64),
    }
    return table[op](x)


def _polars_binary(op: str, a: pl.Expr, b: pl.Expr) -> pl.Expr:
    arithmetic: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
        "+": lambda x, y: x + y,
        "-": lambda x, y: x - y,
        "*": lambda x, y: x * y,
        "/": lambda x, y: x / y,
        "^": lambda x, y: x.pow(y),
        "<": lambda x, y: (x < y).cast(pl.Float64),
        ">": lambda x, y: (x > y).cast(pl.Float64),
        "<=": lambda x, y: (x <= y).cast(pl.Float64),
        ">=": lambda x, y: (x >= y).cast(pl.Float64),
        "==": lambda x, y: (x == y).cast(pl.Float64),
        "!=": lambda x, y: (x != y).cast(pl.Float64),
        "&": lambda x, y: ((x != 0) & (y != 0)).cast(pl.Float64),
        "|": lambda x, y: ((x != 0) | (y != 0)).cast(pl.Float64),
    }
    return arithmetic[op](a, b)


# ------------------------------------------------------------ Dask / pandas
def to_pandas(tree: Tree, frame: Any, lookups: Lookups) -> Any:
    """A float64 series of ``frame`` (a pandas or Dask DataFrame) computing the tree."""
    kind = tree[0]
    if kind == "num":
        return float(tree[1])
    if kind == "col":
        return frame[tree[1]].astype("float64")
    if kind == "lookup":
        column, keys = lookups(tree[1])
        mapping = dict(zip(keys, (float(v) for v in tree[2]), strict=True))
        key = frame[column]
        if keys and isinstance(keys[0], str):
            key = key.astype(str)
        elif keys and isinstance(keys[0], bool):
            key = key.astype(bool)
        return key.map(mapping, meta=(column, "float64")) if _is_dask(key) else key.map(mapping).astype("float64")
    if kind == "un":
        return _numpy_unary(tree[1], to_pandas(tree[2], frame, lookups))
    return _numpy_binary(tree[1], to_pandas(tree[2], frame, lookups), to_pandas(tree[3], frame, lookups))


def _is_dask(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "dask"


def _numpy_unary(op: str, x: Any) -> Any:
    table: dict[str, Callable[[Any], Any]] = {
        "neg": lambda e: -e,
        "not": lambda e: (e == 0).astype("float64"),
        "log": np.log,
        "exp": np.exp,
        "sqrt": np.sqrt,
        "abs": np.abs,
        "log10": np.log10,
        "log2": np.log2,
        "log1p": np.log1p,
        "expm1": np.expm1,
        "sin": np.sin,
        "cos": np.cos,
        "tan": np.tan,
        "floor": np.floor,
        "ceiling": np.ceil,
        "trunc": np.trunc,
        "not_finite": lambda e: (~np.isfinite(e)).astype("float64"),
    }
    return table[op](x)


def _numpy_binary(op: str, a: Any, b: Any) -> Any:
    arithmetic: dict[str, Callable[[Any, Any], Any]] = {
        "+": lambda x, y: x + y,
        "-": lambda x, y: x - y,
        "*": lambda x, y: x * y,
        "/": lambda x, y: x / y,
        "^": lambda x, y: x**y,
        "<": lambda x, y: (x < y).astype("float64"),
        ">": lambda x, y: (x > y).astype("float64"),
        "<=": lambda x, y: (x <= y).astype("float64"),
        ">=": lambda x, y: (x >= y).astype("float64"),
        "==": lambda x, y: (x == y).astype("float64"),
        "!=": lambda x, y: (x != y).astype("float64"),
        "&": lambda x, y: ((x != 0) & (y != 0)).astype("float64"),
        "|": lambda x, y: ((x != 0) | (y != 0)).astype("float64"),
    }
    out = arithmetic[op](a, b)
    if isinstance(out, float):
        return out
    return out


# -------------------------------------------------------------------- Spark
def to_spark(tree: Tree, lookups: Lookups) -> Any:
    """A Spark column (double) computing the tree with R's arithmetic."""
    from pyspark.sql import functions as F  # noqa: N812 (Spark's convention)

    kind = tree[0]
    if kind == "num":
        return F.lit(float(tree[1])).cast("double")
    if kind == "col":
        return F.col(_quoted(tree[1])).cast("double")
    if kind == "lookup":
        column, keys = lookups(tree[1])
        pairs: list[Any] = []
        for k, v in zip(keys, tree[2], strict=True):
            pairs += [F.lit(k), F.lit(float(v))]
        key = F.col(_quoted(column))
        if keys and isinstance(keys[0], str):
            key = key.cast("string")
        return F.create_map(*pairs)[key].cast("double")
    if kind == "un":
        return _spark_unary(tree[1], to_spark(tree[2], lookups))
    return _spark_binary(tree[1], to_spark(tree[2], lookups), to_spark(tree[3], lookups))


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _spark_unary(op: str, x: Any) -> Any:
    from pyspark.sql import functions as F  # noqa: N812

    nan = F.lit(float("nan"))

    def log_like(f: Callable[[Any], Any], at_zero: Any, domain: Any) -> Any:
        # Spark gives null outside a logarithm's domain; R gives -Inf at its edge, NaN beyond.
        return F.when(domain > 0, f(x)).when(domain == 0, F.lit(-_INF)).otherwise(nan)

    table: dict[str, Callable[[], Any]] = {
        "neg": lambda: -x,
        "not": lambda: (x == 0).cast("double"),
        "log": lambda: log_like(F.log, 0, x),
        "log10": lambda: log_like(F.log10, 0, x),
        "log2": lambda: log_like(F.log2, 0, x),
        "log1p": lambda: log_like(F.log1p, -1, x + 1),
        "exp": lambda: F.exp(x),
        "expm1": lambda: F.expm1(x),
        "sqrt": lambda: F.sqrt(x),
        "abs": lambda: F.abs(x),
        "sin": lambda: F.sin(x),
        "cos": lambda: F.cos(x),
        "tan": lambda: F.tan(x),
        "floor": lambda: F.floor(x).cast("double"),
        "ceiling": lambda: F.ceil(x).cast("double"),
        "trunc": lambda: F.when(x >= 0, F.floor(x)).otherwise(F.ceil(x)).cast("double"),
        "not_finite": lambda: (F.isnan(x) | F.isnull(x) | (F.abs(x) == F.lit(_INF))).cast("double"),
    }
    return table[op]()


def _spark_binary(op: str, a: Any, b: Any) -> Any:
    from pyspark.sql import functions as F  # noqa: N812

    def divide() -> Any:
        # Spark gives null for x / 0; R gives +-Inf, or NaN for 0 / 0.
        edge = F.when(a > 0, F.lit(_INF)).when(a < 0, F.lit(-_INF)).otherwise(F.lit(float("nan")))
        return F.when(b != 0, a / b).otherwise(edge)

    table: dict[str, Callable[[], Any]] = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": divide,
        "^": lambda: F.pow(a, b),
        "<": lambda: (a < b).cast("double"),
        ">": lambda: (a > b).cast("double"),
        "<=": lambda: (a <= b).cast("double"),
        ">=": lambda: (a >= b).cast("double"),
        "==": lambda: (a == b).cast("double"),
        "!=": lambda: (a != b).cast("double"),
        "&": lambda: ((a != 0) & (b != 0)).cast("double"),
        "|": lambda: ((a != 0) | (b != 0)).cast("double"),
    }
    return table[op]()


def product(factors: Sequence[Any]) -> Any:
    """The product of engine expressions (1 for none is the caller's business)."""
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out
