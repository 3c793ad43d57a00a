"""``Lm2``: the two-stage "summary statistics" model (pymer4's ``Lm2``): one
least-squares regression per group (in parallel, in Rust), then a one-sample
test of each coefficient across the groups. An alternative to ``Lmer`` when a
maximal random-effects model will not fit; the first-level estimates are not
shrunk towards each other as a mixed model's are (Gelman 2005).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels import _core, plots
from mixedmodels._args import reject_keywords, seed_value, whole_number
from mixedmodels._fitargs import (
    check_conf_int,
    inference_labels,
    permutations,
    rank_columns,
    robust_name,
    summarize_alias,
    with_permutations,
)
from mixedmodels._frame import check_columns
from mixedmodels._stats import significance, t_pvalues
from mixedmodels._summary_lm import lm2_summary
from mixedmodels.exceptions import DataError
from mixedmodels.model import FittedModel, Residuals

__all__ = ["Lm2"]


class Lm2(FittedModel):
    """A two-stage model ``Lm2(formula, data, group)``.

    ``formula`` is a regression formula without random effects, fitted in
    each level of ``group``. With a list of grouping columns, innermost first
    (``["student", "school"]``), the first level fits each student, the next
    averages the students' coefficients within each school, and the schools'
    averages are tested.

    After :meth:`fit`: ``coefs`` (the second-level tests), ``fixef`` (the
    first-level estimates, one row a group), ``fixef_levels`` (every level's
    table), ``fits``, ``residuals``, ``rsquared`` (of the first-level fits
    over all rows), ``rsquared_per_group``.
    """

    def __init__(self, formula: str, data: Any, group: str | Sequence[str], family: str = "gaussian") -> None:
        if str(family).lower() != "gaussian":
            raise DataError("Lm2 fits linear models only (family='gaussian')")
        if isinstance(group, str):
            groups = [group]
        elif isinstance(group, (list, tuple)) and group and all(isinstance(g, str) for g in group):
            groups = list(group)
        else:
            raise TypeError("group must be a column name or a list of column names (innermost first)")
        if _core.formula_structure(formula)["bars"]:
            raise DataError("Lm2 formulas have no random effects: the groups are given by group=")
        # fit() may read columns the formula does not name (clusters, weight groups, groups)
        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        super().__init__(formula, data)
        check_columns(self.data.columns, groups)
        self.group = group
        self.groups = groups
        self.fixef: pl.DataFrame | None = None
        self.fixef_levels: list[pl.DataFrame] | None = None
        self.grps: dict[str, int] = {}
        self.rsquared: float | None = None
        self.rsquared_adj: float | None = None
        self.rsquared_per_group: np.ndarray | None = None
        self.rsquared_adj_per_group: np.ndarray | None = None
        self.se_type: str | None = None
        self.ci_type: str | None = None
        self.sig_type: str | None = None
        self.ranked_data = False
        self.iscorrs: bool | str = False

    def with_formula(self, formula: str | None = None, data: Any = None) -> FittedModel:
        return type(self)(formula or self.formula, self.data if data is None else data, self.group, self.family)

    def _init_arguments(self) -> dict[str, Any]:
        return {"group": self.group, "family": self.family}

    def fit(
        self,
        robust: bool | str = False,
        conf_int: str = "standard",
        permute: int | bool = False,
        perm_on: str = "t-stat",
        rank: bool = False,
        verbose: bool = False,
        n_boot: int = 500,
        n_jobs: int = 1,
        n_lags: int = 1,
        to_corrs: bool | str = False,
        ztrans_corrs: bool = True,
        cluster: str | None = None,
        seed: int | None = None,
        factors: Mapping[str, Any] | None = None,
        ordered: bool = False,
        contrasts: Mapping[str, Any] | None = None,
        summarize: bool = True,
        no_warnings: bool = False,
        **kwargs: Any,
    ) -> pl.DataFrame:
        """Fit each group's regression and test the coefficients across groups.

        - ``robust``: the second level's covariance (True is ``"hc0"``), as
          ``Lm.fit``; ``"cluster"`` takes ``cluster``, a column constant within
          each (last-level) group.
        - ``conf_int="boot"``: percentile intervals of the mean over ``n_boot``
          resamples of the groups.
        - ``permute=N``: sign-flip permutation p-values of the second-level t
          statistic (``perm_on="t-stat"``) or of the mean (``"coef"``).
        - ``to_corrs``: ``"semi"`` or ``"partial"`` correlations of each
          predictor with the response in each group instead of coefficients,
          Fisher z-transformed when ``ztrans_corrs``.
        - ``rank``: the response and numeric predictors ranked within groups.
        - ``seed``: reproducible bootstrap and permutations; ``n_jobs`` is unused.
        """
        summarize = summarize_alias(summarize, kwargs)
        reject_keywords("Lm2.fit", kwargs)
        check_conf_int(conf_int)
        notes: list[str] = []
        n_perm = permutations(permute, notes)
        if n_perm and perm_on not in ("t-stat", "tstat", "coef"):
            raise DataError("perm_on must be 't-stat' or 'coef'")
        n_boot = whole_number(n_boot, "n_boot", minimum=1)
        n_lags = whole_number(n_lags, "n_lags", minimum=0)
        robust_est = robust_name(robust, "hc0")
        if robust_est == "cluster" and cluster is None:
            raise DataError("robust='cluster' needs cluster= (the column naming the clusters)")
        corrs = _corr_kind(to_corrs)
        if corrs and corrs not in ("semi", "partial"):
            raise DataError("to_corrs must be 'semi' or 'partial'")
        options = {
            "factors": factors,
            "ordered": ordered,
            "contrasts": contrasts,
            "robust": robust,
            "n_lags": n_lags,
            "cluster": cluster,
            "to_corrs": to_corrs,
            "ztrans_corrs": ztrans_corrs,
            "rank": rank,
            "conf_int": conf_int,
            "n_boot": n_boot,
            "permute": permute,
            "perm_on": perm_on,
            "seed": seed,
        }
        if verbose:
            print(f"Fitting {self.formula} in each group of {', '.join(self.groups)}...")
        self._fit_core(options)
        coefs = self.coefs
        assert coefs is not None
        seed_int = seed_value(seed)
        if conf_int == "boot":
            lower, upper = self._fit.bootstrap_intervals(n_boot, seed_int)
            coefs = coefs.with_columns(pl.Series("2.5_ci", lower), pl.Series("97.5_ci", upper))
        if n_perm:
            stat = "coef" if perm_on == "coef" else "tstat"
            coefs = with_permutations(coefs, self._fit.permutation_test(n_perm, stat, seed_int), n_perm)
        self.coefs = coefs
        self.warnings += notes
        self._warn(no_warnings)
        if summarize:
            print(self.summary_text())
        return self.coefs

    def _fit_core(self, options: dict[str, Any]) -> None:
        """The core's fit from ``fit()``'s checked ``options`` (all of them):
        each group's least squares and the second level, without the
        bootstrap or permutations (closed-form: a saved model is rebuilt by it)."""
        robust_est = robust_name(options["robust"], "hc0")
        cluster = options["cluster"] if robust_est == "cluster" else None
        corrs = _corr_kind(options["to_corrs"])
        extra = [*self.groups, *([cluster] if cluster is not None else [])]
        check_columns(self.data.columns, extra)
        coding = {k: options[k] for k in ("factors", "ordered", "contrasts")}
        rest = {k: v for k, v in options.items() if k not in coding}
        self._prepare_fit(**coding, weights=None, options=rest)
        if options["rank"]:
            self._frame = rank_columns(self._frame, self.columns_read(groups=False), over=self.groups)
        self.ranked_data = bool(options["rank"])
        frame = self.core_frame(self._frame, [*self._columns, *extra])
        self._fit = _core.Lm2Fit.fit(
            self.formula,
            frame,
            self.groups,
            to_corrs=corrs or None,
            ztrans_corrs=bool(options["ztrans_corrs"]),
            robust=robust_est,
            n_lags=options["n_lags"],
            cluster=cluster,
            contrasts=self._coding.contrasts,
        )
        self.iscorrs = corrs or False
        n_perm = permutations(options["permute"], [])
        self.se_type, self.ci_type, self.sig_type = inference_labels(
            robust_est, options["conf_int"], options["n_boot"], n_perm
        )
        self._finish_fit(summarize=False, verbose=False, no_warnings=True)

    def _restore_fit(self, options: dict[str, Any], estimates: dict[str, Any]) -> None:
        """The saved fit rebuilt by its closed-form solve, without the
        bootstrap or permutations (their results are in the saved ``coefs``)."""
        self._fit_core(options)

    def _collect_results(self) -> None:
        f = self._fit
        self.coefs = self._coef_table()
        self.logLike = self.AIC = self.BIC = None
        self.design_matrix = pl.DataFrame(np.asarray(f.design_matrix), schema=self.fixed_names, orient="row")
        self.warnings = list(f.warnings)
        self.fixef_levels = [self._level_table(level) for level in f.levels()]
        self.fixef = self.fixef_levels[0]
        self.grps = {
            g: int(self.data.select(pl.struct(self.groups[i:]).n_unique()).item()) for i, g in enumerate(self.groups)
        }
        fits = f.group_fits()
        if fits is None:
            self.fits = self.residuals = None
            self.rsquared = self.rsquared_adj = None
            self.rsquared_per_group = self.rsquared_adj_per_group = None
            return
        self.fits = np.asarray(fits["fitted"])
        res = np.asarray(fits["residuals"])
        self.residuals = Residuals(res, lambda kind: res)
        self.rsquared, self.rsquared_adj = float(f.rsquared), float(f.rsquared_adj)
        self.rsquared_per_group = np.asarray(fits["rsquared"])
        self.rsquared_adj_per_group = np.asarray(fits["rsquared_adj"])
        self._add_fit_columns({"fits": self.fits, "residuals": res})

    def _level_table(self, level: dict[str, Any]) -> pl.DataFrame:
        """One level's estimates: its grouping columns, then a column a coefficient."""
        cols: dict[str, Any] = {name: labels for name, labels in level["columns"]}
        values = np.asarray(level["values"])
        for j, name in enumerate(self.fixed_names):
            if self.iscorrs and name == "(Intercept)":
                continue
            cols[name] = values[:, j]
        return pl.DataFrame(cols)

    def _coef_table(self) -> pl.DataFrame:
        f = self._fit
        beta, se, df = np.asarray(f.beta), np.asarray(f.se), np.asarray(f.df)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = beta / se
            q = stats.t.ppf(0.975, df)
            p = t_pvalues(t, df)
        return pl.DataFrame(
            {
                "term": self.fixed_names,
                "Estimate": beta,
                "2.5_ci": beta - q * se,
                "97.5_ci": beta + q * se,
                "SE": se,
                "DF": df,
                "T-stat": t,
                "P-val": p,
                "Sig": [significance(v) for v in p],
            }
        )

    @property
    def first_level(self) -> str:
        """What the first level estimated, in words."""
        if not self.iscorrs:
            return "coefficients"
        kind = "semi-partial" if self.iscorrs == "semi" else "partial"
        z = ", Fisher z-transformed" if self._fit_options.get("ztrans_corrs", True) else ""
        return f"{kind} correlations{z}"

    def summary_text(self) -> str:
        """The second-level table with how it was computed, as text."""
        self._check_fitted()
        return lm2_summary(self)

    def __repr__(self) -> str:
        state = "fitted" if self.fitted else "not fitted"
        return f"Lm2({self.formula!r}, group={self.group!r}) [{state}]"

    def plot_summary(
        self,
        figsize: tuple[float, float] = (12, 6),
        error_bars: str = "ci",
        ranef: bool = True,
        axlim: tuple[float, float] | None = None,
        plot_intercept: bool = True,
        ranef_alpha: float = 0.5,
        coef_fmt: str = "o",
        orient: str = "v",
        ax: Any = None,
    ) -> Any:
        """Forest plot of the second-level estimates (``coefs``) over each
        group's first-level estimates (``fixef``); returns the matplotlib Axes
        (see :func:`mixedmodels.plots.plot_summary`)."""
        self._check_fitted()
        return plots.plot_summary(
            self, figsize, error_bars, ranef, axlim, plot_intercept, ranef_alpha, coef_fmt, orient, 0, ax
        )


def _corr_kind(to_corrs: bool | str | None) -> str | bool | None:
    """``to_corrs`` as the core takes it: False/None, ``"semi"`` (for True) or ``"partial"``."""
    return to_corrs if to_corrs is False or to_corrs is None else ("semi" if to_corrs is True else to_corrs)
