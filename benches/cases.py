"""Benchmark cases: which model, on which data, run by which tools.

A case names a *kind* of work (``lmer``: a plain REML fit; ``lmer_satterthwaite``:
a fit plus Satterthwaite degrees of freedom) that every worker knows how to do
(``workers/python_worker.py`` for ``ours`` and ``mixedlm``, ``workers/r_worker.R``
for ``lme4``), a formula, and a data builder that writes the data once to the
cache directory (parquet for the Python tools, CSV for R; never in the repo).

To add a case of an existing kind, add a ``Case`` to ``build_cases``. A new kind
(parametric bootstrap, ``glmer``) also needs a runner in each worker; pass its
options (number of refits, family, ...) in ``Case.params``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_DIR = REPO_ROOT / "python" / "mixedmodels" / "datasets"
DEFAULT_CACHE_DIR = Path(os.environ.get("MIXEDMODELS_BENCH_CACHE", Path(tempfile.gettempdir()) / "mixedmodels-bench"))
TOOLS = ("ours", "lme4", "mixedlm")


@dataclass(frozen=True)
class DataFiles:
    """The same data as parquet (Python tools) and CSV (R)."""

    parquet: Path
    csv: Path
    factors: tuple[str, ...]  # columns R and mixedlm must read as factors / categories
    n_rows: int


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    formula: str
    description: str
    data: Callable[[Path], DataFiles]  # builds (or reuses) the data files in a cache dir
    tools: tuple[str, ...] = TOOLS
    params: Mapping[str, Any] = field(default_factory=dict)  # kind-specific options
    max_repeat: Mapping[str, int] = field(default_factory=dict)  # per-tool cap on --repeat

    def worker_spec(self, tool: str, files: DataFiles, repeat: int) -> dict[str, Any]:
        """What a worker process needs to run this case (sent as JSON)."""
        return {
            "case": self.name,
            "tool": tool,
            "kind": self.kind,
            "formula": self.formula,
            "parquet": str(files.parquet),
            "csv": str(files.csv),
            "factors": list(files.factors),
            "repeat": min(repeat, self.max_repeat.get(tool, repeat)),
            "params": dict(self.params),
        }


# --------------------------------------------------------------------- data


def _write_atomically(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".csv":
        frame.write_csv(tmp)
    else:
        frame.write_parquet(tmp)
    tmp.replace(path)


def _is_fresh(path: Path, source: Path) -> bool:
    return path.exists() and path.stat().st_mtime >= source.stat().st_mtime


def insteval_data(cache_dir: Path) -> DataFiles:
    """InstEval from the package's parquet; a CSV copy for R in the cache dir."""
    parquet = DATASETS_DIR / "insteval.parquet"
    csv = cache_dir / "insteval.csv"
    frame = pl.read_parquet(parquet)
    if not _is_fresh(csv, parquet):
        _write_atomically(frame, csv)
    return DataFiles(parquet, csv, ("s", "d", "dept", "service"), frame.height)


def simulate_crossed(n_rows: int, n_g1: int, n_g2: int, seed: int) -> pl.DataFrame:
    """y = 1 + 0.5 x + b1[g1] + b2[g2] + e; sd(b1)=0.5, sd(b2)=0.3, sd(e)=1."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_rows)
    g1 = rng.integers(0, n_g1, n_rows)
    g2 = rng.integers(0, n_g2, n_rows)
    b1 = rng.normal(0.0, 0.5, n_g1)
    b2 = rng.normal(0.0, 0.3, n_g2)
    y = 1.0 + 0.5 * x + b1[g1] + b2[g2] + rng.standard_normal(n_rows)
    return pl.DataFrame({"y": y, "x": x, "g1": g1, "g2": g2}).with_columns(
        pl.format("a{}", "g1").alias("g1"), pl.format("b{}", "g2").alias("g2")
    )


def crossed_data(n_rows: int, n_g1: int, n_g2: int, seed: int = 20240501) -> Callable[[Path], DataFiles]:
    """A data builder for ``simulate_crossed``, cached by its parameters."""

    def build(cache_dir: Path) -> DataFiles:
        stem = cache_dir / f"crossed_{n_rows}_{n_g1}x{n_g2}_seed{seed}"
        parquet, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
        if not (parquet.exists() and csv.exists()):
            frame = simulate_crossed(n_rows, n_g1, n_g2, seed)
            _write_atomically(frame, parquet)
            _write_atomically(frame, csv)
        return DataFiles(parquet, csv, ("g1", "g2"), n_rows)

    return build


# -------------------------------------------------------------------- cases

INSTEVAL_FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"


def build_cases(quick: bool = False) -> dict[str, Case]:
    """All cases by name; ``quick`` shrinks the synthetic data for a smoke test."""
    n_rows, n_g1, n_g2 = (100_000, 2_000, 200) if quick else (1_000_000, 20_000, 2_000)
    cases = [
        Case(
            name="insteval_fit",
            kind="lmer",
            formula=INSTEVAL_FORMULA,
            description="InstEval (73,421 rows; 2,972 x 1,128 x 14 levels), plain REML fit",
            data=insteval_data,
        ),
        Case(
            name="insteval_satterthwaite",
            kind="lmer_satterthwaite",
            formula=INSTEVAL_FORMULA,
            description=(
                "InstEval REML fit + Satterthwaite df (R: lmerTest::lmer + summary; mixedlm: lmer + satterthwaite_df)"
            ),
            data=insteval_data,
        ),
        Case(
            name="synthetic_1m",
            kind="lmer",
            formula="y ~ x + (1 | g1) + (1 | g2)",
            description=(
                f"synthetic {n_rows:,} rows, crossed factors of {n_g1:,} x {n_g2:,} levels,"
                " plain REML fit" + (" (--quick size)" if quick else "")
            ),
            data=crossed_data(n_rows, n_g1, n_g2),
            max_repeat={} if quick else {"lme4": 1},
        ),
    ]
    return {case.name: case for case in cases}
