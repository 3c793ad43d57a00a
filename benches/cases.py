"""Benchmark cases: which model, on which data, run by which tools.

A case names a *kind* of work (``lmer``: a plain REML fit; ``lmer_satterthwaite``:
a fit plus Satterthwaite degrees of freedom; ``bootstrap``: parametric-bootstrap
refits of a fitted model, ``params`` ``nsim``, ``seed`` and ``mc_seeds``;
``glmer``: a GLMM fit by the Laplace approximation, ``params`` ``family``;
``diagnostics``: influence or cross-validation of a fitted model, ``params``
``task`` (``influence_groups``, ``logo_cv``, ``influence_obs``) and ``group``) that
every worker knows how to do (``workers/python_worker.py`` for ``ours`` and
``mixedlm``, ``workers/r_worker.R`` for ``lme4``), a formula, and a data builder
that writes the data once to the cache directory (parquet for the Python tools,
CSV for R; never in the repo).

To add a case of an existing kind, add a ``Case`` to ``build_cases``. A new kind
also needs a runner in each worker; pass its options in ``Case.params``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_DIR = REPO_ROOT / "python" / "mixedmodels" / "datasets"
DEFAULT_CACHE_DIR = Path(os.environ.get("MIXEDMODELS_BENCH_CACHE", Path(tempfile.gettempdir()) / "mixedmodels-bench"))
TOOLS = ("ours", "lme4", "mixedlm")


@dataclass(frozen=True)
class DataFiles:
    """The same data as parquet (Python tools) and CSV (R)."""

    parquet: Path
    csv: Path
    factors: tuple[str, ...]  # columns R and mixedlm must read as factors / categories
    n_rows: int


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    formula: str
    description: str
    data: Callable[[Path], DataFiles]  # builds (or reuses) the data files in a cache dir
    tools: tuple[str, ...] = TOOLS
    params: Mapping[str, Any] = field(default_factory=dict)  # kind-specific options
    max_repeat: Mapping[str, int] = field(default_factory=dict)  # per-tool cap on --repeat
    # per tool, the project's target for (tool's time) / (our time), shown in the report
    speedup_target: Mapping[str, float] = field(default_factory=dict)

    def worker_spec(self, tool: str, files: DataFiles, repeat: int) -> dict[str, Any]:
        """What a worker process needs to run this case (sent as JSON)."""
        return {
            "case": self.name,
            "tool": tool,
            "kind": self.kind,
            "formula": self.formula,
            "parquet": str(files.parquet),
            "csv": str(files.csv),
            "factors": list(files.factors),
            "repeat": min(repeat, self.max_repeat.get(tool, repeat)),
            "params": dict(self.params),
        }


# --------------------------------------------------------------------- data


def _write_atomically(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".csv":
        frame.write_csv(tmp)
    else:
        frame.write_parquet(tmp)
    tmp.replace(path)


def _is_fresh(path: Path, source: Path) -> bool:
    return path.exists() and path.stat().st_mtime >= source.stat().st_mtime


def bundled_data(name: str, factors: tuple[str, ...]) -> Callable[[Path], DataFiles]:
    """A data builder for a dataset bundled with the package (its parquet, what
    ``mixedmodels.load_dataset(name)`` reads); a CSV copy for R in the cache dir."""

    def build(cache_dir: Path) -> DataFiles:
        parquet = DATASETS_DIR / f"{name}.parquet"
        csv = cache_dir / f"{name}.csv"
        frame = pl.read_parquet(parquet)
        if not _is_fresh(csv, parquet):
            _write_atomically(frame, csv)
        return DataFiles(parquet, csv, factors, frame.height)

    return build


insteval_data = bundled_data("insteval", ("s", "d", "dept", "service"))
sleepstudy_data = bundled_data("sleepstudy", ("Subject",))


def simulated_data(
    stem: str, simulate: Callable[[], pl.DataFrame], factors: tuple[str, ...]
) -> Callable[[Path], DataFiles]:
    """A data builder for simulated data: ``simulate()`` runs once and its frame is
    cached under ``stem`` (which must name every parameter of the simulation)."""

    def build(cache_dir: Path) -> DataFiles:
        parquet, csv = (cache_dir / f"{stem}{suffix}" for suffix in (".parquet", ".csv"))
        if not (parquet.exists() and csv.exists()):
            frame = simulate()
            _write_atomically(frame, parquet)
            _write_atomically(frame, csv)
        return DataFiles(parquet, csv, factors, pl.scan_parquet(parquet).select(pl.len()).collect().item())

    return build


def _labelled(frame: pl.DataFrame, prefixes: Mapping[str, str]) -> pl.DataFrame:
    """Integer codes made into string labels (``a17``), so every tool reads a factor."""
    return frame.with_columns(pl.format(f"{prefix}{{}}", col).alias(col) for col, prefix in prefixes.items())


def simulate_crossed(n_rows: int, n_g1: int, n_g2: int, seed: int) -> pl.DataFrame:
    """y = 1 + 0.5 x + b1[g1] + b2[g2] + e; sd(b1)=0.5, sd(b2)=0.3, sd(e)=1."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_rows)
    g1 = rng.integers(0, n_g1, n_rows)
    g2 = rng.integers(0, n_g2, n_rows)
    b1 = rng.normal(0.0, 0.5, n_g1)
    b2 = rng.normal(0.0, 0.3, n_g2)
    y = 1.0 + 0.5 * x + b1[g1] + b2[g2] + rng.standard_normal(n_rows)
    return _labelled(pl.DataFrame({"y": y, "x": x, "g1": g1, "g2": g2}), {"g1": "a", "g2": "b"})


