"""Out-of-core fits at scale: ``y ~ x + (1 | g1) + (1 | g2)`` with 20,000 x 2,000
crossed levels, written as Parquet files, fitted by each engine in a process of its
own whose peak memory and CPU time are measured (the kernel's maximum resident set
size of that process and its user + system time, from ``wait4``), against an
in-memory fit of a smaller version drawn by the same generator (the first files of
the same data).

    python benches/out_of_core.py --rows 100e6 --memory-rows 10e6 --engines memory,polars-small,polars
    python benches/out_of_core.py --rows 2e6 --memory-rows 2e6 --engines memory,polars   # quick

The data go to ``--dir`` (default /tmp/mixedmodels-ooc: not the repository), 5
million rows a file. Results: ``benches/results/out_of_core/latest.json`` and
``latest.md`` (``--previous`` adds the results of earlier runs to the report).
Engines: ``memory`` (the first ``--memory-rows`` rows read into a polars DataFrame
and fitted in memory), ``polars`` (a LazyFrame over the files, the streaming
default), ``dask`` (a LocalCluster of 2 processes on 127.0.0.1), ``spark``
(``local[2]`` on 127.0.0.1, UI off); ``-small`` after an out-of-core engine fits the
first ``--memory-rows`` rows (the exact comparison with ``memory``). For Dask and
Spark the peak memory and CPU time are the driver's (the workers and the JVM are
other processes); "machine CPU" is the whole machine's busy CPU time over the run
(/proc/stat: every process, so run it on a quiet machine). See benches/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

FORMULA = "y ~ x + (1 | g1) + (1 | g2)"
ROWS_PER_FILE = 5_000_000
SEED = 20260511
LEVELS = (20_000, 2_000)


def generate(rows: int, directory: Path) -> None:
    """y = 1 + x/2 + b1[g1] + b2[g2] + e, sd(b1) = 0.8, sd(b2) = 0.5, sd(e) = 1: the
    same effects whatever the size, and the first rows of a big set are a small one."""
    import numpy as np
    import polars as pl

    directory.mkdir(parents=True, exist_ok=True)
    files = -(-rows // ROWS_PER_FILE)
    if len(list(directory.glob("part-*.parquet"))) >= files:
        return
    rng = np.random.default_rng(SEED)
    b1, b2 = rng.normal(0, 0.8, LEVELS[0]), rng.normal(0, 0.5, LEVELS[1])
    for f in range(files):
        n = min(ROWS_PER_FILE, rows - f * ROWS_PER_FILE)
        g1 = rng.integers(0, LEVELS[0], n).astype(np.int32)
        g2 = rng.integers(0, LEVELS[1], n).astype(np.int32)
        x = rng.normal(0, 1, n)
        y = 1.0 + 0.5 * x + b1[g1] + b2[g2] + rng.normal(0, 1.0, n)
        pl.DataFrame({"y": y, "x": x, "g1": g1, "g2": g2}).write_parquet(directory / f"part-{f:04d}.parquet")


def files_for(directory: Path, rows: int) -> list[str]:
    return [str(directory / f"part-{f:04d}.parquet") for f in range(-(-rows // ROWS_PER_FILE))]


# ----------------------------------------------------------------- workers
def worker(engine: str, files: list[str]) -> dict:
    """Fit with one engine; the estimates and the time of each stage."""
    import warnings

    import polars as pl

    import mixedmodels as mm

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    extra: dict = {}
    kind = engine.removesuffix("-small")
    if kind == "polars":
        data = pl.scan_parquet(files)
    elif kind == "memory":
        data = pl.read_parquet(files)
        extra["load_seconds"] = time.perf_counter() - start
    elif kind == "dask":
        import dask.dataframe as dd
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        extra["startup_seconds"] = time.perf_counter() - start
        data = dd.read_parquet(files)
    elif kind == "spark":
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "6g")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        extra["startup_seconds"] = time.perf_counter() - start
        data = spark.read.parquet(*files)
    else:
        raise SystemExit(f"unknown engine {engine}")
    fit_start = time.perf_counter()
    m = mm.Lmer(FORMULA, data=data)
    control = os.environ.get("OOC_CONTROL") or None
    m.fit(summarize=False, control=control)
    fit_seconds = time.perf_counter() - fit_start
    out = {
        "engine": engine,
        "control": control,
        "rows": m.nobs,
        "fit_seconds": fit_seconds,
        "seconds": time.perf_counter() - start,
        "beta": [float(v) for v in m.beta],
        "se": [float(v) for v in m.coefs["SE"]],
        "df": [float(v) for v in m.coefs["DF"]],
        "theta": [float(v) for v in m.theta],
        "sigma": float(m.sigma),
        "loglik": float(m.logLike),
        "feval": int(m.optsummary["feval"]),
        "criterion_at_memory_theta": None,
        **extra,
    }
    theta_file = os.environ.get("OOC_THETA")
    if theta_file and Path(theta_file).exists():
        out["criterion_at_memory_theta"] = m.objective_at(json.loads(Path(theta_file).read_text()))
    if kind == "dask":
        client.close()
        cluster.close()
    if kind == "spark":
        spark.stop()
    return out


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (every process: Dask's workers and
    Spark's JVM included), from /proc/stat; 0 where there is none."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def run_worker(engine: str, files: list[str], theta_file: Path | None, control: str = "") -> dict:
    """The worker in a process of its own; its peak memory and CPU time from wait4,
    and the machine's CPU time over the run (/proc/stat)."""
    env = dict(os.environ, OOC_THETA=str(theta_file or ""), OOC_CONTROL=control)
    machine_before = machine_cpu_seconds()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", engine, "--files", *files],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return {"engine": engine, "error": f"exit {proc.returncode}: {output[-500:]}"}
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    result["machine_cpu_seconds"] = machine_cpu_seconds() - machine_before
    result["load_average_after"] = load_average()
    return result


