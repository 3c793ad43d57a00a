# ruff: noqa: F811  (the tests take pymer4's fixtures df and gammas as arguments)
"""pymer4 0.8.2's pymer4/tests/test_utils.py and the R-free test of
test_bridge.py (con2R), ported (imports and table access adapted; every
assertion kept, see test_pymer4_models.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
from pymer4_data import df, gammas  # noqa: F401  (pytest fixtures, named as pymer4's)

from mixedmodels import Lm
from mixedmodels.utils import con2R, result_to_table


def test_result_to_table(df):
    model = Lm("DV ~ IV1 + IV3", data=df)
    model.fit(summarize=False)

    formatted = result_to_table(model, drop_intercept=False)

    assert isinstance(formatted, pl.DataFrame)
    assert formatted.shape == (3, 6)
    assert set(["Predictor", "b", "ci", "t", "df", "p"]) == set(formatted.columns)
    assert formatted[0, -1] == "< .001"

    formatted = result_to_table(model, drop_intercept=True)

    assert isinstance(formatted, pl.DataFrame)
    assert formatted.shape == (2, 6)


def test_con2R():
    x = np.array([[-1, 0, 0, 1], [-0.5, -0.5, 0.5, 0.5], [-3 / 3, 1 / 3, 1 / 3, 1 / 3]])
    out = con2R(x)
    assert out.shape == (4, 3)
    names = ["1 v s4", "1+2 vs 3+4", "1 vs 2+3+4"]
    out = con2R(x, names=names)
    assert isinstance(out, pl.DataFrame)
    assert [x == y for x, y in zip(out.columns, names, strict=True)]
    assert out.shape == (4, 3)

    out = con2R(np.array([-1, 0, 1]))
    assert np.allclose(out, np.array([[-0.5, 0.40824829], [0.0, -0.81649658], [0.5, 0.40824829]]))
