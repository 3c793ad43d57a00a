"""The caterpillar plot of the random effects, lme4's
``dotplot(ranef(m, condVar = TRUE))``: for each random-effects term and each
of its columns, the conditional modes of the levels, sorted, with intervals of
``z`` conditional standard deviations."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mixedmodels.plots._figure import panels

__all__ = ["plot_ranef"]


def plot_ranef(
    model: Any,
    group: str | None = None,
    level: float = 0.95,
    sort: bool = True,
    figsize: tuple[float, float] | None = None,
    ax: Any = None,
) -> Any:
    """Conditional modes with ``level`` intervals (lme4's condVar), one panel a
    column of each random-effects term (of ``group`` only, if given). Levels
    are sorted by the term's first column, as lme4's dotplot sorts them.
    Returns the Figure; ``ax``: an Axes or a sequence of Axes, one a panel."""
    terms = [
        (t, v)
        for t, v in zip(model.random_terms, model.ranef_condvar().values(), strict=True)
        if group is None or t.group == group
    ]
    if not terms:
        groups = sorted({t.group for t in model.random_terms})
        raise ValueError(f"group '{group}' is not a grouping factor ({', '.join(groups)})")
    n = sum(len(t.cnames) for t, _ in terms)
    most = max(len(t.levels) for t, _ in terms)
    figsize = figsize or (4 * min(n, 3), max(3.0, 0.22 * most + 1.2) * -(-n // 3))
    fig, axes = panels(n, ax, figsize)
    z = stats.norm.ppf(0.5 + level / 2)
    k = 0
    for term, condvar in terms:
        order = np.argsort(term.ranef[:, 0], kind="stable") if sort else np.arange(len(term.levels))
        labels = [term.levels[i] for i in order]
        for j, name in enumerate(term.cnames):
            modes = term.ranef[order, j]
            half = z * np.sqrt(np.maximum(condvar[order, j, j], 0.0))
            a = axes[k]
            a.errorbar(modes, np.arange(len(labels)), xerr=half, fmt="o", ms=4, color="black", ecolor="grey", capsize=0)
            a.axvline(0, linestyle="--", color="grey", linewidth=1, zorder=0)
            a.set_yticks(np.arange(len(labels)), labels if j == 0 else [""] * len(labels))
            a.set_ylim(-0.5, len(labels) - 0.5)
            a.set_title(f"{term.group}: {name}", fontsize="medium")
            k += 1
    return fig
