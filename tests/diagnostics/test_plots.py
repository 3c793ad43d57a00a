"""plot_influence (HLMdiag's dotplot_diag) and plot_hlm_resid, drawn with Agg."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from diag_refs import sleepstudy_fit

from mixedmodels.exceptions import DataError
from mixedmodels.plots import internal_cutoff


@pytest.fixture
def sleepstudy():
    return sleepstudy_fit()


def test_influence_dotplot(sleepstudy):
    m, _ = sleepstudy
    table = m.influence()
    ax = m.plot_influence("cooksd")
    values = table["cooksd"].to_numpy()
    lower, upper = internal_cutoff(values, "cooksd")
    assert lower == -np.inf and upper == pytest.approx(
        np.quantile(values, 0.75) + 3 * np.subtract(*np.quantile(values, [0.75, 0.25]))
    )
    extreme = values > upper
    points = [c.get_offsets() for c in ax.collections]
    assert sum(len(p) for p in points) == m.nobs
    assert len(points[-1]) == extreme.sum() > 0  # the extreme ones, as red triangles
    # the largest value at the top
    all_points = np.vstack(points)
    top = all_points[np.argmax(all_points[:, 1])]
    assert top[0] == pytest.approx(values.max())
    assert [line.get_xdata()[0] for line in ax.lines] == [pytest.approx(upper)]
    labels = [t.get_text() for t in ax.texts]
    rows = table["row"].to_numpy()
    assert labels[0] == str(rows[np.argmax(values)]) and len(labels) == min(5, extreme.sum())
    plt.close("all")


def test_two_sided_cutoff_and_given_axes(sleepstudy):
    m, _ = sleepstudy
    _fig, ax = plt.subplots()
    got = m.plot_influence("covratio", level="Subject", cutoff=(0.9, 1.1), ax=ax)
    assert got is ax
    assert sorted(line.get_xdata()[0] for line in ax.lines) == [0.9, 1.1]
    assert ax.get_ylabel() == "Subject"
    with pytest.raises(DataError, match="measure 'hat'"):
        m.plot_influence("hat")
    plt.close("all")


def test_residual_panel(sleepstudy):
    m, _ = sleepstudy
    fig = m.plot_hlm_resid()
    left, right = fig.axes
    assert len(left.collections[0].get_offsets()) == m.nobs
    np.testing.assert_allclose(np.sort(right.collections[0].get_offsets()[:, 1]), np.sort(m.residuals))
    assert left.get_xlabel() == ".fitted" and right.get_ylabel() == ".resid"
    fig2, axes = plt.subplots(1, 2)
    assert m.plot_hlm_resid(level="Subject", ax=axes) is fig2
    assert [a.get_ylabel() for a in axes] == [".ranef.intercept", ".ranef.days"]
    with pytest.raises(ValueError, match="this plot has 2 panels"):
        m.plot_hlm_resid(ax=[axes[0]])
    plt.close("all")
