"""Bundled example datasets, as polars DataFrames.

The data are those of R's lme4 (sleepstudy, Dyestuff, Dyestuff2, Penicillin,
Pastes, cbpp, grouseticks, InstEval), nlme (Machines), mlmRev (Chem97) and
geepack (dietox). Columns that are factors in R keep R's level order: a
polars String column where R's levels are the sorted ones, a polars Enum in
R's order where they are not (cbpp's ``herd`` 1, 2, ..., 15; InstEval's
``dept``; Machines' ``Worker``; Chem97's ``gender`` M, F), so ranef tables and
reference levels read as lme4's. R's ordered factors (Machines' ``Worker``,
InstEval's ``studage`` and ``lectage``) are plain factors here: pass
``fit(ordered=True)`` or a ``"poly"`` contrast for R's polynomial coding. The
rest are numbers.

``sample_data`` is pymer4's sample data (``pymer4/resources/sample_data.csv``
of pymer4 0.8.2, github.com/ejolly/pymer4, MIT licence, Copyright (c) 2018
Eshin Jolly), the data of pymer4's quick start and tutorials, unchanged:
564 rows, ``Group`` (47 groups), ``IV1``, ``IV2`` (numbers), ``IV3`` (0.5, 1,
1.5), ``DV`` (continuous) and ``DV_l`` (0/1).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

_HERE = Path(__file__).resolve().parent

DESCRIPTIONS = {
    "sleepstudy": "Reaction times (ms) of 18 subjects over 10 days of sleep deprivation (lme4)",
    "sleepstudy_unbal": "sleepstudy with 60 rows removed and a two-level subject group",
    "dietox": "Weights of 72 pigs over 12 weeks with vitamin E and copper doses (geepack)",
    "penicillin": "Penicillin potency: 24 plates crossed with 6 samples (lme4)",
    "pastes": "Paste strength: casks nested in batches (lme4)",
    "dyestuff": "Dyestuff yield of 6 batches, 5 preparations each (lme4)",
    "dyestuff2": "Simulated dyestuff data with a singular fit (lme4)",
    "machines": "Productivity scores of 6 workers on 3 machines (nlme)",
    "insteval": "University lecture evaluations: students crossed with lecturers (lme4)",
    "chem97": "A-level chemistry scores of 31,022 students in schools and LEAs (mlmRev)",
    "cbpp": "Contagious bovine pleuropneumonia incidence in 15 herds (lme4)",
    "grouseticks": "Ticks on red grouse chicks, broods within locations (lme4)",
    "grouseticks_std": "grouseticks with HEIGHT standardized",
    "sample_data": "pymer4's sample data: DV, DV_l (0/1), IV1-IV3 in 47 groups (pymer4 0.8.2)",
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return sorted(DESCRIPTIONS)


def load_dataset(name: str) -> pl.DataFrame:
    """Load a bundled dataset by name (case-insensitive), e.g. ``load_dataset("sleepstudy")``."""
    key = name.lower()
    path = _HERE / f"{key}.parquet"
    if key not in DESCRIPTIONS or not path.exists():
        raise ValueError(f"unknown dataset '{name}'; available: {', '.join(list_datasets())}")
    return pl.read_parquet(path)


__all__ = ["DESCRIPTIONS", "list_datasets", "load_dataset"]
