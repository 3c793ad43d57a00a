"""Run one benchmark case with one Python tool (``ours`` or ``mixedlm``).

Usage: ``python python_worker.py '<json spec>'`` (the spec comes from
``Case.worker_spec``). Prints one line ``BENCH_RESULT {json}`` on stdout.

Timed: building the model from the already-loaded data frame and fitting it
(plus the df computation for ``lmer_satterthwaite``), ``repeat`` times in this
process. Not timed: imports and reading the data (reported as ``import_s`` and
``load_s``). Memory: peak resident set size of this process (``VmHWM`` in
``/proc/self/status``, else ``getrusage``), which includes the interpreter and
the data; ``rss_after_load_mb`` is the resident size just before the first fit.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKER = "BENCH_RESULT "


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

    return pl.read_parquet(spec["parquet"])


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


# ------------------------------------------------------------------- driver

TOOLS: dict[str, tuple[Callable, Callable, Callable, Callable]] = {
    # tool: (import, load, fit, summarize)
    "ours": (import_ours, load_ours, fit_ours, summarize_ours),
    "mixedlm": (import_mixedlm, load_mixedlm, fit_mixedlm, summarize_mixedlm),
}
KINDS = ("lmer", "lmer_satterthwaite")


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = action()
    return value, time.perf_counter() - start


def run(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["kind"] not in KINDS:
        raise ValueError(f"python worker cannot run kind {spec['kind']!r}")
    import_tool, load, fit, summarize = TOOLS[spec["tool"]]
    _, import_s = timed(import_tool)
    data, load_s = timed(lambda: load(spec))
    rss_after_load = current_rss_mb()
    times, fitted = [], None
    for _ in range(spec["repeat"]):
        fitted = None  # free the previous fit before the next one
        gc.collect()
        fitted, seconds = timed(lambda: fit(spec, data))
        times.append(seconds)
    peak, memory_method = peak_rss_mb()
    return {
        "times_s": times,
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
