"""Result tables that print whole.

polars hides columns beyond its display limit (``pl.Config.set_tbl_cols``,
five by default in a narrow terminal) and squeezes the rest to the terminal's
width, so ``print(m.coefs)`` would hide the standard errors or the p-values.
polars has no per-frame display setting, so the tables a model hands out
(``coefs``, and what ``anova()``, ``post_hoc()``, ``ranova()`` and
``contest()`` return) are a :class:`ResultTable`: a ``polars.DataFrame`` in
every respect (``isinstance`` holds, every method works, operations return
plain DataFrames or, for slices and copies, ResultTables) whose ``print``,
``repr`` and notebook display show every column at its full width, and every
row of tables of up to ``WHOLE_ROWS`` rows, under a scoped ``pl.Config``; the
user's own polars settings are untouched.
"""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["WHOLE_ROWS", "ResultTable", "result_table"]

WHOLE_ROWS = 100
"""Tables up to this many rows print every row; longer ones as polars' settings say."""


def _whole(table: pl.DataFrame) -> pl.Config:
    rows: dict[str, Any] = {"tbl_rows": -1} if table.height <= WHOLE_ROWS else {}
    return pl.Config(tbl_cols=-1, tbl_width_chars=65_000, fmt_str_lengths=200, **rows)


class ResultTable(pl.DataFrame):
    """A ``polars.DataFrame`` of results that displays every column (see the module)."""

    def __str__(self) -> str:
        with _whole(self):
            return super().__str__()

    def __repr__(self) -> str:
        with _whole(self):
            return super().__repr__()

    def _repr_html_(self, **kwargs: Any) -> str:
        with _whole(self):
            return super()._repr_html_(**kwargs)


def result_table(table: pl.DataFrame | None) -> Any:
    """``table`` as a :class:`ResultTable` (the same data, not copied); None stays None."""
    if table is None or isinstance(table, ResultTable):
        return table
    return ResultTable(table)
