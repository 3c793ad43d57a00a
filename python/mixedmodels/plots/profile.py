"""The profile-likelihood intervals of a linear mixed model
(``confint(method="profile")``, lme4's ``confint(profile(m))``), each
parameter in its own panel: the estimate, the profile interval (thick) and,
where there is one, the Wald interval (thin) for comparison. A profile
interval that is not symmetric about the estimate, unlike the Wald one, is
what the profile shows that the Wald approximation misses."""

from __future__ import annotations

from typing import Any

from mixedmodels.plots._figure import panels

__all__ = ["plot_profile"]


def plot_profile(
    model: Any,
    level: float = 0.95,
    wald: bool = True,
    figsize: tuple[float, float] | None = None,
    ax: Any = None,
) -> Any:
    """One panel a parameter (lme4's names: ``sd_(Intercept)|Subject``,
    ``cor_...``, ``sigma``, the fixed effects) with its profile interval at
    ``level`` and, with ``wald``, its Wald interval. Returns the Figure."""
    profile = model.confint(method="profile", level=level)
    wald_ci = model.confint(method="Wald", level=level) if wald else None
    estimates = dict(zip(model.sd_cor_names, model.sd_cor, strict=True))
    estimates["sigma"] = model.sigma
    estimates.update(zip(model.fixed_names, model.beta, strict=True))
    terms = profile["term"].to_list()
    n = len(terms)
    figsize = figsize or (4 * min(n, 3), 1.9 * -(-n // 3))
    fig, axes = panels(n, ax, figsize)
    for a, (term, lower, upper) in zip(axes, profile.iter_rows(), strict=True):
        a.plot([lower, upper], [1, 1], "-", color="black", linewidth=4, solid_capstyle="butt", label="profile")
        if wald_ci is not None:
            w_lower, w_upper = wald_ci.row(by_predicate=_is(term))[1:]
            if w_lower is not None and w_upper is not None:
                a.plot([w_lower, w_upper], [0, 0], "-", color="grey", linewidth=1.5, label="Wald")
        a.plot([estimates[term]], [1], "o", color="white", markeredgecolor="black", ms=7, zorder=3, label="estimate")
        a.set_yticks([0, 1], ["Wald", "profile"] if wald_ci is not None else ["", "profile"])
        a.set_ylim(-0.6, 1.6)
        a.set_title(term, fontsize="medium")
    return fig


def _is(term: str) -> Any:
    import polars as pl

    return pl.col("term") == term
