"""Seeded generator of the differential-testing cases: data sets with the
features that break model code (missing values, prior weights, offsets,
true variances of zero, groups of one or two rows, integer-coded groups,
ties in the number of levels, collinear columns) and model shapes drawn
over them (LMMs by REML and ML, binomial 0/1, ``cbind`` and proportions with
weights, Poisson, Gamma, adaptive Gauss-Hermite; nested, crossed, ``a:b``,
slopes, ``(x || g)``; ``poly``, ``scale``, ``I()``, ``log``, factors with a
shuffled Enum order; factor-only, intercept-only, ``0 +`` and ``- 1`` fixed
parts; new levels in ``predict``), plus pinned cases on the shared data
files of issue 15.

It writes ``fixtures/cases.json`` and ``fixtures/data/*.csv``; then
``fixtures/fit_lme4.R`` fits every case with lme4/lmerTest and writes
``fixtures/lme4.json``. The test module reads only those files. Regenerate
(see docs/testing.md)::

    python tests/difftest/generate.py
    Rscript tests/difftest/fixtures/fit_lme4.R tests/difftest/fixtures

The same seed gives the same cases: change ``SEED`` (or the menus) only
together with a full regeneration of ``lme4.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SEED = 20250615
N_DATASETS = 32
N_CASES = 260

# ----------------------------------------------------------------- data sets


@dataclass
class DataFeatures:
    """What a generated data set has, drawn from the seed."""

    n_g: int
    tiny_groups: int  # groups of one or two rows
    n_h: int  # levels of the factor crossed with g
    n_s: int  # levels of the factor nested in g (labels repeat across g)
    integer_groups: bool  # g coded 1, 2, ... (a number column, a factor to the model)
    sd_g: float  # true sd of g's intercepts (0: a true variance of zero)
    sd_slope: float  # true sd of g's slopes of x
    sd_h: float
    sd_gs: float
    missing: dict[str, float] = field(default_factory=dict)  # column -> share of missing values


def draw_features(rng: np.random.Generator) -> DataFeatures:
    n_g = int(rng.integers(4, 17))
    n_h = n_g if rng.random() < 0.3 else int(rng.integers(3, 11))  # ties in levels, often
    missing: dict[str, float] = {}
    if rng.random() < 0.45:
        for col in rng.choice(["x", "x2", "y", "yb", "yc", "f", "g", "z"], size=int(rng.integers(1, 4)), replace=False):
            missing[str(col)] = float(rng.choice([0.03, 0.06, 0.1]))
    return DataFeatures(
        n_g=n_g,
        tiny_groups=int(rng.choice([0, 0, 1, 2, 3])),
        n_h=n_h,
        n_s=int(rng.integers(2, 4)),
        integer_groups=bool(rng.random() < 0.25),
        sd_g=float(rng.choice([0.0, 0.3, 0.8, 1.5])),
        sd_slope=float(rng.choice([0.0, 0.0, 0.2, 0.5])),
        sd_h=float(rng.choice([0.0, 0.4, 1.0])),
        sd_gs=float(rng.choice([0.0, 0.5])),
        missing=missing,
    )


def group_sizes(rng: np.random.Generator, feat: DataFeatures) -> list[int]:
    """Unbalanced group sizes; the last `tiny_groups` groups get one or two rows."""
    base = int(rng.integers(3, 13))
    sizes = [max(3, int(rng.poisson(base))) for _ in range(feat.n_g - feat.tiny_groups)]
    sizes += [int(rng.integers(1, 3)) for _ in range(feat.tiny_groups)]
    rng.shuffle(sizes)
    return sizes


def label(prefix: str, i: int, width: int = 2) -> str:
    return f"{prefix}{i + 1:0{width}d}"


def make_dataset(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], DataFeatures]:
    """Rows of one data set (in random order) and rows of new data for predict."""
    rng = np.random.default_rng(seed)
    feat = draw_features(rng)
    sizes = group_sizes(rng, feat)
    g_idx = np.repeat(np.arange(feat.n_g), sizes)
    n = len(g_idx)
    h_idx = rng.integers(0, feat.n_h, n)
    s_idx = rng.integers(0, feat.n_s, n)
    a_idx = rng.integers(0, int(rng.integers(3, 5)), n)
    b_idx = rng.integers(0, int(rng.integers(2, 4)), n)
    f_levels = [["L1", "L2", "L3", "L4"], ["ctl", "dose", "high"], ["A", "B", "C"]][int(rng.integers(0, 3))]
    f_idx = rng.integers(0, len(f_levels), n)
    f2_idx = rng.integers(0, 2, n)
    x = rng.normal(float(rng.choice([0.0, 5.0, 20.0])), float(rng.choice([1.0, 3.0])), n)
    x2 = rng.normal(0.0, 1.0, n)
    z = np.exp(rng.normal(0.0, 0.5, n))
    off = rng.normal(0.0, 0.3, n)
    w = rng.uniform(0.5, 3.0, n)
    wi = rng.integers(1, 4, n)
    nt = rng.integers(1, 9, n)

    u_g = rng.normal(0, 1, feat.n_g) * feat.sd_g
    v_g = rng.normal(0, 1, feat.n_g) * feat.sd_slope
    u_h = rng.normal(0, 1, feat.n_h) * feat.sd_h
    u_gs = rng.normal(0, 1, (feat.n_g, feat.n_s)) * feat.sd_gs
    xs = (x - x.mean()) / x.std()
    f_eff = rng.normal(0, 0.5, len(f_levels))
    re = u_g[g_idx] + v_g[g_idx] * xs + u_h[h_idx] + u_gs[g_idx, s_idx]
    eta = 0.5 + 0.8 * xs - 0.4 * x2 + f_eff[f_idx] + 0.3 * f2_idx
    sigma = float(rng.choice([0.5, 1.0, 2.0]))
    y = 2.0 + eta + re + rng.normal(0, sigma, n) / np.sqrt(w)
    p = 1 / (1 + np.exp(-(0.5 * eta + 0.7 * re - 0.3)))
    yb = (rng.random(n) < p).astype(int)
    ns = rng.binomial(nt, p)
    yc = rng.poisson(np.exp(0.8 + 0.4 * eta + 0.5 * re + off))
    shape = float(rng.choice([2.0, 5.0]))
    yg = rng.gamma(shape, np.exp(0.5 + 0.3 * eta + 0.4 * re) / shape)

    g_lab = [str(i + 1) if feat.integer_groups else label("g", i) for i in g_idx]
    rows = []
    for i in range(n):
        rows.append(
            {
                "y": y[i],
                "yb": int(yb[i]),
                "ns": int(ns[i]),
                "nt": int(nt[i]),
                "yc": int(yc[i]),
                "yg": yg[i],
                "x": x[i],
                "x2": x2[i],
                "z": z[i],
                "off": off[i],
                "w": w[i],
                "wi": int(wi[i]),
                "f": f_levels[f_idx[i]],
                "f2": ["no", "yes"][f2_idx[i]],
                "g": g_lab[i],
                "h": label("h", h_idx[i]),
                "s": label("s", s_idx[i], 1),
                "a": label("a", a_idx[i], 1),
                "b": label("b", b_idx[i], 1),
            }
        )
    for col, share in feat.missing.items():
        for i in np.flatnonzero(rng.random(n) < share):
            rows[i][col] = None
    order = rng.permutation(n)
    rows = [rows[i] for i in order]
    newdata = make_newdata(rng, rows, feat)
    return rows, newdata, feat


def make_newdata(rng: np.random.Generator, rows: list[dict[str, Any]], feat: DataFeatures) -> list[dict[str, Any]]:
    """Six rows for predict: copies of data rows with new values of x and x2,
    two of them with grouping levels the fit never saw."""
    complete = [r for r in rows if all(v is not None for v in r.values())]
    picks = rng.choice(len(complete), size=6, replace=False)
    out = []
    for k, i in enumerate(picks):
        r = dict(complete[i])
        r["x"] = float(r["x"]) + float(rng.normal(0, 1))
        r["x2"] = float(rng.normal(0, 1))
        if k >= 4:  # new levels: zero random effects (lme4's allow.new.levels = TRUE)
            r["g"] = "999" if feat.integer_groups else "gNEW"
            r["h"] = "hNEW" if k == 5 else r["h"]
            r["s"] = "sNEW"
            r["a"] = "aNEW"
        out.append(r)
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """CSV with 7 significant digits and NA for missing values (R's read.csv default)."""

    def cell(v: Any) -> str:
        if v is None:
            return "NA"
        if isinstance(v, float):
            return f"{v:.7g}"
        return str(v)

    with path.open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(list(rows[0]))
        for r in rows:
            out.writerow([cell(v) for v in r.values()])


# ------------------------------------------------------------- model shapes

FIXED_LMM = [
    "1",
    "x",
    "x + x2",
    "x * f",
    "f",
    "0 + f",
    "f - 1",
    "0 + x + f",
    "x + f + f2",
    "f * f2",
    "x:f + x2",
    "poly(x, 2) + f",
    "poly(x, 3)",
    "poly(x2, 2, raw = TRUE) + f2",
    "scale(x) + x2",
    "scale(x) * f2",
    "I(x^2) + x",
    "log(z) + x2",
    "x + x2 + I(x + x2)",
    "x2 + offset(off)",
    "x + I(x2 > 0)",
]
RANDOM_LMM = [
    "(1 | g)",
    "(x | g)",
    "(x2 | g)",
    "(x || g)",
    "(x2 || g)",
    "(1 | g) + (1 | h)",
    "(1 | h) + (1 | g)",
    "(1 | g/s)",
    "(1 | g) + (1 | g:s)",
    "(1 | a:b)",
    "(0 + x2 | g)",
    "(1 | g) + (0 + x2 | g)",
    "(x2 | g) + (1 | h)",
    "(scale(x) | g)",
    "(1 | a) + (1 | b) + (1 | g)",
]
FIXED_GLMM = [
    "1",
    "x2",
    "x2 + f",
    "f",
    "0 + f",
    "scale(x) + f2",
    "poly(x, 2)",
    "log(z) + x2",
    "x2 + x + I(x - x2)",
    "x2 * f2",
]
RANDOM_GLMM = ["(1 | g)", "(1 | g)", "(1 | g) + (1 | h)", "(x2 | g)", "(x2 || g)", "(1 | g/s)", "(1 | a:b)"]

# family -> (weight of the draw, response, fixed menu, random menu)
FAMILIES: list[tuple[str, float]] = [
    ("lmm_reml", 0.33),
    ("lmm_ml", 0.2),
    ("binomial", 0.1),
    ("cbind", 0.09),
    ("proportion", 0.03),
    ("poisson", 0.1),
    ("gamma", 0.07),
    ("agq", 0.08),
]


def draw_case(rng: np.random.Generator, case_id: str, dataset: str, feat: DataFeatures) -> dict[str, Any]:
    kinds, probs = zip(*FAMILIES, strict=True)
    kind = str(rng.choice(kinds, p=np.array(probs) / sum(probs)))
    case: dict[str, Any] = {"id": case_id, "data": f"{dataset}.csv", "newdata": f"{dataset}_new.csv"}
    if kind.startswith("lmm"):
        fixed, rand = str(rng.choice(FIXED_LMM)), str(rng.choice(RANDOM_LMM))
        case.update(family="gaussian", REML=kind == "lmm_reml", response="y")
        if rng.random() < 0.25:
            case["weights"] = "w"
    else:
        fixed = str(rng.choice(FIXED_GLMM))
        rand = "(1 | g)" if kind == "agq" else str(rng.choice(RANDOM_GLMM))
        family, response = {
            "binomial": ("binomial", "yb"),
            "cbind": ("binomial", "cbind(ns, nt - ns)"),
            "proportion": ("binomial", "I(ns / nt)"),
            "poisson": ("poisson", "yc"),
            "gamma": ("Gamma", "yg"),
            "agq": (str(rng.choice(["binomial", "poisson"])), ""),
        }[kind]
        if kind == "agq":
            response = "yb" if family == "binomial" else "yc"
            case["nAGQ"] = int(rng.choice([3, 5, 9]))
        case.update(family=family, response=response)
        if family == "Gamma":
            case["link"] = "log"
        if kind == "proportion":
            case["weights"] = "nt"
        elif kind == "cbind" and rng.random() < 0.5:
            case["weights"] = "wi"
        if family == "poisson" and rng.random() < 0.4:
            fixed += " + offset(off)"
    case["formula"] = f"{case['response']} ~ {fixed} + {rand}"
    del case["response"]
    if rng.random() < 0.3:
        # the Enum order of f (and sometimes g) is shuffled: the first level is the reference
        case["levels"] = "shuffle"
    return case


def resolve_levels(case: dict[str, Any], rows: list[dict[str, Any]], rng: np.random.Generator) -> None:
    """Turn a case's "shuffle" into a concrete level order (an Enum in Python,
    `factor(levels = )` in R) for f, and for g when it is a string column."""
    if "levels" not in case:
        return
    out = {}
    for col in ("f", "g"):
        values = sorted({r[col] for r in rows if r[col] is not None})
        if col == "g" and (not values or values[0].isdigit() or rng.random() < 0.5):
            continue
        out[col] = [str(v) for v in rng.permutation(values)]
    case["levels"] = out


# ------------------------------------------------------------ added shapes
# Shapes added after the seeded draw, each fitted on two of the generated data
# sets (ids e000, e001, ...). Appending here leaves every earlier case as it
# is: only the new ids need fitting in R (fit_lme4.R FIXTURE_DIR e040,e041).

EXTRA_SHAPES: list[dict[str, Any]] = [
    {"formula": "y ~ x2 + ordered(f) + (1 | g)", "family": "gaussian", "REML": True},
    {"formula": "y ~ x2 + (f2 | g)", "family": "gaussian", "REML": True},
    {"formula": "y ~ x + (0 + f2 | g)", "family": "gaussian", "REML": False},
    {"formula": "y ~ f + (1 | g) + (0 + f2 | g)", "family": "gaussian", "REML": True},
    {"formula": "y ~ x2 + (log(z) | g)", "family": "gaussian", "REML": True},
    {"formula": "y ~ x2 * f2 + (1 | g/s) + (1 | h)", "family": "gaussian", "REML": True},
    {"formula": "y ~ 1 + (1 | g)", "family": "gaussian", "REML": False},
    {"formula": "y ~ x2 + (1 | a) + (1 | b)", "family": "gaussian", "REML": True},
    {
        "formula": "y ~ scale(x, scale = FALSE) + scale(x2, center = FALSE) + (1 | g)",
        "family": "gaussian",
        "REML": True,
    },
    {"formula": "y ~ I(log(z) * x2) + exp(x2 / 4) + sqrt(z) + (1 | g)", "family": "gaussian", "REML": False},
    {"formula": "y ~ factor(x2 > 0) + f2 + (1 | g:f2)", "family": "gaussian", "REML": True},
    {"formula": "log(z) ~ x2 + f + (1 | h)", "family": "gaussian", "REML": True},
    {"formula": "y ~ poly(z, 2) * f2 + (1 | g)", "family": "gaussian", "REML": True, "weights": "w"},
    {"formula": "yc ~ x2 + offset(log(z)) + (1 | g) + (1 | h)", "family": "poisson"},
    {"formula": "yc ~ f + (1 | g)", "family": "poisson", "nAGQ": 9},
    {"formula": "cbind(ns, nt - ns) ~ x2 + (1 | g) + (1 | h)", "family": "binomial", "weights": "wi"},
    {"formula": "yb ~ f2 + (1 | g/s)", "family": "binomial"},
    {"formula": "yb ~ 0 + f + x2 + (1 | g)", "family": "binomial", "nAGQ": 5},
    {"formula": "yg ~ x2 + (1 | g/s)", "family": "Gamma", "link": "log"},
    {"formula": "yg ~ scale(x) + (1 | g) + (1 | h)", "family": "Gamma", "link": "log"},
]


def extra_cases(datasets: list[str]) -> list[dict[str, Any]]:
    """Each added shape on two data sets picked by its position (no random draw)."""
    out = []
    for k, shape in enumerate(EXTRA_SHAPES):
        for j, d in enumerate(((7 * k) % len(datasets), (7 * k + 13) % len(datasets))):
            name = datasets[d]
            case = {"id": f"e{2 * k + j:03d}", "data": f"{name}.csv", "newdata": f"{name}_new.csv", **shape}
            out.append(case)
    return out


# ------------------------------------------------------------- pinned cases

# The shared data files of issue 15; once copied, the copies in fixtures/data are used.
SHARED = Path("/work/shared/data")

PINNED: list[dict[str, Any]] = [
    {
        "id": "issue15_poly_missing",
        "data": "poly_missing.csv",
        "formula": "y ~ poly(x, 2) + x2 * f + (1 | g)",
        "family": "gaussian",
        "REML": True,
        "note": "issue 15 (1): poly() over every row of the data, before rows with missing y or x2 are dropped",
    },
    {
        "id": "issue15_scale_missing",
        "data": "poly_missing.csv",
        "formula": "y ~ scale(x2) * f + (scale(x) | g)",
        "family": "gaussian",
        "REML": False,
        "note": "issue 15 (1): scale() over every row (x2 has missing values of its own: left out of its mean and sd)",
    },
    {
        "id": "issue15_tied_levels",
        "data": "tied_levels.csv",
        "formula": "y ~ x * f + x2 + offset(off) + (1 | a) + (1 | b) + (1 | g)",
        "family": "gaussian",
        "REML": True,
        "note": "issue 15 (2): a, b, g have 6, 5, 6 levels: lme4 reorders (b < g) by rev(order(nl)): g, a, b",
    },
    {
        "id": "issue15_tied_levels_kept",
        "data": "tied_levels.csv",
        "formula": "y ~ x + (1 | g) + (1 | a) + (1 | b)",
        "family": "gaussian",
        "REML": True,
        "note": "issue 15 (2): 6, 6, 5 levels never increase: lme4 keeps the formula order",
    },
    {
        "id": "issue15_tied_levels_ml",
        "data": "tied_levels.csv",
        "formula": "y ~ x2 + (1 | b) + (x | a) + (1 | g)",
        "family": "gaussian",
        "REML": False,
        "note": "issue 15 (2): 5, 6, 6 levels: reordered to g, a, b",
    },
    {
        "id": "issue15_boundary_slope",
        "data": "boundary_slope.csv",
        "formula": "y ~ 1 + (x2 | g)",
        "family": "gaussian",
        "REML": True,
        "weights": "w",
        "note": "issue 15 (3): lme4 reaches REML criterion 626.63677 at theta (0.0110, -0.8688, 0)",
    },
]


def pinned_newdata(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Six complete rows of a shared data file for predict; the last two with a new level of every grouping factor."""
    complete = [r for r in rows if None not in r.values()]
    out = []
    for k, r in enumerate(complete[:6]):
        r = dict(r)
        if k >= 4:
            for col in ("g", "a", "b"):
                r[col] = f"{col}NEW"
        out.append(r)
    return out


# ------------------------------------------------------------------ driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--datasets", type=int, default=N_DATASETS)
    parser.add_argument("--cases", type=int, default=N_CASES)
    parser.add_argument("--out", type=Path, default=FIXTURES)
    args = parser.parse_args()
    data_dir = args.out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob("d*.csv"):
        old.unlink()
    rng = np.random.default_rng(args.seed)
    datasets = []
    for k in range(args.datasets):
        name = f"d{k:02d}"
        rows, newdata, feat = make_dataset(int(rng.integers(2**31)))
        write_csv(data_dir / f"{name}.csv", rows)
        write_csv(data_dir / f"{name}_new.csv", newdata)
        datasets.append((name, rows, feat))
    cases = []
    for k in range(args.cases):
        name, rows, feat = datasets[k % len(datasets)]
        case = draw_case(rng, f"c{k:03d}", name, feat)
        resolve_levels(case, rows, rng)
        cases.append(case)
    cases += extra_cases([name for name, _, _ in datasets])
    for case in PINNED:
        copy = data_dir / case["data"]
        if not copy.exists():
            shutil.copyfile(SHARED / case["data"], copy)
        with copy.open() as fh:
            rows = [{k: (None if v == "NA" else v) for k, v in r.items()} for r in csv.DictReader(fh)]
        write_csv(data_dir / f"{copy.stem}_new.csv", pinned_newdata(rows))
        cases.append({**case, "newdata": f"{copy.stem}_new.csv"})
    meta = {"seed": args.seed, "datasets": args.datasets, "generator": "tests/difftest/generate.py", "cases": cases}
    (args.out / "cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{len(cases)} cases over {args.datasets} data sets written to {args.out}")


if __name__ == "__main__":
    main()
