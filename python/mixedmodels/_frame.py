"""Data in: polars (DataFrame, LazyFrame), pandas and pyarrow tables become a
polars DataFrame, and the columns a model reads become the arrays the Rust
core takes: float64 numbers (no copy when polars already holds float64
without nulls) or factors as (uint32 codes, levels, ordered).

Factor levels follow R: a polars Enum keeps its order; Categorical, String
and Boolean columns get their distinct values sorted (Boolean: FALSE, TRUE).
Missing values travel as NaN / a reserved code and are dropped by the core,
which reports how many rows went.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels.exceptions import ColumnError, DataError

MISSING_CODE = np.iinfo(np.uint32).max
# The column an array of prior weights is attached under (as R's model frame names it).
WEIGHTS_COLUMN = "(weights)"

CoreColumn = tuple[str, Any]
# A table for the core: its number of rows and its columns.
CoreFrame = tuple[int, list[CoreColumn]]


def to_polars(data: Any, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Convert supported tables to a polars DataFrame (a LazyFrame is collected
    after selecting ``columns``, so only what the model reads is materialised)."""
    if isinstance(data, pl.LazyFrame):
        if columns is not None:
            check_columns(data.collect_schema().names(), columns)
            data = data.select(list(dict.fromkeys(columns)))
        return data.collect()
    frame = _to_frame(data, columns)
    if columns is not None:
        check_columns(frame.columns, columns)
    return frame


def _to_frame(data: Any, columns: Sequence[str] | None = None) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return _from_pandas(data, columns)
    if module == "pyarrow":
        return pl.from_arrow(data)  # type: ignore[return-value]
    if isinstance(data, dict):
        return pl.DataFrame(data)
    raise DataError(
        f"data must be a polars DataFrame or LazyFrame, a pandas DataFrame or a pyarrow Table, "
        f"not {type(data).__name__}"
    )


def column_names_of(data: Any) -> list[str]:
    """The column names of any supported table, without converting it."""
    if isinstance(data, pl.LazyFrame):
        return data.collect_schema().names()
    if isinstance(data, pl.DataFrame):
        return data.columns
    if isinstance(data, dict):
        return [str(k) for k in data]
    names = getattr(data, "column_names", None)  # pyarrow
    if names is None:
        names = getattr(data, "columns", [])  # pandas
    return [str(c) for c in names]


def check_columns(available: Sequence[str], needed: Sequence[str]) -> None:
    """Raise ColumnError naming the needed columns the data lacks (and listing those it has)."""
    have = set(available)
    missing = [c for c in dict.fromkeys(needed) if c not in have]
    if len(missing) == 1:
        raise ColumnError(_missing_message(missing[0], available))
    if missing:
        names = ", ".join(f"'{c}'" for c in missing)
        raise ColumnError(f"columns {names}: not found in the data (columns: {', '.join(available)})")


def missing_rows(frame: pl.DataFrame, names: Sequence[str]) -> np.ndarray:
    """Rows with a missing value (null, or NaN in a float column) in any of ``names``."""
    mask = np.zeros(frame.height, dtype=bool)
    for name in dict.fromkeys(names):
        s = frame.get_column(name)
        miss = s.is_null()
        if s.dtype.is_float():
            miss = miss | s.is_nan().fill_null(True)
        mask |= miss.to_numpy()
    return mask


def attach_weights(frame: pl.DataFrame, weights: Any) -> tuple[pl.DataFrame, str]:
    """Prior weights given as a column name, or an array attached to ``frame``
    (never over a data column of the same name); returns the frame and the column."""
    if isinstance(weights, str):
        if weights not in frame.columns:
            raise DataError(f"weights: column '{weights}' is not in the data")
        return frame, weights
    w = np.asarray(weights, dtype=float)
    if w.shape != (frame.height,):
        raise DataError(f"weights must have one value a row ({frame.height}), got shape {w.shape}")
    name = WEIGHTS_COLUMN
    while name in frame.columns:
        name += "_"
    return frame.with_columns(pl.Series(name, w)), name


