"""Rebuild the bundled datasets (python/mixedmodels/datasets/*.parquet) from
the CSV files R's write.csv produced (the shared data folder).

R quotes factor and character columns and never numbers, so a quoted column
becomes a polars String column (a factor with R's sorted levels) and the rest
numbers, with "NA" as missing: the same types R's read.csv gives.

A CSV file does not keep a factor's level order, and read.csv sorts levels as
strings ("1", "10", "11", ...). ``dataset_levels.json`` (written by
``dataset_levels.R`` from R's own datasets) has each factor's order in R; a
column whose order differs from the sorted one (cbpp's herd 1, ..., 15,
InstEval's dept, Machines' Worker, Chem97's gender M, F) becomes a polars
Enum in R's order, so ranef tables and reference levels read as lme4's.

    python tools/make_datasets.py ../shared/data
"""

import csv
import json
import sys
from pathlib import Path

import polars as pl

NAMES = {
    "sleepstudy": "sleepstudy.csv",
    "sleepstudy_unbal": "sleepstudy_unbal.csv",
    "dietox": "dietox.csv",
    "penicillin": "penicillin.csv",
    "pastes": "pastes.csv",
    "dyestuff": "dyestuff.csv",
    "dyestuff2": "dyestuff2.csv",
    "machines": "machines.csv",
    "insteval": "insteval.csv",
    "chem97": "chem97.csv",
    "cbpp": "cbpp.csv",
    "grouseticks": "grouseticks.csv",
    "grouseticks_std": "grouseticks_std.csv",
}


def quoted_columns(path: Path) -> list[bool]:
    with path.open() as f:
        f.readline()
        first = f.readline().rstrip("\n")
    fields = next(csv.reader([first], quoting=csv.QUOTE_NONE))
    return [field.startswith('"') for field in fields]


def convert(path: Path) -> pl.DataFrame:
    header = next(csv.reader([path.open().readline()]))
    quoted = quoted_columns(path)
    schema = {name: (pl.String if q else pl.Float64) for name, q in zip(header, quoted, strict=True)}
    df = pl.read_csv(path, schema_overrides=schema, null_values="NA")
    # Whole numbers stay integers, as R reads them.
    casts = []
    for name, q in zip(header, quoted, strict=True):
        col = df.get_column(name)
        if not q and col.drop_nulls().len() and (col.drop_nulls() % 1 == 0).all():
            casts.append(pl.col(name).cast(pl.Int64))
    return df.with_columns(casts) if casts else df


def r_level_orders(df: pl.DataFrame, orders: dict[str, dict]) -> pl.DataFrame:
    """Factor columns whose R level order is not the sorted one, as Enums in R's order."""
    casts = []
    for column, spec in orders.items():
        if column not in df.columns:
            continue
        present = df.get_column(column).drop_nulls().unique().to_list()
        levels = spec["order"]
        if levels == "numeric":
            levels = sorted(present, key=float)
        missing = set(present) - set(levels)
        if missing:
            raise ValueError(f"{column}: values {sorted(missing)[:5]} are not among R's levels")
        if levels != sorted(levels):
            casts.append(pl.col(column).cast(pl.Enum(levels)))
    return df.with_columns(casts) if casts else df


def main(src: str) -> None:
    here = Path(__file__).resolve().parent
    out = here.parent / "python" / "mixedmodels" / "datasets"
    orders = json.loads((here / "dataset_levels.json").read_text())
    for name, file in NAMES.items():
        df = r_level_orders(convert(Path(src) / file), orders.get(name, {}))
        df.write_parquet(out / f"{name}.parquet", compression="zstd", compression_level=19)
        kinds = {c: ("Enum" if isinstance(t, pl.Enum) else str(t)) for c, t in df.schema.items()}
        print(name, df.shape, kinds)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
