"""Run the benchmarks and write ``benches/results/latest.{json,md}``.

    python benches/run.py [--cases insteval_fit,...] [--tools ours,lme4,mixedlm]
                          [--repeat N] [--quick]

Each (case, tool) runs in its own worker process (a fresh Python interpreter or
Rscript); see ``benches/README.md`` for what is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cases import DEFAULT_CACHE_DIR, REPO_ROOT, TOOLS, Case, DataFiles, build_cases
from report import add_agreement, markdown, median_time

BENCH_DIR = Path(__file__).resolve().parent
WORKERS = BENCH_DIR / "workers"
MARKER = "BENCH_RESULT "
PYTHON_MODULES = {"ours": "mixedmodels", "mixedlm": "mixedlm"}
R_PACKAGES = ("lme4", "lmerTest", "jsonlite")
R_PACKAGES_BY_KIND = {"lmer_satterthwaite": ("lme4", "lmerTest")}


# ---------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated tools")
    parser.add_argument("--repeat", type=int, default=3, help="fits per worker (median reported)")
    parser.add_argument("--quick", action="store_true", help="small synthetic data (smoke test)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per worker")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="data files")
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="set OPENBLAS/OMP/MKL_NUM_THREADS for the workers (default: the libraries' own defaults)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def pick(requested: str | None, available: list[str], what: str) -> list[str]:
    if not requested:
        return available
    names = [name.strip() for name in requested.split(",") if name.strip()]
    unknown = [name for name in names if name not in available]
    if unknown:
        sys.exit(f"unknown {what}: {', '.join(unknown)} (available: {', '.join(available)})")
    return names


# ------------------------------------------------------------- environment


def r_info() -> dict[str, str]:
    """R and package versions (``NA`` if a package is missing), or {} without R."""
    if shutil.which("Rscript") is None:
        return {}
    packages = ", ".join(f'"{p}"' for p in R_PACKAGES)
    code = (
        f"for (p in c({packages})) cat(p, '=', tryCatch(as.character(packageVersion(p)),"
        " error = function(e) 'NA'), '\\n', sep = '');"
        " cat('R=', R.version$major, '.', R.version$minor, '\\n', sep = '');"
        " cat('r_blas=', extSoftVersion()[['BLAS']], '\\n', sep = '')"
    )
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=120)
    pairs = (line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def unavailable_reason(tool: str, case: Case, r: dict[str, str]) -> str | None:
    """Why ``tool`` cannot run ``case`` here, or None if it can."""
    if tool in PYTHON_MODULES:
        module = PYTHON_MODULES[tool]
        return None if importlib.util.find_spec(module) else f"{module} not installed"
    if not r:
        return "R not installed"
    needed = ("jsonlite", *R_PACKAGES_BY_KIND.get(case.kind, ("lme4",)))
    missing = [p for p in needed if r.get(p, "NA") == "NA"]
    return f"R package(s) {', '.join(missing)} not installed" if missing else None


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return "unknown"
    return head.stdout.strip() or "unknown"


def versions(r: dict[str, str] | None) -> dict[str, str]:
    found = {
        "mixedmodels": f"{_package_version('mixedmodels')} (git {_git_revision()})",
        "mixedlm": _package_version("mixedlm"),
        "polars": _package_version("polars"),
        "numpy": _package_version("numpy"),
        "pandas": _package_version("pandas"),
        "python": platform.python_version(),
    }
    if r:
        found.update({"R": r.get("R", "?"), "lme4": r.get("lme4"), "lmerTest": r.get("lmerTest")})
    elif r is not None:
        found["R"] = "not installed"
    return found  # r is None: R not queried (lme4 not among --tools)


def _read_first(path: str, key: str) -> str | None:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info(r: dict[str, str] | None) -> dict[str, Any]:
    mem_kb = _read_first("/proc/meminfo", "MemTotal")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": _read_first("/proc/cpuinfo", "model name") or platform.processor(),
        "cpu_count": cores,
        "cpu_count_total": os.cpu_count(),
        "memory_total_gb": round(int(mem_kb.split()[0]) / 1024**2, 1) if mem_kb else None,
        "platform": platform.platform(),
        "loadavg_start": round(os.getloadavg()[0], 2),
        "r_blas": (r or {}).get("r_blas"),
    }


# ------------------------------------------------------------------ workers


def worker_command(tool: str, spec: dict[str, Any]) -> list[str]:
    payload = json.dumps(spec)
    if tool == "lme4":
        return ["Rscript", str(WORKERS / "r_worker.R"), payload]
    return [sys.executable, str(WORKERS / "python_worker.py"), payload]


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker_environment(blas_threads: int | None) -> dict[str, str] | None:
    """The workers' environment: ours, unless --blas-threads pins the BLAS thread pools."""
    if blas_threads is None:
        return None
    return {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, str(blas_threads))}


