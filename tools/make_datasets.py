"""Rebuild the bundled datasets (python/mixedmodels/datasets/*.parquet) from
the CSV files R's write.csv produced (the shared data folder).

R quotes factor and character columns and never numbers, so a quoted column
becomes a polars String column (a factor with R's sorted levels) and the rest
numbers, with "NA" as missing: the same types R's read.csv gives.

    python tools/make_datasets.py ../shared/data
"""

import csv
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


def main(src: str) -> None:
    out = Path(__file__).resolve().parent.parent / "python" / "mixedmodels" / "datasets"
    for name, file in NAMES.items():
        df = convert(Path(src) / file)
        df.write_parquet(out / f"{name}.parquet", compression="zstd", compression_level=19)
        print(name, df.shape, dict(df.schema))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
