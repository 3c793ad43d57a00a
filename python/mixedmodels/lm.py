"""``Lm``: linear regression by ordinary or weighted least squares, and
logistic regression (pymer4's ``Lm``, R's ``lm`` and ``glm``), fitted by the
Rust core with the formula language of ``Lmer``.

Standard errors are classical or sandwich estimates (``robust=``: HC0-HC3,
Newey-West, cluster-robust, as pymer4 defines them), intervals t-based or
from the case bootstrap, p-values parametric or from permutations of the
response; the loops run in Rust on all cores, reproducible for a ``seed``.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from mixedmodels import _core
from mixedmodels import drop1 as drop1_module
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
from mixedmodels._frame import check_columns, missing_rows, to_polars
from mixedmodels._stats import odds_ratio_columns, significance, t_pvalues, z_pvalues
from mixedmodels._summary_lm import glm_summary, lm_summary
from mixedmodels.exceptions import DataError
from mixedmodels.model import FittedModel, Residuals

__all__ = ["Lm"]

FAMILIES = ("gaussian", "binomial", "poisson", "gamma", "inverse_gaussian")
_CORE_FAMILY = {"gamma": "Gamma", "inverse_gaussian": "inverse.gaussian"}
_CODING_OPTIONS = ("factors", "ordered", "contrasts")


# ------------------------------------------------------------------- Lm
class Lm(FittedModel):
    """A linear model ``Lm(formula, data)``, or with ``family="binomial"`` a
    logistic regression (R's ``glm``; also ``"poisson"``, ``"gamma"``,
    ``"inverse_gaussian"``).

    ``formula`` is R's (``"DV ~ IV1 + IV3"``, factors, interactions,
    ``poly()``, ``log()``; no random effects); ``data`` a polars DataFrame or
    LazyFrame, a pandas DataFrame or a pyarrow Table. Call :meth:`fit`; the
    results are polars DataFrames (``coefs``) and numpy arrays.
    """

    def __init__(self, formula: str, data: Any, family: str = "gaussian", link: str | None = None) -> None:
        family = str(family).lower()
        if family not in FAMILIES:
            raise DataError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
        if _core.formula_structure(formula)["bars"]:
            raise DataError("Lm has no random effects: use Lmer for a formula with (... | group)")
        # fit() may read columns the formula does not name (clusters, weight groups, groups)
        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        super().__init__(formula, data)
        self.family = family
        self.link = link
        self.estimator: str | None = None
        self.se_type: str | None = None
        self.ci_type: str | None = None
        self.sig_type: str | None = None
        self.ranked_data = False
        self.rsquared: float | None = None
        self.rsquared_adj: float | None = None
        self.sigma: float | None = None

    @property
    def is_generalized(self) -> bool:  # type: ignore[override]
        return self.family != "gaussian"

    def with_formula(self, formula: str | None = None, data: Any = None) -> FittedModel:
        return type(self)(formula or self.formula, self.data if data is None else data, self.family, self.link)

    def _init_arguments(self) -> dict[str, Any]:
        return {"family": self.family, "link": self.link}

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        robust: bool | str = False,
        conf_int: str = "standard",
        permute: int | bool = False,
        rank: bool = False,
        summarize: bool = True,
        verbose: bool = False,
        n_boot: int = 500,
        n_jobs: int = 1,
        n_lags: int = 1,
        cluster: str | None = None,
        weights: str | Sequence[float] | np.ndarray | None = None,
        wls_dof_correction: bool = True,
        seed: int | None = None,
        factors: Mapping[str, Any] | None = None,
        ordered: bool = False,
        contrasts: Mapping[str, Any] | None = None,
        no_warnings: bool = False,
        **kwargs: Any,
    ) -> pl.DataFrame:
        """Fit the model; print its summary when ``summarize``; return ``coefs``.

        - ``robust``: False (classical), True (``"hc1"``), ``"hc0"``, ``"hc1"``,
          ``"hc2"``, ``"hc3"``, ``"hac"`` (Newey-West with ``n_lags`` lags, in
          row order) or ``"cluster"`` (by the column ``cluster``; df = number
          of clusters - number of coefficients, as pymer4).
        - ``weights``: a column name gives weighted least squares with weights
          1 / var(response) within that column's groups and, with two groups
          and ``wls_dof_correction``, Welch-Satterthwaite df (a regression on
          the group is then Welch's t-test); an array gives the weights
          themselves (R's ``lm(weights=)``), without df correction.
        - ``conf_int="boot"``: percentile intervals from ``n_boot`` case
          bootstrap refits (rows resampled with their weights).
        - ``permute=N``: p-values from N permutations of the response (the
          rows of the design and their weights stay): ``Num_perm`` and
          ``Perm-P-val`` replace ``DF`` and ``P-val``.
        - ``rank=True``: numeric variables and the response replaced by their
          ranks first.
        - ``seed`` makes the bootstrap and permutations reproducible (any
          number of threads); ``n_jobs`` is accepted for pymer4 and unused.
        - ``factors``/``ordered``/``contrasts``: the coding of factors, as ``Lmer.fit``.

        Logistic regression (``family="binomial"``) has standard inference only.
        """
        summarize = summarize_alias(summarize, kwargs)
        reject_keywords("Lm.fit", kwargs)
        check_conf_int(conf_int)
        notes: list[str] = []
        n_perm = permutations(permute, notes)
        n_boot = whole_number(n_boot, "n_boot", minimum=1)
        n_lags = whole_number(n_lags, "n_lags", minimum=0)
        robust_est = robust_name(robust, "hc1")
        if self.is_generalized and (robust_est != "classical" or n_perm or conf_int != "standard"):
            raise DataError("Logistic (generalized) regression supports only standard parametric inference")
        if self.is_generalized and isinstance(weights, str):
            raise DataError("weights= a column of group variances is for linear models; pass an array of weights")
        if robust_est == "cluster" and cluster is None:
            raise DataError("robust='cluster' needs cluster= (the column naming the clusters)")
        options = {
            "factors": factors,
            "ordered": ordered,
            "contrasts": contrasts,
            "weights": weights,
            "robust": robust,
            "n_lags": n_lags,
            "cluster": cluster,
            "wls_dof_correction": wls_dof_correction,
            "rank": rank,
            "conf_int": conf_int,
            "n_boot": n_boot,
            "permute": permute,
            "seed": seed,
        }
        if verbose:
            kind = "rank" if rank else "linear"
            print(f"Fitting {kind} model with {robust_est} standard errors and {conf_int} 95% confidence intervals...")
        self._fit_core(options)
        coefs = self.coefs
        assert coefs is not None
        seed_int = seed_value(seed)
        if conf_int == "boot":
            lower, upper, skipped = self._fit.bootstrap_intervals(n_boot, seed_int)
            coefs = coefs.with_columns(pl.Series("2.5_ci", lower), pl.Series("97.5_ci", upper))
            if skipped:
                notes.append(f"{skipped} of {n_boot} bootstrap resamples had a rank-deficient design and were skipped")
        if n_perm:
            coefs = with_permutations(coefs, self._fit.permutation_test(n_perm, seed_int), n_perm)
        self.coefs = coefs
        self.warnings += notes
        self._warn(no_warnings)
        if summarize:
            print(self.summary_text())
        return self.coefs

    def _fit_core(self, options: dict[str, Any], estimates: dict[str, Any] | None = None) -> None:
        """The core's fit from ``fit()``'s checked ``options`` (all of them):
        least squares or IRLS, without the bootstrap or permutations. With
        saved ``estimates`` a generalized fit is rebuilt at them without
        iterating; least squares is closed-form (one solve, nothing to save)."""
        weights = options["weights"]
        robust_est = robust_name(options["robust"], "hc1")
        cluster = options["cluster"] if robust_est == "cluster" else None
        group_weights = weights if isinstance(weights, str) else None
        prior = None if isinstance(weights, str) else weights
        extra = [c for c in (group_weights, cluster) if c is not None]
        check_columns(self.data.columns, extra)
        coding = {k: options[k] for k in _CODING_OPTIONS}
        rest = {k: v for k, v in options.items() if k not in _CODING_OPTIONS}
        _, weight_name, core_contrasts = self._prepare_fit(**coding, weights=prior, options=rest)
        if options["rank"]:
            self._frame = rank_columns(self._frame, self.columns_read(groups=False))
        self.ranked_data = bool(options["rank"])
        names = [*self._columns, *extra, *([weight_name] if weight_name else [])]
        frame = self.core_frame(self._frame, names)
        glm_args = {
            "family": _CORE_FAMILY.get(self.family, self.family),
            "link": self.link,
            "weights": weight_name,
            "contrasts": core_contrasts,
        }
        if self.is_generalized and estimates:
            beta, eta_weights = list(estimates["beta"]), list(estimates["eta_weights"])
            iterations, converged = int(estimates["iterations"]), bool(estimates["converged"])
            self._fit = _core.GlmFit.at_estimates(
                self.formula, frame, beta, eta_weights, iterations, converged, **glm_args
            )
        elif self.is_generalized:
            self._fit = _core.GlmFit.fit(self.formula, frame, **glm_args)
        else:
            self._fit = _core.LmFit.fit(
                self.formula,
                frame,
                weights=weight_name,
                weight_groups=group_weights,
                welch_df=bool(options["wls_dof_correction"]),
                robust=robust_est,
                n_lags=options["n_lags"],
                cluster=cluster,
                contrasts=core_contrasts,
            )
        self.estimator = "WLS" if weights is not None else ("IRLS" if self.is_generalized else "OLS")
        n_perm = permutations(options["permute"], [])
        self.se_type, self.ci_type, self.sig_type = inference_labels(
            robust_est, options["conf_int"], options["n_boot"], n_perm
        )
        self._finish_fit(summarize=False, verbose=False, no_warnings=True)

    def _estimates(self) -> dict[str, Any]:
        if not self.is_generalized:
            return {}
        f = self._fit
        return {
            "beta": [float(b) for b in f.beta],
            "eta_weights": np.asarray(f.eta_weights),
            "iterations": int(f.iterations),
            "converged": bool(f.converged),
        }

    def _restore_fit(self, options: dict[str, Any], estimates: dict[str, Any]) -> None:
        """The fit at the saved estimates, without the bootstrap or
        permutations (their results are in the saved ``coefs``)."""
        self._fit_core(options, estimates)

    def _collect_results(self) -> None:
        super()._collect_results()
        f = self._fit
        self.fits = np.asarray(f.fitted)
        default = "deviance" if self.is_generalized else "response"
        self.residuals = Residuals(np.asarray(f.residuals(default)), lambda kind: np.asarray(f.residuals(kind)))
        if self.is_generalized:
            self.sigma = None
            eta = np.asarray(f.linear_predictor)
            probs = self.fits
            columns = {"fits": eta, "residuals": np.asarray(self.residuals)}
            if self.family == "binomial":
                columns.update({"fit_probs": probs, "fit_classes": (probs > 0.5).astype(float)})
            self._add_fit_columns(columns)
        else:
            self.sigma = float(f.sigma)
            self.rsquared = float(f.rsquared)
            self.rsquared_adj = float(f.rsquared_adj)
            self._add_fit_columns({"fits": self.fits, "residuals": np.asarray(self.residuals)})

    def _coef_table(self) -> pl.DataFrame:
        f = self._fit
        beta = self.beta
        se = np.asarray(f.se)
        stat = beta / se
        cols: dict[str, Any] = {"term": self.fixed_names, "Estimate": beta}
        if self.is_generalized and f.dispersion == 1.0:
            q = stats.norm.ppf(0.975)
            p = z_pvalues(stat)
            cols.update({"2.5_ci": beta - q * se, "97.5_ci": beta + q * se, "SE": se})
            cols.update({"Z-stat": stat, "P-val": p, "Sig": [significance(v) for v in p]})
            if f.link == "logit":
                cols.update(odds_ratio_columns(beta, cols["2.5_ci"], cols["97.5_ci"]))
            return pl.DataFrame(cols)
        df = np.full(len(beta), float(f.df if not self.is_generalized else f.df_residual))
        with np.errstate(invalid="ignore"):
            q = stats.t.ppf(0.975, df)
            p = t_pvalues(stat, df)
        cols.update({"2.5_ci": beta - q * se, "97.5_ci": beta + q * se, "SE": se, "DF": df})
        cols.update({"T-stat": stat, "P-val": p, "Sig": [significance(v) for v in p]})
        return pl.DataFrame(cols)

    # ----------------------------------------------------------- results
    def summary_text(self) -> str:
        """R's summary of the fit, as text."""
        self._check_fitted()
        return glm_summary(self) if self.is_generalized else lm_summary(self)

    @property
    def deviance(self) -> float:
        """The residual sum of squares (weighted), or a GLM's deviance."""
        self._check_fitted()
        if self.is_generalized:
            return float(self._fit.deviance)
        return float(np.sum(np.asarray(self.residuals("pearson")) ** 2))

    def drop1(self, scope: Sequence[str] | None = None) -> pl.DataFrame:
        """R's ``drop1(lm, test = "F")`` for a linear model: each fixed term
        that can be dropped while respecting marginality is removed by a refit
        and tested by F = (increase of the residual sum of squares / its df) /
        (residual mean square of this fit); columns as ``Lmer.anova()``."""
        self._check_fitted()
        return drop1_module.drop1(self, scope=scope)

    def to_corrs(self, corr_type: str = "semi", ztrans_corrs: bool = False) -> pl.DataFrame:
        """Each predictor's semi-partial (``"semi"``) or partial (``"partial"``)
        correlation with the response (null for the intercept), Fisher
        z-transformed with ``ztrans_corrs``: ``term, corr``. For predictor c,
        r_c is c regressed on the other columns; the semi-partial correlation
        is cor(y, r_c), the partial cor(y regressed on the others, r_c)."""
        self._check_fitted()
        if self.is_generalized:
            raise DataError(".to_corrs is only supported for family='gaussian'")
        if corr_type not in ("semi", "partial"):
            raise DataError("corr_type must be 'semi' or 'partial'")
        corrs = np.asarray(self._fit.correlations(corr_type))
        if ztrans_corrs:
            corrs = np.arctanh(corrs)
        return pl.DataFrame({"term": self.fixed_names, "corr": corrs}).with_columns(pl.col("corr").fill_nan(None))

    def predict(self, data: Any, pred_type: str = "response") -> np.ndarray:
        """Predictions for new data: X beta (+ offsets); for a GLM on the
        response scale (probabilities) or with ``pred_type="link"`` the linear
        predictor. Rows with a missing value in a column the prediction reads
        are NaN."""
        self._check_fitted()
        if pred_type not in ("response", "link"):
            raise DataError("pred_type must be 'response' or 'link'")
        if pred_type == "link" and not self.is_generalized:
            _warnings.warn("pred_type='link' is ignored when family='gaussian' as link='identity'", stacklevel=2)
        frame = to_polars(data)
        needed = self.columns_read(response=False, groups=False)
        check_columns(frame.columns, needed)
        missing = missing_rows(frame, needed)
        out = np.full(frame.height, np.nan)
        if missing.all():
            return out
        if missing.any():
            frame = frame.filter(pl.Series(~missing))
        if self.ranked_data:
            raise DataError("predict() is not available for a model fitted with rank=True")
        core = self.core_frame(frame, needed)
        if self.is_generalized:
            out[~missing] = np.asarray(self._fit.predict(core, pred_type == "response"))
        else:
            out[~missing] = np.asarray(self._fit.predict(core))
        return out
