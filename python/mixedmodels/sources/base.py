"""What an out-of-core engine does for a fit, and the steps every engine shares.

An engine (:class:`Source` subclass) answers four questions about its rows:
its columns and their types, a pilot (the first complete rows, in memory),
the first pass (row counts, distinct values of the factors' columns, the
moments of ``scale()``), and the second pass (the sums the core's plan
asks for). :meth:`Source.fit_lmer` runs the steps with the core in between;
:meth:`Source.predictions` adds fitted values to the engine's own frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import polars as pl

from mixedmodels import _core
from mixedmodels.contrasts import Coding
from mixedmodels.exceptions import DataError

# Rows of the pilot: enough for the centring means, few enough to be instant.
PILOT_ROWS = 10_000

# The pass also sums the per-group pieces (influence and cross-validation by
# group, :mod:`mixedmodels.group_sums`) when they take at most this many bytes.
GROUP_SUMS_MAX_BYTES = 256e6


@dataclass
class StreamedFit:
    """What a fit from sums keeps beside the core's fit: the plan, the
    distinct key values the lookups refer to, and the coding."""

    plan: Any
    distinct: list[pl.DataFrame]
    requests: list[list[str]]
    used: list[str]
    coding: Coding
    ranef_tables: dict[int, Any] = field(default_factory=dict)

    def lookups(self, table: int) -> tuple[str, list[Any]]:
        """(key column, distinct key values) of a lookup's table."""
        column = self.requests[table][0]
        return column, self.distinct[table].get_column(column).to_list()


class Source:
    """Rows an engine holds; subclasses implement the engine's side."""

    engine: ClassVar[str] = ""
    extra: ClassVar[str] = ""

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        # Level orders of fit(factors=...): other values count as missing.
        self.level_filters: dict[str, list[str]] = {}

    # ------------------------------------------------- the engine's side
    def schema(self) -> list[tuple[str, bool]]:
        """Every column with whether it is numeric (else a factor)."""
        raise NotImplementedError

    def columns(self) -> list[str]:
        return [name for name, _ in self.schema()]

    def pilot(self, used: Sequence[str], n: int) -> pl.DataFrame:
        """The first ``n`` complete rows of the ``used`` columns, in memory."""
        raise NotImplementedError

    def distinct(self, columns: Sequence[str], used: Sequence[str] | None) -> pl.DataFrame:
        """The distinct rows of ``columns`` (over the rows complete in
        ``used``; every row when None), sorted, in memory."""
        raise NotImplementedError

    def complete_frame(self, used: Sequence[str]) -> Any:
        """The engine's frame of the rows complete in ``used`` (the rows of the fit)."""
        raise NotImplementedError

    def first_pass(
        self, used: Sequence[str], requests: Sequence[Sequence[str]], moments: Sequence[tuple[Any, float]]
    ) -> tuple[int, int, list[pl.DataFrame], list[tuple[float, float, float]]]:
        """(rows, complete rows, distinct rows of each request over the
        complete rows, (n, sum(x - shift), sum((x - shift)^2)) of each moment over every row)."""
        raise NotImplementedError

    def second_pass(self, fit: StreamedFit) -> Any:
        """The core's ReducedStats of the plan's sums over the complete rows."""
        raise NotImplementedError

    def predictions(
        self, fit: StreamedFit, core: Any, frame: Any, outputs: dict[str, str], use_rfx: bool = True
    ) -> Any:
        """``frame`` (the engine's, lazy) with columns added: for each name in
        ``outputs``, the linear predictor X beta + Z b + offset (``"eta"``) or
        the response residual (``"resid"``); with ``use_rfx=False``, X beta +
        offset. Levels the fit did not see get zero random effects."""
        raise NotImplementedError

    # ---------------------------------------------------- shared steps
    def coding(self, factors: Any, ordered: bool, contrasts: Any, weights: Any) -> tuple[Coding, str | None]:
        """The factor coding of ``fit(factors=, ordered=, contrasts=)`` and the
        weights column: an out-of-core fit reads prior weights from a column."""
        if weights is not None and not isinstance(weights, str):
            raise DataError(
                "weights: an out-of-core fit reads the prior weights from a column of the data; give its name"
            )
        if weights is not None and weights not in self.columns():
            raise DataError(f"weights: column '{weights}' is not in the data")
        weighted = [c for c, spec in (factors or {}).items() if not _is_level_list(spec)]
        for c in factors or {}:
            if c not in self.columns():
                raise DataError(f"factors: column '{c}' is not in the data")
        coding = Coding.from_fit_arguments(self._levels_frame(weighted), factors, ordered, contrasts)
        self.level_filters = dict(coding.levels)
        return coding, weights

    def _levels_frame(self, columns: Sequence[str]) -> pl.DataFrame:
        """The distinct values of ``columns`` side by side (padded with nulls):
        what the coding reads to check contrast weights against the levels."""
        series = [self.distinct([c], None).get_column(c).cast(pl.String) for c in columns]
        height = max((len(v) for v in series), default=0)
        return pl.DataFrame([v.extend_constant(None, height - len(v)) for v in series])

    def fit_lmer(
        self,
        formula: str,
        coding: Coding,
        weights: str | None,
        reml: bool,
        derivatives: bool,
        max_feval: int,
        optimizer: dict[str, float] | None = None,
        method: str = "auto",
        progress: Callable[[dict[str, Any]], bool] | None = None,
        group_sums: bool | None = None,
    ) -> tuple[Any, StreamedFit]:
        """The two passes and the fit: (the core's LmerFit, what predictions
        need); ``progress`` receives the optimizer's records (see
        :mod:`mixedmodels.fit_trace`); ``group_sums`` as ``Lmer.fit``'s
        (:func:`with_group_sums`)."""
        schema = self.schema()
        probe = _core.SumsSetup(formula, schema, _empty_pilot(schema, coding), coding.contrasts, weights)
        used = list(probe.used)
        pilot = self.pilot(used, PILOT_ROWS)
        setup = _core.SumsSetup(formula, schema, coding.core_frame(pilot, used), coding.contrasts, weights)
        requests = [list(r) for r in setup.distinct_requests]
        n_rows, n_complete, distinct, moments = self.first_pass(used, requests, setup.moment_requests())
        core_distinct = [coding.core_frame(d, d.columns, partial=True) for d in distinct]
        plan = setup.learn(core_distinct, moments, n_rows, n_complete)
        plan = with_group_sums(plan, n_complete, group_sums)
        check_memory(plan, n_complete)
        fit = StreamedFit(plan, distinct, requests, used, coding)
        stats = self.second_pass(fit)
        core = _core.LmerFit.fit_sums(
            stats,
            reml=reml,
            derivatives=derivatives,
            max_feval=max_feval,
            optimizer=optimizer,
            method=method,
            progress=progress,
        )
        return core, fit


