"""The ``mixedmodels`` command: fit a model to a bundled dataset or a file.

    mixedmodels fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy
    mixedmodels fit "y ~ x + (1 | g)" --data my.parquet --ml --format json
    mixedmodels fit "cbind(incidence, size - incidence) ~ period + (1 | herd)" --data cbpp --family binomial
    mixedmodels fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy --anova --ranef --format csv
    mixedmodels datasets
    mixedmodels --version

Data: a bundled dataset's name, or a CSV (``.csv``, ``.tsv``), Parquet
(``.parquet``, ``.pq``) or Arrow IPC (``.arrow``, ``.ipc``, ``.feather``) file.
Errors print one line on standard error and exit with status 2.
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

from mixedmodels import Lmer, __version__
from mixedmodels.datasets import DESCRIPTIONS, list_datasets, load_dataset
from mixedmodels.exceptions import MixedModelsError

__all__ = ["fit_report", "main", "read_data"]

_CSV = (".csv", ".tsv", ".txt")
_PARQUET = (".parquet", ".pq")
_IPC = (".arrow", ".ipc", ".feather")


def read_data(source: str) -> pl.DataFrame:
    """A bundled dataset by name, or a CSV / Parquet / Arrow IPC file by path
    (CSV: ``NA`` and empty fields are missing values, as R reads them)."""
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in (*_CSV, *_PARQUET, *_IPC) or path.exists():
        if not path.is_file():
            raise MixedModelsError(f"no such file: {source}")
        if suffix in _PARQUET:
            return pl.read_parquet(path)
        if suffix in _IPC:
            return pl.read_ipc(path)
        separator = "\t" if suffix == ".tsv" else ","
        return pl.read_csv(path, separator=separator, null_values=["NA", ""], infer_schema_length=10_000)
    if source.lower() not in DESCRIPTIONS:
        raise MixedModelsError(f"'{source}' is neither a file nor a bundled dataset ({', '.join(list_datasets())})")
    return load_dataset(source)


def _jsonable(x: Any) -> Any:
    if isinstance(x, pl.DataFrame):
        return [_jsonable(row) for row in x.to_dicts()]
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def fit_report(model: Any, tables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fit as plain data (the ``--format json`` output)."""
    report = {
        "formula": model.formula,
        "family": model.family,
        "link": getattr(model, "link", None) if model.is_generalized else "identity",
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
    report.update(tables or {})
    return _jsonable(report)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixedmodels", description="Fit mixed-effects models (lme4's syntax).")
    parser.add_argument("--version", action="version", version=f"mixedmodels {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a linear or generalized linear mixed model and print its summary")
    fit.add_argument("formula", help='lme4 formula, e.g. "Reaction ~ Days + (Days | Subject)"')
    fit.add_argument("--data", required=True, help="a bundled dataset name or a CSV / Parquet / Arrow IPC file")
    fit.add_argument(
        "--family", default="gaussian", help="gaussian (default), or a GLMM family: binomial, poisson, ..."
    )
    fit.add_argument("--link", default=None, help="the family's link (GLMMs; default: the canonical link)")
    fit.add_argument("--nagq", type=int, default=None, help="Gauss-Hermite points (GLMMs; default 1: Laplace)")
    fit.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML (linear models)")
    fit.add_argument("--ddf", default=None, help="Satterthwaite (default), Kenward-Roger or lme4 (linear models)")
    fit.add_argument("--weights", default=None, help="the column of prior weights")
    fit.add_argument("--anova", action="store_true", help="also the ANOVA table (Type III, linear models)")
    fit.add_argument("--ranef", action="store_true", help="also the conditional modes of the random effects")
    fit.add_argument("--format", choices=["text", "json", "csv"], default="text")
    sub.add_parser("datasets", help="list the bundled datasets")
    return parser


def _fit(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The fitted model and the extra tables asked for."""
    generalized = str(args.family).lower() != "gaussian"
    if not generalized:
        for flag, value in (("--link", args.link), ("--nagq", args.nagq)):
            if value is not None:
                raise MixedModelsError(f"{flag} is for generalized models (--family binomial, poisson, ...)")
    elif args.ddf is not None or args.ml:
        flag = "--ddf" if args.ddf is not None else "--ml"
        raise MixedModelsError(f"{flag} is for linear mixed models; GLMMs are fitted by maximum likelihood, z tests")
    data = read_data(args.data)
    model = Lmer(args.formula, data=data, family=args.family)
    options: dict[str, Any] = {"summarize": False, "weights": args.weights}
    if generalized:
        options.update({"link": args.link, "nAGQ": 1 if args.nagq is None else args.nagq})
    else:
        options.update({"REML": not args.ml, "ddf": args.ddf or "Satterthwaite"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warnings are in the report
        model.fit(**options)
    tables: dict[str, Any] = {}
    if args.anova:
        tables["anova"] = model.anova(ddf=args.ddf or "Satterthwaite")
    if args.ranef:
        tables["ranef"] = model.ranef
    return model, tables


def _print_text(model: Any, tables: dict[str, Any]) -> None:
    print(model.summary_text())
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=80):
        if "anova" in tables:
            print("\nType III Analysis of Variance Table")
            print(tables["anova"])
        for group, table in tables.get("ranef", {}).items():
            print(f"\nConditional modes: {group}")
            print(table)


def _print_csv(model: Any, tables: dict[str, Any]) -> None:
    """Each table as CSV after a ``# name`` line (read back with ``comment="#"``)."""
    sections = [("coefs", model.coefs)]
    if "anova" in tables:
        sections.append(("anova", tables["anova"]))
    sections += [(f"ranef {group}", t) for group, t in tables.get("ranef", {}).items()]
    for i, (name, table) in enumerate(sections):
        if i:
            print()
        print(f"# {name}")
        sys.stdout.write(table.write_csv())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "datasets":
        for name in list_datasets():
            print(f"{name:18} {DESCRIPTIONS[name]}")
        return 0
    try:
        model, tables = _fit(args)
    except (MixedModelsError, ValueError, TypeError, AttributeError, OSError) as e:
        message = " ".join(str(e).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(fit_report(model, tables), indent=2))
    elif args.format == "csv":
        _print_csv(model, tables)
    else:
        _print_text(model, tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