def crossed_data(n_rows: int, n_g1: int, n_g2: int, seed: int = 20240501) -> Callable[[Path], DataFiles]:
    """A data builder for ``simulate_crossed``, cached by its parameters."""
    return simulated_data(
        f"crossed_{n_rows}_{n_g1}x{n_g2}_seed{seed}",
        lambda: simulate_crossed(n_rows, n_g1, n_g2, seed),
        ("g1", "g2"),
    )


def simulate_binary_crossed(n_rows: int, n_g1: int, n_g2: int, seed: int) -> pl.DataFrame:
    """A binary y with P(y = 1) = logistic(-0.5 + 0.7 x + b1[g1] + b2[g2]);
    x ~ N(0, 1), uniformly drawn levels, sd(b1) = 0.8, sd(b2) = 0.5."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_rows)
    g1 = rng.integers(0, n_g1, n_rows)
    g2 = rng.integers(0, n_g2, n_rows)
    b1 = rng.normal(0.0, 0.8, n_g1)
    b2 = rng.normal(0.0, 0.5, n_g2)
    eta = -0.5 + 0.7 * x + b1[g1] + b2[g2]
    y = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    return _labelled(pl.DataFrame({"y": y, "x": x, "g1": g1, "g2": g2}), {"g1": "a", "g2": "b"})


def binary_crossed_data(n_rows: int, n_g1: int, n_g2: int, seed: int = 20240502) -> Callable[[Path], DataFiles]:
    """A data builder for ``simulate_binary_crossed``, cached by its parameters."""
    return simulated_data(
        f"binary_crossed_{n_rows}_{n_g1}x{n_g2}_seed{seed}",
        lambda: simulate_binary_crossed(n_rows, n_g1, n_g2, seed),
        ("g1", "g2"),
    )


def simulate_slopes(n_groups: int, per_group: int, seed: int) -> pl.DataFrame:
    """Many small groups with their own intercept and slope:
    y = 1 + 0.5 x + b0[g] + b1[g] x + e; sd(b0) = 0.5, sd(b1) = 0.3, sd(e) = 1."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.standard_normal(g.size)
    b0 = rng.normal(0.0, 0.5, n_groups)
    b1 = rng.normal(0.0, 0.3, n_groups)
    y = 1.0 + 0.5 * x + b0[g] + b1[g] * x + rng.standard_normal(g.size)
    return _labelled(pl.DataFrame({"y": y, "x": x, "g": g}), {"g": "s"})


def slopes_data(n_groups: int, per_group: int, seed: int = 20240503) -> Callable[[Path], DataFiles]:
    """A data builder for ``simulate_slopes``, cached by its parameters."""
    return simulated_data(
        f"slopes_{n_groups}x{per_group}_seed{seed}", lambda: simulate_slopes(n_groups, per_group, seed), ("g",)
    )


def simulate_wide_factor(n_rows: int, n_levels: int, n_groups: int, seed: int) -> pl.DataFrame:
    """A fixed-effects factor of many levels beside a random intercept:
    y = a[h] + b[g] + e; a ~ N(0, 1), sd(b) = 0.5, sd(e) = 1."""
    rng = np.random.default_rng(seed)
    h = rng.integers(0, n_levels, n_rows)
    g = rng.integers(0, n_groups, n_rows)
    y = rng.standard_normal(n_levels)[h] + rng.normal(0.0, 0.5, n_groups)[g] + rng.standard_normal(n_rows)
    frame = pl.DataFrame({"y": y, "h": h, "g": g})
    return frame.with_columns(pl.format("h{}", pl.col("h").cast(pl.String).str.zfill(3)).alias("h")).pipe(
        _labelled, {"g": "s"}
    )


