"""pymer4's fit arguments shared by the models: ``summary=`` for
``summarize=``, ``robust=``, ``permute=``, ``conf_int=`` and ``rank=``, and the
labels and table columns pymer4 gives them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from mixedmodels._args import whole_number
from mixedmodels._stats import significance
from mixedmodels.exceptions import DataError

ROBUST = ("hc0", "hc1", "hc2", "hc3", "hac", "cluster")


def summarize_alias(summarize: bool, kwargs: dict[str, Any]) -> bool:
    """pymer4's ``summary=`` spelling of ``summarize=`` (taken out of ``kwargs``)."""
    return bool(kwargs.pop("summary")) if "summary" in kwargs else summarize


def robust_name(robust: Any, default: str) -> str:
    """``robust=True`` is ``default``; False is the classical estimator."""
    if robust is False or robust is None:
        return "classical"
    if robust is True:
        return default
    name = str(robust).lower()
    if name not in ROBUST:
        raise DataError(f"robust must be True, False or one of {', '.join(ROBUST)}, not {robust!r}")
    return name


def permutations(permute: Any, warnings: list[str]) -> int:
    """pymer4's ``permute=``: False/0 or a number of permutations (< 500 warns)."""
    if permute is True:
        raise TypeError("permute should be False or the number of permutations to perform")
    if permute is False or permute is None:
        return 0
    n = whole_number(permute, "permute", minimum=0)
    if 0 < n < 500:
        warnings.append("Permutation testing < 500 permutations is not recommended")
    return n


def check_conf_int(conf_int: str) -> None:
    if conf_int not in ("standard", "boot"):
        raise DataError(f"conf_int must be 'standard' or 'boot', not {conf_int!r}")


def inference_labels(robust: str, conf_int: str, n_boot: int, n_perm: int) -> tuple[str, str, str]:
    """pymer4's ``se_type``, ``ci_type`` and ``sig_type``."""
    se_type = "non-robust" if robust == "classical" else f"robust ({robust})"
    ci_type = f"boot ({n_boot})" if conf_int == "boot" else "standard"
    sig_type = f"permutation ({n_perm})" if n_perm else "parametric"
    return se_type, ci_type, sig_type


def with_permutations(coefs: pl.DataFrame, pvalues: Sequence[float], n_perm: int) -> pl.DataFrame:
    """pymer4's permuted table: ``DF`` becomes ``Num_perm`` (added after ``SE``
    when the table has no df) and ``P-val`` ``Perm-P-val``, with its stars."""
    p = np.asarray(pvalues, dtype=float)
    counts = pl.Series("Num_perm", np.where(np.isnan(coefs["Estimate"].to_numpy()), np.nan, float(n_perm)))
    perm = pl.Series("Perm-P-val", p)
    stars = pl.Series("Sig", [significance(v) for v in p])
    if "DF" in coefs.columns:
        return coefs.with_columns(counts.alias("DF"), perm.alias("P-val"), stars).rename(
            {"DF": "Num_perm", "P-val": "Perm-P-val"}
        )
    out = coefs.with_columns(counts).select(
        [*coefs.columns[: coefs.columns.index("SE") + 1], "Num_perm", *coefs.columns[coefs.columns.index("SE") + 1 :]]
    )
    return out.with_columns(perm, stars)


def rank_columns(frame: pl.DataFrame, columns: Sequence[str], over: str | Sequence[str] | None = None) -> pl.DataFrame:
    """Numeric ``columns`` replaced by their ranks (ties averaged, as R's and
    pandas' ``rank``), within the groups of ``over`` when given; factors stay."""
    numeric = [c for c in dict.fromkeys(columns) if c in frame.columns and frame.schema[c].is_numeric()]
    ranks = [pl.col(c).rank("average").cast(pl.Float64) for c in numeric]
    if over is not None:
        ranks = [r.over(over) for r in ranks]
    return frame.with_columns(ranks)