def previous_results(path: Path) -> list[dict]:
    """An earlier run's results, each with the load average at the end of that run when it
    did not record its own."""
    run = json.loads(path.read_text())
    for r in run["results"]:
        r.setdefault("load_average_after", run["args"].get("load_after"))
    return run["results"]


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def report(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "# Out-of-core fits",
        "",
        f"`{FORMULA}`, {LEVELS[0]:,} x {LEVELS[1]:,} crossed levels; `--rows {args.rows:g}`, "
        f"`--memory-rows {args.memory_rows:g}`. Load average (1, 5, 15 min) before/after this invocation: "
        f"{args.load_before} / {args.load_after}; each row has its own, at the end of its fit."
        + (f" Every fit with `control = {args.control}`." if args.control else ""),
        "",
        "| engine | rows | fit (s) | total (s) | CPU (s) | machine CPU (s) | load after | peak RSS (MB) | evals "
        "| (Intercept) | x | theta | sigma |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['engine']} | – | – | – | – | – | – | – | – | {r['error'][:80]} | | | |")
            continue
        cpu = f"{r['cpu_seconds']:.0f}" if "cpu_seconds" in r else "–"
        machine = f"{r['machine_cpu_seconds']:.0f}" if "machine_cpu_seconds" in r else "–"
        load = ", ".join(f"{v:.1f}" for v in r.get("load_average_after") or []) or "–"
        lines.append(
            f"| {r['engine']} | {r['rows']:,} | {r['fit_seconds']:.1f} | {r['seconds']:.1f} | {cpu} | {machine} | "
            f"{load} | {r['peak_rss_mb']:.0f} | "
            f"{r['feval']} | {r['beta'][0]:.6f} | {r['beta'][1]:.6f} | "
            f"{', '.join(f'{t:.6f}' for t in r['theta'])} | {r['sigma']:.6f} |"
        )
    lines += ["", *agreement(results)]
    return "\n".join(lines) + "\n"


def relative(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) / max(abs(x), 1e-300) for x, y in zip(a, b, strict=True))


def agreement(results: list[dict]) -> list[str]:
    """Each out-of-core fit against the in-memory fit: exactly (same rows: the criterion at
    the in-memory theta and the estimates) or statistically (more rows of the same
    generator: differences in units of the in-memory fit's standard errors)."""
    memory = next((r for r in results if r["engine"] == "memory" and "error" not in r), None)
    if memory is None:
        return []
    lines = []

    def sigma(r: dict) -> float:
        return relative([memory["sigma"]], [r["sigma"]])

    for r in results:
        if r["engine"] == "memory" or "error" in r:
            continue
        if r["rows"] == memory["rows"]:
            crit = r["criterion_at_memory_theta"]
            crit_text = "–" if crit is None else f"{abs(crit / (-2 * memory['loglik']) - 1):.1e}"
            lines.append(
                f"- {r['engine']} against in memory, the same {r['rows']:,} rows: REML criterion at the in-memory "
                f"theta {crit_text} relative; beta {relative(memory['beta'], r['beta']):.1e}, "
                f"SE {relative(memory['se'], r['se']):.1e}, df {relative(memory['df'], r['df']):.1e}, "
                f"theta {relative(memory['theta'], r['theta']):.1e}, sigma {sigma(r):.1e}."
            )
        else:
            z = [abs(a - b) / s for a, b, s in zip(r["beta"], memory["beta"], memory["se"], strict=True)]
            lines.append(
                f"- {r['engine']} ({r['rows']:,} rows) against in memory ({memory['rows']:,} rows of the same "
                f"generator): beta differ by {', '.join(f'{v:.2f}' for v in z)} in-memory SEs; theta "
                f"{relative(memory['theta'], r['theta']):.1e}, sigma {sigma(r):.1e} relative."
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=100e6)
    parser.add_argument("--memory-rows", type=float, default=10e6)
    parser.add_argument("--dir", default="/tmp/mixedmodels-ooc")
    parser.add_argument("--engines", default="memory,polars-small,polars,dask,spark")
    parser.add_argument("--output-dir", default=str(Path(__file__).parent / "results" / "out_of_core"))
    parser.add_argument(
        "--control", default="", help="lme4-style control for every fit, e.g. 'optCtrl = list(rhoend = 1e-10)'"
    )
    parser.add_argument("--previous", nargs="*", default=[], help="results (JSON) of earlier runs to report with")
    parser.add_argument("--worker")
    parser.add_argument("--files", nargs="*")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.files)))
        return
    directory = Path(args.dir)
    rows, small_rows = int(args.rows), int(args.memory_rows)
    generate(rows, directory)
    args.load_before = load_average()
    theta_file = directory / "memory_theta.json"
    results = [r for path in args.previous for r in previous_results(Path(path))]
    for engine in filter(None, args.engines.split(",")):
        small = engine == "memory" or engine.endswith("-small")
        files = files_for(directory, small_rows if small else rows)
        result = run_worker(engine, files, theta_file if small and engine != "memory" else None, args.control)
        if engine == "memory" and "theta" in result:
            theta_file.write_text(json.dumps(result["theta"]))
        results.append(result)
        print(json.dumps(result), flush=True)
    args.load_after = load_average()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    (out / "latest.md").write_text(report(results, args))
    print(report(results, args))


if __name__ == "__main__":
    main()