def wide_factor_data(n_rows: int, n_levels: int, n_groups: int, seed: int = 20240504) -> Callable[[Path], DataFiles]:
    """A data builder for ``simulate_wide_factor``, cached by its parameters."""
    return simulated_data(
        f"wide_factor_{n_rows}_{n_levels}x{n_groups}_seed{seed}",
        lambda: simulate_wide_factor(n_rows, n_levels, n_groups, seed),
        ("h", "g"),
    )


def _covariance(sds: list[float], corr: list[list[float]]) -> np.ndarray:
    sd = np.asarray(sds)
    return np.asarray(corr) * np.outer(sd, sd)


# The by-subject and by-item 4 x 4 covariances of (intercept, A, B, A:B) in
# ``simulate_maximal``: every variance non-trivial, correlations up to +-0.5.
MAXIMAL_SUBJECT_COV = _covariance(
    [1.0, 0.6, 0.5, 0.4],
    [[1.0, 0.5, -0.4, -0.2], [0.5, 1.0, -0.1, -0.5], [-0.4, -0.1, 1.0, 0.1], [-0.2, -0.5, 0.1, 1.0]],
)
MAXIMAL_ITEM_COV = _covariance(
    [0.8, 0.5, 0.4, 0.3],
    [[1.0, -0.5, 0.4, 0.0], [-0.5, 1.0, -0.2, 0.3], [0.4, -0.2, 1.0, -0.45], [0.0, 0.3, -0.45, 1.0]],
)


def simulate_maximal(n_subj: int, n_item: int, seed: int) -> pl.DataFrame:
    """A 2 x 2 within-subject, within-item design, every subject seeing every
    item once, the item's condition rotated over subjects (a Latin square):
    y = 2 + 0.5 A + 0.3 B + 0.2 AB + Z_subj b_subj + Z_item b_item + e, with
    A, B coded -0.5 / +0.5, (b_subj, b_item) drawn from the 4 x 4 covariances
    above, sd(e) = 1."""
    rng = np.random.default_rng(seed)
    subj = np.repeat(np.arange(n_subj), n_item)
    item = np.tile(np.arange(n_item), n_subj)
    condition = (subj + item) % 4
    a = np.where(condition % 2 == 0, -0.5, 0.5)
    b = np.where(condition < 2, -0.5, 0.5)
    z = np.column_stack([np.ones_like(a), a, b, a * b])
    bs = rng.multivariate_normal(np.zeros(4), MAXIMAL_SUBJECT_COV, n_subj)
    bi = rng.multivariate_normal(np.zeros(4), MAXIMAL_ITEM_COV, n_item)
    fixed = z @ np.array([2.0, 0.5, 0.3, 0.2])
    y = fixed + (z * bs[subj]).sum(axis=1) + (z * bi[item]).sum(axis=1) + rng.standard_normal(subj.size)
    return _labelled(pl.DataFrame({"y": y, "A": a, "B": b, "subj": subj, "item": item}), {"subj": "s", "item": "i"})


def maximal_data(n_subj: int, n_item: int, seed: int = 20240505) -> Callable[[Path], DataFiles]:
    """A data builder for ``simulate_maximal``, cached by its parameters."""
    return simulated_data(
        f"maximal_{n_subj}x{n_item}_seed{seed}", lambda: simulate_maximal(n_subj, n_item, seed), ("subj", "item")
    )


