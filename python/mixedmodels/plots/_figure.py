"""Shared plumbing of the plotting functions: matplotlib imported on first use
(it is the ``plot`` extra, not a dependency), new axes or the caller's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["new_axes", "panels", "pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError saying which extra installs it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'mixedmodels[plot]'") from None
    return plt


def new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    """``ax``, or the axes of a new figure of ``figsize``."""
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(1, 1, figsize=figsize)
    return ax


def panels(n: int, ax: Any, figsize: tuple[float, float], ncols: int = 3) -> tuple[Any, list[Any]]:
    """A figure with ``n`` panels (up to ``ncols`` a row), or the caller's:
    ``ax`` an Axes (``n == 1``) or a sequence of ``n`` Axes. Unused panels of a
    new grid are hidden."""
    if ax is not None:
        axes = [ax] if not isinstance(ax, Sequence) and not hasattr(ax, "flat") else list(getattr(ax, "flat", ax))
        if len(axes) != n:
            raise ValueError(f"ax: this plot has {n} panels, {len(axes)} axes were given")
        return axes[0].figure, axes
    cols = max(1, min(ncols, n))
    rows = -(-n // cols)
    fig, grid = pyplot().subplots(rows, cols, figsize=figsize, squeeze=False, layout="constrained")
    axes = list(grid.flat)
    for extra in axes[n:]:
        extra.set_visible(False)
    return fig, axes[:n]