def run_worker(command: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        tail = " ".join(done.stderr.strip().splitlines()[-5:])
        return {"status": "failed", "error": f"exit {done.returncode}: {tail}"}
    return {"status": "ok", **json.loads(lines[-1][len(MARKER) :])}


def run_tool(case: Case, tool: str, files: DataFiles, args: argparse.Namespace) -> dict:
    spec = case.worker_spec(tool, files, args.repeat)
    print(f"  {tool:8s} x{spec['repeat']} ...", end=" ", flush=True)
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    env = worker_environment(args.blas_threads)
    entry = {"tool": tool, **run_worker(worker_command(tool, spec), args.timeout, env)}
    wall = time.perf_counter() - start
    entry["loadavg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]  # 1 min, before / after
    if entry["status"] == "ok":
        print(f"median timed {median_time(entry):.3f} s (worker {wall:.0f} s)", flush=True)
    else:
        print(f"FAILED: {entry['error']}", flush=True)
    return entry


def run_case(case: Case, tools: list[str], r: dict[str, str] | None, args: argparse.Namespace) -> dict:
    print(f"{case.name}: {case.description}", flush=True)
    start = time.perf_counter()
    files = case.data(args.cache_dir)
    print(f"  data ready in {time.perf_counter() - start:.1f} s ({files.n_rows:,} rows)")
    entries: dict[str, dict[str, Any]] = {}
    for tool in (t for t in tools if t in case.tools):
        reason = unavailable_reason(tool, case, r or {})
        if reason:
            print(f"  {tool:8s} skipped: {reason}")
            entries[tool] = {"tool": tool, "status": "skipped", "reason": reason}
        else:
            entries[tool] = run_tool(case, tool, files, args)
    add_agreement(entries)
    return {
        "name": case.name,
        "kind": case.kind,
        "formula": case.formula,
        "description": case.description,
        "params": dict(case.params),
        "speedup_target": dict(case.speedup_target),
        "n_rows": files.n_rows,
        "data": {"parquet": str(files.parquet), "csv": str(files.csv)},
        "tools": entries,
    }


# --------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    all_cases = build_cases(quick=args.quick)
    case_names = pick(args.cases, list(all_cases), "cases")
    tools = pick(args.tools, list(TOOLS), "tools")
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    r = r_info() if "lme4" in tools else None
    run: dict[str, Any] = {
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python benches/run.py", *(sys.argv[1:] if argv is None else argv)]),
        "quick": args.quick,
        "repeat": args.repeat,
        "blas_threads": args.blas_threads,
        "machine": machine_info(r),
        "versions": versions(r),
    }
    run["cases"] = [run_case(all_cases[name], tools, r, args) for name in case_names]
    run["machine"]["loadavg_end"] = round(os.getloadavg()[0], 2)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "latest.json").write_text(json.dumps(run, indent=2) + "\n")
    (args.output_dir / "latest.md").write_text(markdown(run))
    print(f"\nwrote {args.output_dir / 'latest.json'} and {args.output_dir / 'latest.md'}")


if __name__ == "__main__":
    main()
