"""Confidence intervals for a fitted mixed model: Wald, profile likelihood and
parametric bootstrap, with lme4's row names (`sd_(Intercept)|Subject`,
`cor_Days.(Intercept)|Subject`, `sigma`, then the fixed effects). Generalized
models have no `sigma` row.

The profile and the bootstrap run in the Rust core: the profile of a linear
model on the ML deviance of the model refitted with ML, as lme4 1.1-31 does
(so REML and ML fits get the same profile intervals), that of a GLMM on the
deviance it minimised (Laplace or quadrature; families without a dispersion
parameter); the bootstrap with rayon, each replicate seeded from (seed,
replicate number) so the draws do not depend on the number of threads or on
how the work is chunked.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels._args import check_fits_in_memory, seed_value, whole_number
from mixedmodels.exceptions import DataError

METHODS = ("Wald", "profile", "boot")


def parameter_names(model: Any) -> list[str]:
    """lme4's names of the parameters: sd/cor, `sigma` (linear models), fixed effects."""
    sigma = [] if model.is_generalized else ["sigma"]
    return [*model.sd_cor_names, *sigma, *model.fixed_names]


def confint(
    model: Any,
    method: str = "Wald",
    level: float = 0.95,
    n_boot: int = 500,
    seed: int | None = None,
    progress: bool | None = None,
) -> pl.DataFrame:
    """Intervals for every parameter: `term, lower, upper` (Wald gives none for
    the variance parameters, as lme4)."""
    if method not in METHODS:
        raise DataError(f"method must be one of {', '.join(METHODS)}, not '{method}'")
    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1, not {level}")
    names = parameter_names(model)
    nvar = len(names) - len(model.fixed_names)
    if method == "Wald":
        beta = model.beta
        se = np.sqrt(np.diag(model.vcov))
        z = stats.norm.ppf(0.5 + level / 2)
        lower = [None] * nvar + list(beta - z * se)
        upper = [None] * nvar + list(beta + z * se)
    elif method == "profile":
        bounds = model.core.profile(level)
        lower = [b[0] for b in bounds]
        upper = [b[1] for b in bounds]
    else:
        reps = bootstrap(model, n_boot=n_boot, seed=seed, progress=progress)
        a = (1 - level) / 2
        values = reps.select(names).to_numpy()
        ok = ~np.isnan(values).any(axis=1)
        lower = list(np.quantile(values[ok], a, axis=0))
        upper = list(np.quantile(values[ok], 1 - a, axis=0))
    return pl.DataFrame(
        {"term": names, "lower": lower, "upper": upper},
        schema={"term": pl.String, "lower": pl.Float64, "upper": pl.Float64},
    )


def profile(model: Any, level: float = 0.95) -> pl.DataFrame:
    """The likelihood profiles behind ``confint(method="profile")``, as lme4's
    ``profile(m)`` in long form: ``term, value, zeta``, where zeta is the
    signed square root of the ML deviance's rise with the parameter held at
    ``value`` and the others re-optimized; the rows are the points the search
    for the interval's ends at ``level`` evaluated (the estimate, zeta 0,
    among them), in increasing value for each parameter."""
    if model.is_generalized:
        raise DataError("likelihood profiles are available for linear mixed models only")
    if not 0 < level < 1:
        raise DataError(f"level must be between 0 and 1, not {level}")
    names = parameter_names(model)
    rows = [
        (name, x, z) for name, (_, _, points) in zip(names, model.core.profile(level), strict=True) for x, z in points
    ]
    return pl.DataFrame(rows, schema={"term": pl.String, "value": pl.Float64, "zeta": pl.Float64}, orient="row")


def bootstrap(model: Any, n_boot: int = 500, seed: int | None = None, progress: bool | None = None) -> pl.DataFrame:
    """Parametric bootstrap replicates (lme4's bootMer with new random
    effects): one row a replicate, columns the sd/cor parameters, `sigma` and
    the fixed effects. Failed refits are rows of nulls."""
    n_boot = whole_number(n_boot, "n_boot", minimum=1)
    seed = seed_value(seed)
    # a row a replicate: the sd/cor parameters, sigma and the fixed effects
    check_fits_in_memory(n_boot * (len(model.theta) + 2 + len(model.beta)), f"bootstrap({n_boot})")
    chunks = _chunk_sizes(n_boot)
    parts: list[dict[str, Any]] = []
    start = time.perf_counter()
    done = 0
    show = progress
    for size in chunks:
        parts.append(model.core.bootstrap(done, size, int(seed)))
        done += size
        if show is None and time.perf_counter() - start > 2.0:
            show = True  # a long run: show progress from here on
        if show:
            _progress_bar(done, n_boot, time.perf_counter() - start)
    if show:
        sys.stderr.write("\n")
    sd_cor = np.vstack([p["sd_cor"] for p in parts])
    beta = np.vstack([p["beta"] for p in parts])
    sigma = np.concatenate([p["sigma"] for p in parts])
    cols: dict[str, Any] = {}
    for j, name in enumerate(model.sd_cor_names):
        cols[name] = sd_cor[:, j]
    if not model.is_generalized:
        cols["sigma"] = sigma
    for j, name in enumerate(model.fixed_names):
        cols[name] = beta[:, j]
    return pl.DataFrame(cols).fill_nan(None)


def _chunk_sizes(n: int, pieces: int = 20) -> list[int]:
    """Split n replicates into about `pieces` chunks (progress updates)."""
    size = max(1, -(-n // pieces))
    return [min(size, n - i) for i in range(0, n, size)]


def _progress_bar(done: int, total: int, elapsed: float, width: int = 30) -> None:
    filled = int(width * done / total)
    eta = elapsed / done * (total - done) if done else 0.0
    sys.stderr.write(
        f"\rbootstrap [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {elapsed:.1f}s elapsed, ~{eta:.1f}s left"
    )
    sys.stderr.flush()
