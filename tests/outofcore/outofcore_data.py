"""A seeded data set with what out-of-core fits must get right: crossed and
nested grouping factors, a string, an integer and a 3-level factor, random
slopes, prior weights, transforms and an offset, and missing values in the
response, a covariate and a factor."""

from __future__ import annotations

import numpy as np
import polars as pl

# (formula, fit arguments): the model shapes every engine is checked on, each feature in
# one of them (a Spark fit costs seconds: no model is there for a feature another has).
MODELS = [
    ("y ~ x + f + (1 | g1) + (1 | g2)", {}),
    ("y ~ x + (1 | school/class)", {"weights": "w"}),
    ("y ~ x * f + (x | g1)", {"contrasts": {"f": "sum"}}),
    ("y ~ log(z) + scale(x) + I(x^2) + factor(k) + offset(o) + (1 | g1) + (0 + x | g1)", {}),
]


def make_data(n: int = 2400, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    g1 = rng.integers(0, 40, n)
    g2 = rng.integers(0, 12, n)
    school, klass = rng.integers(0, 15, n), rng.integers(0, 4, n)
    x, z = rng.normal(0, 1, n), rng.uniform(0.5, 3, n)
    f = rng.choice(["lo", "mid", "hi"], n)
    w = rng.uniform(0.5, 2.0, n)
    b1, b2, slope = rng.normal(0, 1, 40), rng.normal(0, 0.5, 12), rng.normal(0, 0.3, 40)
    b_school, b_class = rng.normal(0, 0.7, 15), rng.normal(0, 0.4, 60)
    y = (
        5
        + 0.4 * x
        + 0.8 * (f == "hi")
        + 0.3 * np.log(z)
        + b1[g1]
        + b2[g2]
        + slope[g1] * x
        + b_school[school]
        + b_class[school * 4 + klass]
        + rng.normal(0, 1, n) / np.sqrt(w)
    )
    row = pl.int_range(n)
    return pl.DataFrame(
        {
            "y": y,
            "x": x,
            "z": z,
            "f": f,
            "g1": [f"s{v:02d}" for v in g1],
            "g2": g2,
            "school": school,
            "class": klass,
            "w": w,
            "k": rng.integers(1, 4, n),
            "o": rng.normal(0, 0.1, n),
        }
    ).with_columns(
        pl.when(row % 97 == 0).then(None).otherwise(pl.col("y")).alias("y"),
        pl.when(row % 89 == 5).then(float("nan")).otherwise(pl.col("x")).alias("x"),
        pl.when(row % 83 == 7).then(None).otherwise(pl.col("f")).alias("f"),
    )


def write_parquet(data: pl.DataFrame, directory: str, parts: int = 4) -> str:
    """The data as `parts` Parquet files; returns their glob."""
    size = -(-data.height // parts)
    for i in range(parts):
        data.slice(i * size, size).write_parquet(f"{directory}/part-{i}.parquet")
    return f"{directory}/*.parquet"
