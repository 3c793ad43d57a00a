"""The ``mixedmodels`` command: fit a model to a bundled dataset or a file.

mixedmodels fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy
mixedmodels fit "y ~ x + (1 | g)" --data my.csv --ml --format json
mixedmodels datasets
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mixedmodels import Lmer
from mixedmodels.datasets import DESCRIPTIONS, list_datasets, load_dataset
from mixedmodels.exceptions import MixedModelsError


def read_data(source: str) -> pl.DataFrame:
    """A bundled dataset by name, or a CSV / Parquet file by path."""
    path = Path(source)
    if path.suffix.lower() in (".csv", ".parquet", ".pq") or path.exists():
        if not path.exists():
            raise MixedModelsError(f"no such file: {source}")
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path)
        return pl.read_csv(path, null_values=["NA", ""], infer_schema_length=10_000)
    return load_dataset(source)


def _jsonable(x: Any) -> Any:
    if isinstance(x, pl.DataFrame):
        return x.to_dicts()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def fit_report(model: Lmer) -> dict[str, Any]:
    return _jsonable(
        {
            "formula": model.formula,
            "REML": model.REML,
            "nobs": model.nobs,
            "logLik": model.logLike,
            "AIC": model.AIC,
            "BIC": model.BIC,
            "deviance": model.deviance,
            "sigma": model.sigma,
            "theta": model.theta,
            "singular": model.singular,
            "coefs": model.coefs,
            "ranef_var": model.ranef_var,
            "ranef_corr": model.ranef_corr,
            "groups": model.grps,
            "warnings": model.warnings,
            "optimizer": model.optsummary,
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mixedmodels", description="Fit mixed-effects models.")
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a linear mixed model and print its summary")
    fit.add_argument("formula", help='lme4 formula, e.g. "Reaction ~ Days + (Days | Subject)"')
    fit.add_argument("--data", required=True, help="a bundled dataset name or a CSV/Parquet file")
    fit.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    fit.add_argument("--format", choices=["text", "json"], default="text")
    sub.add_parser("datasets", help="list the bundled datasets")
    args = parser.parse_args(argv)
    if args.command == "datasets":
        for name in list_datasets():
            print(f"{name:18} {DESCRIPTIONS[name]}")
        return 0
    try:
        data = read_data(args.data)
        model = Lmer(args.formula, data=data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(REML=not args.ml, summarize=False)
    except (MixedModelsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(fit_report(model), indent=2))
    else:
        print(model.summary_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
