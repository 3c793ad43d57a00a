"""pymer4 0.8.2's test fixtures (pymer4/tests/conftest.py): its sample data and
the gammas data, read with pandas as pymer4's tests read them. A module the
tests import (not a second conftest.py, which would shadow tests/conftest.py
for the modules that import from it)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pytest import fixture

RESOURCES = Path(__file__).parents[1] / "fixtures" / "pymer4"


@fixture(scope="module")
def gammas() -> pd.DataFrame:
    return pd.read_csv(RESOURCES / "gammas.csv").rename(columns={"BOLD signal": "bold"})


@fixture(scope="module")
def df() -> pd.DataFrame:
    return pd.read_csv(RESOURCES / "sample_data.csv")
