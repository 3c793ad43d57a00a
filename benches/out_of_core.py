"""Out-of-core fits at scale: ``y ~ x + (1 | g1) + (1 | g2)`` with 20,000 x 2,000
crossed levels, written as Parquet files, fitted by each engine in a process of its
own whose peak memory is measured (the kernel's maximum resident set size of that
process, from ``wait4``), against an in-memory fit of a smaller version drawn by the
same generator (the first files of the same data).

    python benches/out_of_core.py --rows 100e6 --memory-rows 10e6
    python benches/out_of_core.py --rows 2e6 --memory-rows 2e6 --engines polars,memory   # quick

The data go to ``--dir`` (default /tmp/mixedmodels-ooc: not the repository), 5
million rows a file. Results: ``benches/results/out_of_core.json`` and ``.md``.
Engines: ``polars`` (a LazyFrame over the files, the streaming default), ``memory``
(the first ``--memory-rows`` rows read into a polars DataFrame and fitted in
memory), ``polars-small`` (the same smaller data fitted out of core: the exact
comparison with ``memory``), ``dask`` (a LocalCluster of 2 processes on
127.0.0.1), ``spark`` (``local[2]`` on 127.0.0.1, UI off). For Dask and Spark the
peak memory is the driver's (the workers and the JVM are other processes).
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
    if engine in ("polars", "polars-small"):
        data = pl.scan_parquet(files)
    elif engine == "memory":
        data = pl.read_parquet(files)
        extra["load_seconds"] = time.perf_counter() - start
    elif engine == "dask":
        import dask.dataframe as dd
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        extra["startup_seconds"] = time.perf_counter() - start
        data = dd.read_parquet(files)
    elif engine == "spark":
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
    m.fit(summarize=False)
    fit_seconds = time.perf_counter() - fit_start
    out = {
        "engine": engine,
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
    if engine == "dask":
        client.close()
        cluster.close()
    if engine == "spark":
        spark.stop()
    return out


def run_worker(engine: str, files: list[str], theta_file: Path) -> dict:
    """The worker in a process of its own; its peak memory from wait4."""
    env = dict(os.environ, OOC_THETA=str(theta_file))
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
    return result


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def report(results: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "# Out-of-core fits",
        "",
        f"`{FORMULA}`, {LEVELS[0]:,} x {LEVELS[1]:,} crossed levels; `--rows {args.rows:g}`, "
        f"`--memory-rows {args.memory_rows:g}`. Load average before/after: {args.load_before} / {args.load_after}.",
        "",
        "| engine | rows | fit (s) | total (s) | peak RSS (MB) | evaluations | (Intercept) | x | theta | sigma |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['engine']} | – | – | – | – | – | {r['error'][:80]} | | | |")
            continue
        lines.append(
            f"| {r['engine']} | {r['rows']:,} | {r['fit_seconds']:.1f} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} | "
            f"{r['feval']} | {r['beta'][0]:.6f} | {r['beta'][1]:.6f} | "
            f"{', '.join(f'{t:.6f}' for t in r['theta'])} | {r['sigma']:.6f} |"
        )
    memory = next((r for r in results if r["engine"] == "memory" and "error" not in r), None)
    small = next((r for r in results if r["engine"] == "polars-small" and "error" not in r), None)
    if memory and small:
        rel = lambda a, b: max(abs(x - y) / max(abs(x), 1e-300) for x, y in zip(a, b, strict=True))  # noqa: E731
        lines += [
            "",
            f"Out of core against in memory on the same {memory['rows']:,} rows: criterion at the in-memory theta "
            f"{abs(small['criterion_at_memory_theta'] / (-2 * memory['loglik']) - 1):.1e} relative (REML criterion), "
            f"beta {rel(memory['beta'], small['beta']):.1e}, SE {rel(memory['se'], small['se']):.1e}, "
            f"df {rel(memory['df'], small['df']):.1e}, theta {rel(memory['theta'], small['theta']):.1e}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=100e6)
    parser.add_argument("--memory-rows", type=float, default=10e6)
    parser.add_argument("--dir", default="/tmp/mixedmodels-ooc")
    parser.add_argument("--engines", default="memory,polars-small,polars,dask,spark")
    parser.add_argument("--output-dir", default=str(Path(__file__).parent / "results"))
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
    results = []
    for engine in args.engines.split(","):
        files = files_for(directory, small_rows if engine in ("memory", "polars-small") else rows)
        result = run_worker(engine, files, theta_file)
        if engine == "memory" and "theta" in result:
            theta_file.write_text(json.dumps(result["theta"]))
        results.append(result)
        print(json.dumps(result), flush=True)
    args.load_after = load_average()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "out_of_core.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    (out / "out_of_core.md").write_text(report(results, args))
    print(report(results, args))


if __name__ == "__main__":
    main()
