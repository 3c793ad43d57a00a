"""Dask DataFrames (``mixedmodels[dask]``): the same passes with Dask's own
group-by and sums. The workers evaluate the model's columns with pandas and
numpy operations only (they need neither this package nor its core); the
reduced tables travel to this process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels._frame import _to_frame
from mixedmodels.sources.base import Source, StreamedFit, as_float_array, missing_extra
from mixedmodels.sources.expressions import to_pandas
from mixedmodels.sources.polars_source import fixed_predictor, ranef_tables


def _dask() -> Any:
    try:
        import dask
        import dask.dataframe
    except ImportError as error:
        raise missing_extra("dask", error) from None
    return dask


def _is_numeric(dtype: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


class DaskSource(Source):
    engine = "dask"
    extra = "dask"

    def __init__(self, frame: Any) -> None:
        _dask()
        super().__init__(frame)

    def schema(self) -> list[tuple[str, bool]]:
        return [(str(name), _is_numeric(dtype)) for name, dtype in self.frame.dtypes.items()]

    def _complete(self, frame: Any, used: Sequence[str]) -> Any:
        mask = None
        for c in dict.fromkeys(used):
            cond = frame[c].notnull()
            if c in self.level_filters:
                cond = cond & frame[c].astype(str).isin(self.level_filters[c])
            mask = cond if mask is None else mask & cond
        return mask

    def complete_frame(self, used: Sequence[str]) -> Any:
        mask = self._complete(self.frame, used)
        return self.frame if mask is None else self.frame[mask]

    def pilot(self, used: Sequence[str], n: int) -> pl.DataFrame:
        # The first n complete rows, reading the first partition alone when it
        # holds them: head(n, npartitions=-1) reads every partition, a whole pass.
        import warnings

        frame = self.complete_frame(used)[list(dict.fromkeys(used))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Insufficient elements for `head`"
            rows = frame.head(n, npartitions=1)
        if len(rows) < n:
            rows = frame.head(n, npartitions=-1)
        return _to_frame(rows)

    def distinct(self, columns: Sequence[str], used: Sequence[str] | None) -> pl.DataFrame:
        frame = self.frame if used is None else self.complete_frame(used)
        return _sorted(_to_frame(frame[list(columns)].drop_duplicates().compute()), columns)

    def first_pass(
        self, used: Sequence[str], requests: Sequence[Sequence[str]], moments: Sequence[tuple[Any, float]]
    ) -> tuple[int, int, list[pl.DataFrame], list[tuple[float, float, float]]]:
        dask = _dask()
        frame = self.frame
        mask = self._complete(frame, used)
        lazy: list[Any] = [frame.shape[0], mask.sum() if mask is not None else frame.shape[0]]
        for tree, shift in moments:
            x = to_pandas(tree, frame, _no_lookups)
            d = (x - shift).where(x.notnull(), 0.0)
            lazy += [x.notnull().sum(), d.sum(), (d * d).sum()]
        complete = frame if mask is None else frame[mask]
        lazy += [complete[list(cols)].drop_duplicates() for cols in requests]
        done = dask.compute(*lazy)
        n_rows, n_complete = int(done[0]), int(done[1])
        found = [(float(done[2 + 3 * i]), float(done[3 + 3 * i]), float(done[4 + 3 * i])) for i in range(len(moments))]
        start = 2 + 3 * len(moments)
        distinct = [_sorted(_to_frame(d), cols) for d, cols in zip(done[start:], requests, strict=True)]
        return n_rows, n_complete, distinct, found

    def second_pass(self, fit: StreamedFit) -> Any:
        dask = _dask()
        plan = fit.plan
        frame = self.complete_frame(fit.used)
        keys = list(plan.key_columns)
        basic = {f"__b{i}": to_pandas(tree, frame, fit.lookups) for i, (_, tree) in enumerate(plan.basic())}
        base = frame[keys].assign(**basic)
        weight = plan.weight_column
        tables = plan.tables()
        lazy = []
        for t, (table_keys, sums) in enumerate(tables):
            products = {f"__p{j}": _product(base, cols, weighted, weight) for j, (cols, weighted) in enumerate(sums)}
            values = base[list(table_keys)].assign(**products) if table_keys else base.assign(**products)
            if table_keys:
                split = max(1, frame.npartitions // 2) if t >= plan.nbars else 1
                lazy.append(values.groupby(list(table_keys), observed=True, sort=False).sum(split_out=split))
            else:
                lazy.append(values[list(products)].sum())
        done = dask.compute(*lazy)
        parts = [_table(d.reset_index(), list(tables[t][0]), fit) for t, d in enumerate(done[:-1])]
        global_row = [float(v) for v in np.asarray(done[-1], dtype=float)]
        return plan.stats_from_tables(parts, global_row)

    def predictions(
        self, fit: StreamedFit, core: Any, frame: Any, outputs: dict[str, str], use_rfx: bool = True
    ) -> Any:
        # Merge first: pandas' merge renumbers the rows, so every column is computed on the merged frame.
        temporary: list[str] = []
        tables = ranef_tables(fit, core) if use_rfx else []
        for b, (keys, _, _, table) in enumerate(tables):
            frame, added = _merge_modes(frame, table, keys, b)
            temporary += added
        eta = to_pandas(fixed_predictor(fit, core), frame, fit.lookups)
        for b, (_, _, z, _) in enumerate(tables):
            for r, tree in enumerate(z):
                eta = eta + to_pandas(tree, frame, fit.lookups) * frame[f"__re{b}_{r}"].fillna(0.0)
        columns = {}
        for name, kind in outputs.items():
            columns[name] = eta if kind == "eta" else to_pandas(fit.plan.response(), frame, fit.lookups) - eta
        return frame.assign(**columns).drop(columns=temporary)


def _product(frame: Any, cols: Sequence[int], weighted: bool, weight: int | None) -> Any:
    factors = [frame[f"__b{i}"] for i in cols]
    if weighted and weight is not None:
        factors.append(frame[f"__b{weight}"])
    if not factors:
        return 1.0
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out


def _table(table: Any, keys: list[str], fit: StreamedFit) -> tuple[Any, np.ndarray]:
    """A reduced table as the core takes it: the key columns (coded) and the sums."""
    sums = [c for c in table.columns if str(c).startswith("__p")]
    sums.sort(key=lambda c: int(str(c)[3:]))
    values = as_float_array(table[sums].to_numpy(dtype=float)).reshape(len(table), len(sums))
    keys_frame = _to_frame(table[keys])
    return fit.coding.core_frame(keys_frame, keys, partial=True), values


def _merge_modes(frame: Any, table: dict[str, Any], keys: list[str], b: int) -> tuple[Any, list[str]]:
    """Left merge of bar b's conditional modes on its keys (compared as
    numbers, or as strings), partition by partition with pandas' own merge
    (the workers need nothing else)."""
    import pandas as pd

    modes = pd.DataFrame({k: np.asarray(v.to_list() if isinstance(v, pl.Series) else v) for k, v in table.items()})
    names = [f"__key{b}_{i}" for i in range(len(keys))]
    for k, n in zip(keys, names, strict=True):
        kind = "float64" if _is_numeric(frame[k].dtype) else "str"
        frame = frame.assign(**{n: frame[k].astype(kind)})
        modes[n] = modes[k].astype(kind)
    modes = modes.drop(columns=keys)
    meta = frame._meta.merge(modes.iloc[:0], on=names, how="left")
    merged = frame.map_partitions(pd.merge, modes, on=names, how="left", meta=meta)
    return merged, [str(c) for c in modes.columns]


def _sorted(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    return frame.sort(list(columns))


def _no_lookups(table: int) -> tuple[str, list[Any]]:
    raise RuntimeError("internal: a moment's expression has no factor")