def simulate_regression_groups(n_groups: int, per_group: int, seed: int) -> pl.DataFrame:
    """Groups with their own regression line: y = (1 + a[g]) + (0.5 + b[g]) x1
    - 0.3 x2 + e; x1, x2 ~ N(0, 1), sd(a) = 0.5, sd(b) = 0.3, sd(e) = 1."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    x1, x2 = rng.standard_normal(g.size), rng.standard_normal(g.size)
    a, b = rng.normal(0.0, 0.5, n_groups), rng.normal(0.0, 0.3, n_groups)
    y = 1.0 + a[g] + (0.5 + b[g]) * x1 - 0.3 * x2 + rng.standard_normal(g.size)
    return _labelled(pl.DataFrame({"y": y, "x1": x1, "x2": x2, "g": g}), {"g": "s"})


def regression_groups_data(n_groups: int, per_group: int, seed: int = 20240505) -> Callable[[Path], DataFiles]:
    """A data builder for ``simulate_regression_groups``, cached by its parameters."""
    return simulated_data(
        f"regression_groups_{n_groups}x{per_group}_seed{seed}",
        lambda: simulate_regression_groups(n_groups, per_group, seed),
        ("g",),
    )


# -------------------------------------------------------------------- cases

INSTEVAL_FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"


def build_cases(quick: bool = False) -> dict[str, Case]:
    """All cases by name; ``quick`` shrinks the synthetic data for a smoke test."""
    n_rows, n_g1, n_g2 = (100_000, 2_000, 200) if quick else (1_000_000, 20_000, 2_000)
    n_boot = 100 if quick else 1_000
    # GLMM: 100 rows a g1 level, 500 a g2 level in both sizes
    b_rows, b_g1, b_g2 = (20_000, 200, 40) if quick else (100_000, 1_000, 200)
    # shapes whose set-up once grew too fast: many grouping levels, many fixed effects
    s_groups = 5_000 if quick else 50_000
    w_rows, w_levels = (10_000, 50) if quick else (50_000, 200)
    # the maximal crossed-slopes design: subjects x items, each pair once
    m_subj, m_item = (30, 20) if quick else (60, 40)
    # diagnostics: a model with slopes and 65 groups of 62 rows (lme4's influence(): 4.8 s on such a model)
    d_groups, d_rows = (20, 62) if quick else (65, 62)
    diag_data = slopes_data(d_groups, d_rows)
    diag_formula = "y ~ x + (x | g)"
    # regression: Lm2 on 2,000 groups of 50 rows; 10,000 permutations of an Lm on 10,000 rows
    r_groups = 200 if quick else 2_000
    n_perm = 500 if quick else 10_000
    cases = [
        Case(
            name="insteval_fit",
            kind="lmer",
            formula=INSTEVAL_FORMULA,
            description="InstEval (73,421 rows; 2,972 x 1,128 x 14 levels), plain REML fit",
            data=insteval_data,
            speedup_target={"mixedlm": 6.0},
        ),
        Case(
            name="insteval_satterthwaite",
            kind="lmer_satterthwaite",
            formula=INSTEVAL_FORMULA,
            description=(
                "InstEval REML fit + Satterthwaite df (R: lmerTest::lmer + summary; mixedlm: lmer + satterthwaite_df)"
            ),
            data=insteval_data,
        ),
        Case(
            name="synthetic_1m",
            kind="lmer",
            formula="y ~ x + (1 | g1) + (1 | g2)",
            description=(
                f"synthetic {n_rows:,} rows, crossed factors of {n_g1:,} x {n_g2:,} levels,"
                " plain REML fit" + (" (--quick size)" if quick else "")
            ),
            data=crossed_data(n_rows, n_g1, n_g2),
            max_repeat={} if quick else {"lme4": 1},
        ),
        Case(
            name="sleepstudy_bootstrap_1000",
            kind="bootstrap",
            formula="Reaction ~ Days + (Days | Subject)",
            description=(
                f"sleepstudy (180 rows, 18 subjects), {n_boot:,} parametric-bootstrap REML refits"
                " (new random effects: lme4's bootMer defaults) of an already-fitted model"
                + (" (--quick size)" if quick else "")
            ),
            data=sleepstudy_data,
            # mc_seeds: extra, untimed runs of ours (seeds 2, 3, ...) that measure the
            # Monte-Carlo spread of the bootstrap summaries, for the agreement
            params={"nsim": n_boot, "seed": 1, "mc_seeds": 10 if quick else 50},
            speedup_target={"lme4": 100.0},
        ),
        Case(
            name="binomial_crossed_100k",
            kind="glmer",
            formula="y ~ x + (1 | g1) + (1 | g2)",
            description=(
                f"synthetic binary outcome, {b_rows:,} rows, crossed random intercepts of {b_g1:,} x {b_g2:,}"
                " levels, binomial (logit) GLMM by the Laplace approximation, standard errors included"
                + (" (--quick size)" if quick else "")
            ),
            data=binary_crossed_data(b_rows, b_g1, b_g2),
            params={"family": "binomial"},
            speedup_target={"lme4": 10.0},
        ),
        Case(
            name="many_groups_slopes",
            kind="lmer",
            formula="y ~ x + (x || g)",
            description=(
                f"synthetic {s_groups * 10:,} rows, {s_groups:,} groups of 10 with uncorrelated random"
                " intercepts and slopes, plain REML fit" + (" (--quick size)" if quick else "")
            ),
            data=slopes_data(s_groups, 10),
            speedup_target={"mixedlm": 2.0, "lme4": 20.0},
        ),
        Case(
            name="maximal_crossed_slopes",
            kind="lmer_satterthwaite",
            formula="y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)",
            description=(
                f"synthetic 2 x 2 within-subject and within-item design, {m_subj} subjects x {m_item} items"
                f" ({m_subj * m_item:,} rows), by-subject and by-item 4 x 4 covariances (20 theta),"
                " REML fit + Satterthwaite df" + (" (--quick size)" if quick else "")
            ),
            data=maximal_data(m_subj, m_item),
            speedup_target={"mixedlm": 2.0, "lme4": 40.0},
        ),
        Case(
            name="wide_fixed_factor",
            kind="lmer",
            formula="y ~ h + (1 | g)",
            description=(
                f"synthetic {w_rows:,} rows, a fixed-effects factor of {w_levels} levels"
                f" ({w_levels} coefficients) and a random intercept of 500 levels, plain REML fit"
                + (" (--quick size)" if quick else "")
            ),
            data=wide_factor_data(w_rows, w_levels, 500),
        ),
        Case(
            name="slopes_influence_groups",
            kind="diagnostics",
            formula=diag_formula,
            description=(
                f"synthetic {d_groups * d_rows:,} rows, {d_groups} groups with correlated random intercepts and"
                " slopes: exact group-deletion influence (a REML refit without each group; R: lme4's"
                " influence(m, groups = 'g'), which refits from the fitted theta too), of an already-fitted model"
                + (" (--quick size)" if quick else "")
            ),
            data=diag_data,
            tools=("ours", "lme4"),
            params={"task": "influence_groups", "group": "g"},
            speedup_target={"lme4": 50.0},
        ),
        Case(
            name="slopes_logo_cv",
            kind="diagnostics",
            formula=diag_formula,
            description=(
                f"the same data: leave-one-group-out cross-validation (REML refits without each of the {d_groups}"
                " groups, its rows predicted at the population level; R: a loop of lmer() refits and"
                " predict(re.form = NA))" + (" (--quick size)" if quick else "")
            ),
            data=diag_data,
            tools=("ours", "lme4"),
            params={"task": "logo_cv", "group": "g"},
            speedup_target={"lme4": 50.0},
        ),
        Case(
            name="slopes_all_fit",
            kind="diagnostics",
            formula=diag_formula,
            description=(
                "the same data: the model refitted with every optimizer (ours: all_fit(), BOBYQA, Nelder-Mead and"
                " BFGS in parallel; R: lme4's allFit(), its seven optimizers serially) and the table of the refits"
                + (" (--quick size)" if quick else "")
            ),
            data=diag_data,
            tools=("ours", "lme4"),
            params={"task": "all_fit", "group": "g"},
        ),
        Case(
            name="insteval_influence_obs",
            kind="diagnostics",
            formula=INSTEVAL_FORMULA,
            description=(
                "InstEval (73,421 rows, three crossed factors): one-step influence measures and leverage of every"
                " observation (HLMdiag's hlm_influence(level = 1), which would need the 43 GB n x n V and refuses"
                " crossed factors' leverage), against the fit's own time; targets: at most 5x the fit, peak"
                " memory under 2 GB"
            ),
            data=insteval_data,
            tools=("ours",),
            params={"task": "influence_obs"},
        ),
        Case(
            name="lm2_2000_groups",
            kind="regression",
            formula="y ~ x1 + x2",
            description=(
                f"synthetic {r_groups * 50:,} rows, {r_groups:,} groups of 50: Lm2, one least-squares fit per"
                " group then a one-sample t-test of each coefficient (R: lme4::lmList + t.test on each column"
                " of coef())" + (" (--quick size)" if quick else "")
            ),
            data=regression_groups_data(r_groups, 50),
            tools=("ours", "lme4"),
            params={"task": "lm2", "group": "g"},
            speedup_target={"lme4": 20.0},
        ),
        Case(
            name="lm_permutations_10000",
            kind="regression",
            formula="y ~ x1 + x2",
            description=(
                f"10,000 rows simulated as above (200 groups of 50, not used), an Lm with {n_perm:,} permutations"
                " of the response"
                " (permutation p-values of the t statistics; R: a loop of lm() + summary() on the permuted"
                " response)" + (" (--quick size)" if quick else "")
            ),
            data=regression_groups_data(200, 50),
            tools=("ours", "lme4"),
            params={"task": "lm_permute", "n_perm": n_perm, "seed": 1},
            max_repeat={"lme4": 1},
            speedup_target={"lme4": 20.0},
        ),
    ]
    return {case.name: case for case in cases}
