"""Run one benchmark case with one Python tool (``ours`` or ``mixedlm``).

Usage: ``python python_worker.py '<json spec>'`` (the spec comes from
``Case.worker_spec``). Prints one line ``BENCH_RESULT {json}`` on stdout.

Timed: building the model from the already-loaded data frame and fitting it
(plus the df computation for ``lmer_satterthwaite``), ``repeat`` times in this
process. Not timed: imports and reading the data (reported as ``import_s`` and
``load_s``). Memory: peak resident set size of this process (``VmHWM`` in
``/proc/self/status``, else ``getrusage``), which includes the interpreter and
the data; ``rss_after_load_mb`` is the resident size just before the first fit.

Kind ``bootstrap``: the model is fitted once, not timed (``base_fit_s``); what
is timed, ``repeat`` times, is the parametric bootstrap of that fit
(``params["nsim"]`` refits from ``params["seed"]``). The result has the base
fit's estimates (as for ``lmer``) and a ``bootstrap`` block summarizing the
replicates of theta and the fixed effects (see ``summarize_replicates``).

Kind ``glmer`` (``params["family"]``): timed as ``lmer``, the model built and
fitted by the Laplace approximation with each tool's defaults, standard errors
included (ours: ``Lmer(..., family=...).fit(summarize=False)``, which computes
them; mixedlm: ``glmer(...)`` then ``vcov()``, which it computes on demand).
The result has the log-likelihood, theta, the fixed effects and their standard
errors, and the evaluations of each optimisation stage.

Kind ``regression`` (ours only): timed, ``repeat`` times, building and fitting
``params["task"]``: ``lm2`` (``Lm2(formula, data, group=params["group"])``) or
``lm_permute`` (``Lm(formula, data).fit(permute=params["n_perm"], seed=...)``).
The result has each coefficient's estimate, SE, t and p-value.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np  # imported where used, so that other kinds' import_s is unchanged

MARKER = "BENCH_RESULT "
SINGULAR_TOL = 1e-4  # lme4's isSingular(): a diagonal element of theta below this


# ------------------------------------------------------------------- memory


def _proc_status_mb(field: str) -> float | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    return None


def peak_rss_mb() -> tuple[float, str]:
    """Peak resident set size of this process, and how it was measured."""
    peak = _proc_status_mb("VmHWM")
    if peak is not None:
        return peak, "VmHWM (/proc/self/status) of the worker process"
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, kB on Linux
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    return peak, "getrusage(RUSAGE_SELF).ru_maxrss of the worker process"


def current_rss_mb() -> float | None:
    return _proc_status_mb("VmRSS")


# --------------------------------------------------------------------- ours


def import_ours() -> None:
    import mixedmodels  # noqa: F401


def load_ours(spec: dict[str, Any]) -> Any:
    import polars as pl

    frame = pl.read_parquet(spec["parquet"])
    # Grouping columns become factors at load time, as the R worker's colClasses and
    # mixedlm's pandas categories do: an Enum of the sorted levels (R's level order).
    return frame.with_columns(
        pl.col(column).cast(pl.Enum(frame[column].unique().sort().cast(pl.String))) for column in spec["factors"]
    )


def fit_ours(spec: dict[str, Any], data: Any) -> Any:
    import mixedmodels as mm

    ddf = "Satterthwaite" if spec["kind"] == "lmer_satterthwaite" else "lme4"
    model = mm.Lmer(spec["formula"], data=data)
    model.fit(summarize=False, ddf=ddf)
    return model


def summarize_ours(model: Any) -> dict[str, Any]:
    opt = model.optsummary
    coefs = model.coefs
    terms = coefs["term"].to_list()
    df = dict(zip(terms, coefs["DF"].to_list(), strict=True)) if "DF" in coefs.columns else None
    return {
        "evaluations": {
            "objective": opt["feval"],
            "gradient": opt.get("geval", 0),  # each after the objective's factorization at the same theta
            "derivative": opt.get("derivative_evaluations", 0),
        },
        "optimizer": opt["optimizer"],
        "reml_crit": opt["fmin"],
        "theta": [float(t) for t in model.theta],
        "fixef": dict(zip(terms, coefs["Estimate"].to_list(), strict=True)),
        "df": df,
        "converged": bool(opt.get("converged", True)),
        "notes": list(model.warnings),
    }


# ------------------------------------------------------------------ mixedlm


def import_mixedlm() -> None:
    import mixedlm

    # mixedlm imports its submodules lazily, on first attribute access (~1.6 s):
    # resolve them here so that the first timed fit does not pay for imports.
    _ = mixedlm.lmer, mixedlm.satterthwaite_df


def load_mixedlm(spec: dict[str, Any]) -> Any:
    import pandas as pd

    frame = pd.read_parquet(spec["parquet"])
    for column in spec["factors"]:
        frame[column] = frame[column].astype("category")  # mixedlm needs categories
    return frame


def fit_mixedlm(spec: dict[str, Any], data: Any) -> Any:
    import mixedlm

    result = mixedlm.lmer(spec["formula"], data, REML=True)
    df = None
    if spec["kind"] == "lmer_satterthwaite":
        df = mixedlm.satterthwaite_df(result)
    return result, df


def summarize_mixedlm(fitted: Any) -> dict[str, Any]:
    result, df = fitted
    fixef = {name: float(value) for name, value in result.fixef().items()}
    return {
        "evaluations": {"objective": int(result.function_evals), "derivative": None},
        # mixedlm's default ("auto") is L-BFGS-B with exact gradients: each of its
        # evaluations computes the deviance and its gradient.
        "optimizer": str(result.optimizer),
        "reml_crit": float(result.REMLcrit()),
        "theta": [float(t) for t in result.theta],
        "fixef": fixef,
        "df": None if df is None else dict(zip(df.param_names, map(float, df.df), strict=True)),
        "converged": bool(result.converged),
        "notes": [],
    }


# -------------------------------------------------------------------- glmer


def fit_glmer_ours(spec: dict[str, Any], data: Any) -> Any:
    import mixedmodels as mm

    model = mm.Lmer(spec["formula"], data=data, family=spec["params"]["family"])
    model.fit(summarize=False)  # Laplace (nAGQ=1); computes the standard errors
    return model


def summarize_glmer_ours(model: Any) -> dict[str, Any]:
    opt = model.optsummary
    coefs = model.coefs
    terms = coefs["term"].to_list()
    return {
        "evaluations": {
            "objective": opt["feval"],
            "stage1": opt.get("feval_stage1"),
            "stage2": opt.get("feval_stage2"),
            "derivative": opt.get("derivative_evaluations", 0),  # the Hessian for the standard errors
        },
        "optimizer": opt["optimizer"],
        "loglik": float(model.logLike),
        "theta": [float(t) for t in model.theta],
        "fixef": dict(zip(terms, coefs["Estimate"].to_list(), strict=True)),
        "se": dict(zip(terms, coefs["SE"].to_list(), strict=True)),
        "converged": bool(opt.get("converged", True)),
        "notes": list(model.warnings),
    }


# mixedlm does not keep its evaluation counts: its GLMM optimizer calls
# mixedlm.estimation.laplace.run_optimizer once a stage (nAGQ = 0, then the
# Laplace stage), and this wrapper counts the calls of the objective it is given
# (one list entry a call of run_optimizer). A Python counter a call: negligible
# next to an evaluation on 10^4 to 10^5 rows.
_MIXEDLM_STAGE_EVALUATIONS: list[int] = []


def import_glmer_mixedlm() -> None:
    import mixedlm
    import mixedlm.estimation.laplace as laplace
    from mixedlm.families import Binomial  # noqa: F401

    _ = mixedlm.glmer  # resolve the lazy imports outside the timed fits
    original = laplace.run_optimizer

    def counting(fun: Callable[[Any], float], x0: Any, *args: Any, **kwargs: Any) -> Any:
        _MIXEDLM_STAGE_EVALUATIONS.append(0)

        def counted(values: Any) -> float:
            _MIXEDLM_STAGE_EVALUATIONS[-1] += 1
            return fun(values)

        return original(counted, x0, *args, **kwargs)

    laplace.run_optimizer = counting


MIXEDLM_FAMILIES = {"binomial": "Binomial", "poisson": "Poisson"}


def fit_glmer_mixedlm(spec: dict[str, Any], data: Any) -> Any:
    import mixedlm
    import mixedlm.families

    family = getattr(mixedlm.families, MIXEDLM_FAMILIES[spec["params"]["family"]])()
    _MIXEDLM_STAGE_EVALUATIONS.clear()
    result = mixedlm.glmer(spec["formula"], data, family=family)  # nAGQ=1: Laplace
    start = time.perf_counter()
    vcov = result.vcov()  # computed on demand: what a user asking for standard errors pays
    return result, vcov, list(_MIXEDLM_STAGE_EVALUATIONS), time.perf_counter() - start


def summarize_glmer_mixedlm(fitted: Any) -> dict[str, Any]:
    import numpy as np

    result, vcov, stages, vcov_s = fitted
    fixef = {name: float(value) for name, value in result.fixef().items()}
    se = dict(zip(fixef, np.sqrt(np.diag(vcov)).tolist(), strict=True))
    return {
        "evaluations": {
            "objective": sum(stages),
            "stage1": stages[0] if len(stages) > 1 else None,
            "stage2": stages[-1] if stages else None,
            "derivative": None,  # vcov from the information matrix at the mode, no Hessian evaluations
        },
        "optimizer": f"{result.optimizer} ({result.n_iter} iterations)",
        "loglik": float(result.logLik().value),
        "theta": [float(t) for t in result.theta],
        "fixef": fixef,
        "se": se,
        "se_time_s": vcov_s,  # of the last fit, included in its time
        "converged": bool(result.converged),
        "notes": [] if result.converged else [f"not converged: {result.message}"],
    }


# ---------------------------------------------------------------- bootstrap
#
# Every tool's replicates are reduced to the same matrix: one row a replicate,
# columns theta (lme4's layout: per random-effects term, the lower triangle of
# its relative covariance factor, column by column) then the fixed effects; a
# failed refit is a row of NaN.


def lower_triangle(k: int) -> list[tuple[int, int]]:
    """(row, column) of a k x k lower triangle, column by column (lme4's theta order)."""
    return [(i, j) for j in range(k) for i in range(j, k)]


def theta_diagonal(sizes: list[int]) -> list[int]:
    """Positions in theta of the diagonal elements, for terms of ``sizes`` components."""
    positions, start = [], 0
    for k in sizes:
        positions += [start + n for n, (i, j) in enumerate(lower_triangle(k)) if i == j]
        start += k * (k + 1) // 2
    return positions


def summarize_replicates(
    draws: np.ndarray, names: list[str], diagonal: list[int] | None, n_failed: int | None = None
) -> dict[str, Any]:
    """Means, SDs and 2.5% / 97.5% percentiles (numpy's default, R's type 7) of
    the replicates without a NaN; failed refits (rows of NaN, or as the tool
    counts them) are counted."""
    import numpy as np

    ok = ~np.isnan(draws).any(axis=1)
    good = draws[ok]
    singular = None if diagonal is None else int((good[:, diagonal] < SINGULAR_TOL).any(axis=1).sum())
    n_failed = int(np.isnan(draws).all(axis=1).sum()) if n_failed is None else n_failed
    return {
        "nsim": int(draws.shape[0]),
        "n_failed": n_failed,
        "n_ok": int(ok.sum()),  # fewer than nsim - n_failed if a refit gave some NaN estimates
        "n_singular": singular,
        "singular_tol": SINGULAR_TOL,
        "parameters": names,
        "mean": good.mean(axis=0).tolist(),
        "sd": good.std(axis=0, ddof=1).tolist(),
        "q025": np.quantile(good, 0.025, axis=0).tolist(),
        "q975": np.quantile(good, 0.975, axis=0).tolist(),
    }


def _cholesky_semidefinite(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a positive semidefinite matrix (zero columns where singular)."""
    import numpy as np

    k = a.shape[0]
    low = np.zeros_like(a)
    for j in range(k):
        low[j, j] = np.sqrt(max(a[j, j] - low[j, :j] @ low[j, :j], 0.0))
        for i in range(j + 1, k):
            low[i, j] = (a[i, j] - low[i, :j] @ low[j, :j]) / low[j, j] if low[j, j] > 0 else 0.0
    return low


def theta_from_sd_cor(sd_cor: np.ndarray, sigma: float, sizes: list[int]) -> np.ndarray:
    """lme4's theta from lme4's sd/cor parameters (per term, the lower triangle
    column by column: standard deviations on the diagonal, correlations off it)
    and sigma: the Cholesky factor of each term's covariance, divided by sigma.
    If a standard deviation is 0 the factor is not unique (lme4 may put the
    remaining variance in another element); this gives the one with zeros."""
    import numpy as np

    if np.isnan(sd_cor).all() or not np.isfinite(sigma):  # a failed refit
        return np.full(len(sd_cor), np.nan)
    theta, start = [], 0
    for k in sizes:
        cells = lower_triangle(k)
        block = dict(zip(cells, sd_cor[start : start + len(cells)], strict=True))
        sd = np.array([block[(i, i)] for i in range(k)])
        cov = np.diag(sd**2)
        for (i, j), value in block.items():
            if i != j:
                cov[i, j] = cov[j, i] = value * sd[i] * sd[j] if sd[i] > 0 and sd[j] > 0 else 0.0
        low = _cholesky_semidefinite(cov) / sigma
        theta += [low[i, j] for i, j in cells]
        start += len(cells)
    return np.array(theta)


def prepare_bootstrap_ours(spec: dict[str, Any], data: Any) -> Any:
    import mixedmodels as mm

    model = mm.Lmer(spec["formula"], data=data)
    model.fit(summarize=False)
    return model


def bootstrap_ours(spec: dict[str, Any], model: Any) -> Any:
    return model.bootstrap(spec["params"]["nsim"], seed=spec["params"]["seed"])


def replicates_ours(model: Any, reps: Any) -> dict[str, Any]:
    """Our replicates are sd/cor, sigma and the fixed effects: theta is derived
    from them (checked on the base fit), so that all tools compare theta."""
    import numpy as np

    sizes = [len(term.cnames) for term in model.random_terms]
    n_theta = len(model.theta)
    if sum(k * (k + 1) // 2 for k in sizes) != n_theta:
        raise ValueError("theta from sd/cor: only unstructured (correlated) terms are supported")
    base = theta_from_sd_cor(model.sd_cor, float(model.sigma), sizes)
    if not np.allclose(base, model.theta, rtol=1e-6, atol=1e-8):
        raise ValueError(f"theta from sd/cor {base} does not reproduce the fit's theta {model.theta}")
    sd_cor = reps.select(model.sd_cor_names).to_numpy()
    sigma = reps["sigma"].to_numpy()
    fixed = model.fixed_names
    theta = np.vstack([theta_from_sd_cor(row, s, sizes) for row, s in zip(sd_cor, sigma, strict=True)])
    draws = np.hstack([theta, reps.select(fixed).to_numpy()])
    labels = []
    for term in model.random_terms:
        names = term.cnames
        k = len(names)
        labels += [
            f"{term.group}.{names[i]}" if i == j else f"{term.group}.{names[i]}.{names[j]}"
            for i, j in lower_triangle(k)
        ]
    return {
        "draws": draws,
        "names": [f"theta_{n + 1}" for n in range(n_theta)] + list(fixed),
        "theta_labels": labels,
        "diagonal": theta_diagonal(sizes),
        "evaluations_per_refit": None,  # not exposed per replicate
    }


def prepare_bootstrap_mixedlm(spec: dict[str, Any], data: Any) -> Any:
    import mixedlm

    return mixedlm.lmer(spec["formula"], data, REML=True)


def bootstrap_mixedlm(spec: dict[str, Any], result: Any) -> Any:
    import mixedlm

    # the defaults: bootstrap_type="parametric" (new random effects), n_jobs=1
    return mixedlm.bootMer(result, nsim=spec["params"]["nsim"], seed=spec["params"]["seed"])


def replicates_mixedlm(result: Any, boot: Any) -> dict[str, Any]:
    import numpy as np

    structures = result.matrices.random_structures
    diagonal: list[int] | None = None
    if all(s.correlated and s.cov_type == "us" for s in structures):
        diagonal = theta_diagonal([s.n_terms for s in structures])
    n_theta = boot.theta_samples.shape[1]
    return {
        "draws": np.hstack([boot.theta_samples, boot.beta_samples]),
        "names": [f"theta_{n + 1}" for n in range(n_theta)] + list(boot.fixed_names),
        "diagonal": diagonal,
        "n_failed": int(boot.n_failed),
        "evaluations_per_refit": None,  # bootMer does not keep the refits' evaluation counts
    }


def _same_replicates(a: Any, b: Any) -> bool:
    import numpy as np

    if hasattr(a, "equals"):  # polars DataFrame (ours)
        return bool(a.equals(b))
    return bool(
        np.array_equal(a.theta_samples, b.theta_samples, equal_nan=True)
        and np.array_equal(a.beta_samples, b.beta_samples, equal_nan=True)
    )


def seed_spread(spec: dict[str, Any], model: Any, block: dict[str, Any]) -> dict[str, Any]:
    """Monte-Carlo spread of the bootstrap summaries, measured (not timed, after
    the memory reading) from ``params["mc_seeds"]`` more runs of our bootstrap
    with the next seeds: per parameter, the SD across runs of the mean, the SD,
    and the 2.5% / 97.5% percentiles, in units of the timed run's SD. Measured
    rather than assumed normal because theta's diagonal has a point mass at 0
    (singular refits) near its 2.5% percentile."""
    import numpy as np

    first = spec["params"]["seed"] + 1
    seeds = list(range(first, first + spec["params"]["mc_seeds"]))
    runs = []
    for seed in seeds:
        found = replicates_ours(model, model.bootstrap(spec["params"]["nsim"], seed=seed, progress=False))
        runs.append(summarize_replicates(found["draws"], found["names"], found["diagonal"]))
    sd = np.array(block["sd"])
    spread = {
        key: (np.array([r[key] for r in runs]).std(axis=0, ddof=1) / sd).tolist() for key in ("mean", "q025", "q975")
    }
    spread["sd_ratio"] = (np.array([r["sd"] for r in runs]).std(axis=0, ddof=1) / sd).tolist()
    singular = [r["n_singular"] for r in runs]
    return {
        "seeds": [seeds[0], seeds[-1]],
        "n_singular": {"min": min(singular), "max": max(singular), "mean": sum(singular) / len(singular)},
        **spread,
    }


BOOTSTRAP: dict[str, tuple[Callable, Callable, Callable]] = {
    # tool: (fit the model (not timed), bootstrap it (timed), replicates)
    "ours": (prepare_bootstrap_ours, bootstrap_ours, replicates_ours),
    "mixedlm": (prepare_bootstrap_mixedlm, bootstrap_mixedlm, replicates_mixedlm),
}


def run_bootstrap(spec: dict[str, Any]) -> dict[str, Any]:
    import_tool, load, _, summarize = TOOLS[spec["tool"]]
    prepare, bootstrap, replicates = BOOTSTRAP[spec["tool"]]
    _, import_s = timed(import_tool)
    data, load_s = timed(lambda: load(spec))
    model, base_fit_s = timed(lambda: prepare(spec, data))
    rss_before = current_rss_mb()
    times, cpu_times, reps, identical = [], [], None, True
    for _ in range(spec["repeat"]):
        previous, reps = reps, None
        gc.collect()
        cpu = time.process_time()  # all threads of this process
        reps, seconds = timed(lambda: bootstrap(spec, model))
        cpu_times.append(time.process_time() - cpu)
        times.append(seconds)
        if previous is not None:
            identical = identical and _same_replicates(previous, reps)
        previous = None
    peak, memory_method = peak_rss_mb()
    found = replicates(model, reps)
    block = summarize_replicates(found["draws"], found["names"], found["diagonal"], found.get("n_failed"))
    block.update(
        seed=spec["params"]["seed"],
        theta_labels=found.get("theta_labels"),
        evaluations_per_refit=found["evaluations_per_refit"],
        identical_across_repeats=identical if len(times) > 1 else None,
        cpu_times_s=cpu_times,
        notes=[],
    )
    if spec["tool"] == "ours" and spec["params"].get("mc_seeds"):
        block["seed_spread"] = seed_spread(spec, model, block)
    fitted = (model, None) if spec["tool"] == "mixedlm" else model
    return {
        "times_s": times,
        "import_s": import_s,
        "load_s": load_s,
        "base_fit_s": base_fit_s,
        "rss_after_load_mb": rss_before,
        "peak_rss_mb": peak,
        "memory_method": memory_method,
        **summarize(fitted),
        "bootstrap": block,
    }


# -------------------------------------------------------------- diagnostics


def diagnostics_ours(spec: dict[str, Any], model: Any) -> dict[str, Any]:
    """The timed task of a ``diagnostics`` case and what the report compares."""
    params = spec["params"]
    task = params["task"]
    if task == "influence_groups":
        table = model.influence(level=params["group"], approx=False, leverage=(), progress=False)
        return {
            "levels": [str(v) for v in table[params["group"]].to_list()],
            "cooksd": table["cooksd"].to_list(),
        }
    if task == "logo_cv":
        cv = model.cross_validate(group=params["group"], progress=False)
        return {"rmse": cv.scores["rmse"]}
    if task == "all_fit":
        table = model.all_fit()
        return {
            "optimizers": table["optimizer"].to_list(),
            "objective": table["objective"].to_list(),
            "converged": table["converged"].to_list(),
            "seconds": table["seconds"].to_list(),
        }
    if task == "influence_obs":
        table = model.influence(leverage=("overall", "fixef", "ranef", "ranef.uc"))
        return {"rows": table.height, "max_cooksd": float(table["cooksd"].max())}
    raise ValueError(f"unknown diagnostics task {task!r}")


def run_diagnostics(spec: dict[str, Any]) -> dict[str, Any]:
    """Fit once (a plain REML fit, without df: ``base_fit_s``), then the task ``repeat`` times."""
    import_tool, load, fit, summarize = TOOLS[spec["tool"]]
    _, import_s = timed(import_tool)
    data, load_s = timed(lambda: load(spec))
    model, base_fit_s = timed(lambda: fit(spec, data))
    rss_before = current_rss_mb()
    times, cpu_times, found = [], [], None
    for _ in range(spec["repeat"]):
        found = None
        gc.collect()
        cpu = time.process_time()
        found, seconds = timed(lambda: diagnostics_ours(spec, model))
        cpu_times.append(time.process_time() - cpu)
        times.append(seconds)
    peak, memory_method = peak_rss_mb()
    return {
        "times_s": times,
        "cpu_times_s": cpu_times,
        "import_s": import_s,
        "load_s": load_s,
        "base_fit_s": base_fit_s,
        "rss_after_load_mb": rss_before,
        "peak_rss_mb": peak,
        "memory_method": memory_method,
        **summarize(model),
        "diagnostics": found,
    }


# --------------------------------------------------------------- regression


def regression_ours(spec: dict[str, Any], data: Any) -> dict[str, Any]:
    """The timed task of a ``regression`` case (the model built and fitted)
    and what the report compares: the estimates and t statistics (and, for
    permutations, the permutation p-values)."""
    import mixedmodels as mm

    params = spec["params"]
    if params["task"] == "lm2":
        coefs = mm.Lm2(spec["formula"], data=data, group=params["group"]).fit(summarize=False)
        p_col = "P-val"
    elif params["task"] == "lm_permute":
        coefs = mm.Lm(spec["formula"], data=data).fit(summarize=False, permute=params["n_perm"], seed=params["seed"])
        p_col = "Perm-P-val"
    else:
        raise ValueError(f"unknown regression task {params['task']!r}")
    terms = coefs["term"].to_list()
    return {
        "terms": terms,
        "estimate": coefs["Estimate"].to_list(),
        "se": coefs["SE"].to_list(),
        "t": coefs["T-stat"].to_list(),
        "p": coefs[p_col].to_list(),
    }


def run_regression(spec: dict[str, Any]) -> dict[str, Any]:
    """The task ``repeat`` times (no untimed base fit: the fit is the task)."""
    _, import_s = timed(import_ours)
    data, load_s = timed(lambda: load_ours(spec))
    rss_before = current_rss_mb()
    times, cpu_times, found = [], [], None
    for _ in range(spec["repeat"]):
        found = None
        gc.collect()
        cpu = time.process_time()
        found, seconds = timed(lambda: regression_ours(spec, data))
        cpu_times.append(time.process_time() - cpu)
        times.append(seconds)
    peak, memory_method = peak_rss_mb()
    return {
        "times_s": times,
        "cpu_times_s": cpu_times,
        "import_s": import_s,
        "load_s": load_s,
        "rss_after_load_mb": rss_before,
        "peak_rss_mb": peak,
        "memory_method": memory_method,
        "regression": found,
        "notes": [],
    }


# ------------------------------------------------------------------- driver

TOOLS: dict[str, tuple[Callable, Callable, Callable, Callable]] = {
    # tool: (import, load, fit, summarize)
    "ours": (import_ours, load_ours, fit_ours, summarize_ours),
    "mixedlm": (import_mixedlm, load_mixedlm, fit_mixedlm, summarize_mixedlm),
}
GLMER: dict[str, tuple[Callable, Callable, Callable, Callable]] = {
    "ours": (import_ours, load_ours, fit_glmer_ours, summarize_glmer_ours),
    "mixedlm": (import_glmer_mixedlm, load_mixedlm, fit_glmer_mixedlm, summarize_glmer_mixedlm),
}
KINDS = ("lmer", "lmer_satterthwaite", "bootstrap", "glmer", "diagnostics", "regression")


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = action()
    return value, time.perf_counter() - start


def run(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["kind"] not in KINDS:
        raise ValueError(f"python worker cannot run kind {spec['kind']!r}")
    if spec["kind"] == "bootstrap":
        return run_bootstrap(spec)
    if spec["kind"] in ("diagnostics", "regression"):
        if spec["tool"] != "ours":
            raise ValueError(f"{spec['kind']} cases run ours and lme4 only")
        return run_diagnostics(spec) if spec["kind"] == "diagnostics" else run_regression(spec)
    import_tool, load, fit, summarize = (GLMER if spec["kind"] == "glmer" else TOOLS)[spec["tool"]]
    _, import_s = timed(import_tool)
    data, load_s = timed(lambda: load(spec))
    rss_after_load = current_rss_mb()
    times, cpu_times, fitted = [], [], None
    for _ in range(spec["repeat"]):
        fitted = None  # free the previous fit before the next one
        gc.collect()
        cpu = time.process_time()  # all threads of this process
        fitted, seconds = timed(lambda: fit(spec, data))
        cpu_times.append(time.process_time() - cpu)
        times.append(seconds)
    peak, memory_method = peak_rss_mb()
    return {
        "times_s": times,
        "cpu_times_s": cpu_times,
        "import_s": import_s,
        "load_s": load_s,
        "rss_after_load_mb": rss_after_load,
        "peak_rss_mb": peak,
        "memory_method": memory_method,
        **summarize(fitted),
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    print(MARKER + json.dumps(run(spec)), flush=True)


if __name__ == "__main__":
    main()