def _from_pandas(df: Any, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The pandas frame as polars. A column the formula reads (``columns``; all
    when None) must convert; others that cannot (a repeated name, values polars
    cannot hold) are left out, as the model never reads them."""
    names = [str(c) for c in df.columns]
    wanted = set(names) if columns is None else set(columns)
    out = {}
    for i, name in enumerate(names):
        if names.count(name) > 1:
            if name in wanted:
                raise ColumnError(f"column '{name}': the pandas frame has more than one column of that name")
            continue
        try:
            out[name] = _pandas_column(df.iloc[:, i], name)
        except ColumnError:
            if name in wanted:
                raise
    return pl.DataFrame(out)


def _pandas_column(s: Any, name: str) -> pl.Series:
    import pandas as pd

    try:
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = [str(c) for c in s.cat.categories]
            strings = pl.Series(name, s.astype("string").to_numpy(na_value=None), dtype=pl.String)
            return strings.cast(pl.Enum(levels))
        return pl.from_pandas(s).alias(name)
    except ImportError:
        raise ColumnError(
            f"column '{name}' (dtype {s.dtype}): reading this pandas column needs pyarrow: "
            "pip install 'mixedmodels[pandas]'"
        ) from None
    except Exception as error:  # pyarrow and polars raise many kinds for values they cannot hold
        hint = " (pip install 'mixedmodels[pandas]')" if "pyarrow" in str(error).lower() else ""
        raise ColumnError(
            f"column '{name}': its values cannot be read as numbers, strings, categories or booleans "
            f"(dtype {s.dtype}; {type(error).__name__}: {' '.join(str(error).split())}){hint}"
        ) from None


def _missing_message(name: str, available: Sequence[str]) -> str:
    return f"column '{name}': not found in the data (columns: {', '.join(available)})"


def factor_levels(s: pl.Series) -> list[str]:
    """R's levels of a column used as a factor."""
    dtype = s.dtype
    if isinstance(dtype, pl.Enum):
        return [str(c) for c in dtype.categories.to_list()]
    if dtype == pl.Boolean:
        return ["FALSE", "TRUE"]
    return sorted(str(v) for v in s.cast(pl.String).drop_nulls().unique().to_list())


def _factor(s: pl.Series, ordered: bool = False) -> tuple[np.ndarray, list[str], bool]:
    dtype = s.dtype
    if dtype == pl.Boolean:
        codes = s.cast(pl.UInt32).fill_null(MISSING_CODE).to_numpy()
        return codes.astype(np.uint32), ["FALSE", "TRUE"], ordered
    if isinstance(dtype, pl.Enum):
        levels = [str(c) for c in dtype.categories.to_list()]
        codes = s.to_physical().cast(pl.UInt32).fill_null(MISSING_CODE).to_numpy()
        return codes.astype(np.uint32), levels, ordered
    strings = s.cast(pl.String)
    # polars sorts strings by their UTF-8 bytes: code point order, as Python's sorted (R's C locale)
    levels = strings.drop_nulls().unique().sort()
    codes = strings.cast(pl.Enum(levels)).to_physical().cast(pl.UInt32)
    return codes.fill_null(MISSING_CODE).to_numpy().astype(np.uint32), levels.to_list(), ordered


def core_frame(
    df: pl.DataFrame,
    names: Sequence[str],
    ordered: Sequence[str] = (),
) -> CoreFrame:
    """The listed columns as the Rust core takes them, with the number of rows
    (a formula may read no column at all: ``y ~ 1`` predicted without random effects)."""
    out: list[CoreColumn] = []
    for name in dict.fromkeys(names):
        if name not in df.columns:
            raise ColumnError(_missing_message(name, df.columns))
        s = df.get_column(name)
        dtype = s.dtype
        if dtype.is_numeric():
            if dtype == pl.Float64 and s.null_count() == 0:
                values = s.to_numpy()
            else:
                values = s.cast(pl.Float64).fill_null(float("nan")).to_numpy()
            out.append((name, np.ascontiguousarray(values, dtype=np.float64)))
        elif dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum):
            out.append((name, _factor(s, name in ordered)))
        elif dtype == pl.Null:
            raise ColumnError(f"column '{name}': every value is missing")
        else:
            raise ColumnError(
                f"column '{name}': type {dtype} cannot be used in a model "
                "(use numbers, strings, categoricals, enums or booleans)"
            )
    return df.height, out