def with_group_sums(plan: Any, n: int, group_sums: bool | None) -> Any:
    """The plan, also summing the per-group pieces when ``group_sums`` is
    True, or None and they take at most ``GROUP_SUMS_MAX_BYTES`` for ``n``
    complete rows (``check_memory`` then counts them)."""
    if group_sums is None:
        group_sums = plan.group_pieces_bytes(n) <= GROUP_SUMS_MAX_BYTES
    return plan.with_group_pieces() if group_sums else plan


def _is_level_list(spec: Any) -> bool:
    """A ``factors=`` entry that orders levels (not contrast weights)."""
    return not isinstance(spec, dict) and not any(isinstance(v, dict) for v in spec)


def _empty_pilot(schema: list[tuple[str, bool]], coding: Coding) -> Any:
    """A pilot of no rows: the first setup only reads the formula and the schema."""
    return (0, [])


def check_memory(plan: Any, n: int) -> None:
    """Refuse a fit whose reduced system would not fit in the memory available."""
    need, description = plan.memory_estimate(n, os.cpu_count() or 1)
    available = available_memory()
    if available is not None and need > available:
        raise DataError(
            f"the model's reduced system needs about {description}, more than the {_size(available)} of memory "
            "available: fewer levels (or fewer crossed pairs of levels) are needed, or a bigger machine"
        )


def _size(b: float) -> str:
    return f"{b / 1e9:.1f} GB" if b >= 1e9 else f"{b / 1e6:.0f} MB"


def available_memory() -> float | None:
    """Bytes of memory available (Linux's MemAvailable), None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def missing_extra(extra: str, error: ImportError) -> DataError:
    """The error for an engine whose package is not installed."""
    return DataError(
        f"fitting a {extra.capitalize()} DataFrame needs the {extra} extra: pip install 'mixedmodels[{extra}]' "
        f"({error})"
    )


def as_float_array(values: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, dtype=np.float64))
