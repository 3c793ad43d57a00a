"""Data that stay where they are: out-of-core fits of linear mixed models.

A linear mixed model sees its data only through sums by group (the
cross-products of [Z X y]), so the rows never need to be in memory at once.
``Lmer(formula, data=...)`` fits out of core when ``data`` is

- a polars ``LazyFrame``, or a path or glob of Parquet, CSV or Arrow IPC
  files (polars' streaming engine: the embedded default);
- a Dask DataFrame (``mixedmodels[dask]``);
- a PySpark DataFrame (``mixedmodels[spark]``).

The engine evaluates the model's columns and forms the sums with its own
group-by (:mod:`~mixedmodels.sources.expressions` translates the core's
column expressions); only the sums travel to this process, where the Rust
core assembles the same blocked system an in-memory fit builds and fits it.
See the documentation page "Data larger than memory".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mixedmodels.sources.base import Source

__all__ = ["Source", "source_of"]

_SCANNERS = {
    ".parquet": "scan_parquet",
    ".pq": "scan_parquet",
    ".csv": "scan_csv",
    ".ipc": "scan_ipc",
    ".arrow": "scan_ipc",
    ".feather": "scan_ipc",
}


def source_of(data: Any) -> Source | None:
    """The out-of-core source of ``data``, or None for data held in memory."""
    module = type(data).__module__.split(".")[0]
    if module == "polars" and type(data).__name__ == "LazyFrame":
        from mixedmodels.sources.polars_source import PolarsSource

        return PolarsSource(data)
    if isinstance(data, (str, os.PathLike)):
        from mixedmodels.sources.polars_source import PolarsSource

        return PolarsSource(_scan(data))
    if module == "dask":
        from mixedmodels.sources.dask_source import DaskSource

        return DaskSource(data)
    if module == "pyspark":
        from mixedmodels.sources.spark_source import SparkSource

        return SparkSource(data)
    return None


def _scan(path: str | os.PathLike[str]) -> Any:
    """A LazyFrame over a file, a glob or a directory of Parquet, CSV or IPC files."""
    import polars as pl

    from mixedmodels.exceptions import DataError

    text = str(path)
    p = Path(text)
    if p.is_dir():
        return pl.scan_parquet(str(p / "**" / "*.parquet"))
    suffix = os.path.splitext(text)[1].lower()
    scanner = _SCANNERS.get(suffix)
    if scanner is None:
        raise DataError(
            f"data: '{text}' is not a Parquet, CSV or Arrow IPC file, glob or directory "
            f"(give a polars LazyFrame for other sources)"
        )
    if "*" not in text and not p.exists():
        raise DataError(f"data: no file '{text}'")
    return getattr(pl, scanner)(text)
