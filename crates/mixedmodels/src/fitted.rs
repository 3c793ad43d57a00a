//! What every fitted mixed model answers, whatever its kind: the trait
//! [`MixedFit`] that [`Lmer`] and [`Glmer`] implement (MixedModels.jl's
//! `fixef`, `vcov`, `ranef`, ... defined once on `MixedModel`), so that code
//! reading a fit (the Python bindings, diagnostics, Rust programs) is written
//! once for both.

use crate::data::{DataFrame, FitRows};
use crate::design::{DesignSpec, ModelMatrix, ReForm, ReTerm};
use crate::error::Result;
use crate::glmer::Glmer;
use crate::lmer::{sd_cor_names, Lmer};
use crate::model::Parameterization;
use crate::residuals::ResidualKind;

/// A term of the fixed part: its label as R writes it, its variables, which
/// of them are numeric (not factors), and its columns of X.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedTerm {
    pub label: String,
    pub variables: Vec<String>,
    pub numeric: Vec<bool>,
    pub columns: Vec<usize>,
}

/// A fitted linear or generalized linear mixed model.
pub trait MixedFit {
    /// What the fit learned from the data (levels, contrasts, kept columns).
    fn spec(&self) -> &DesignSpec;
    /// The rows of the data the fit used.
    fn rows(&self) -> &FitRows;
    fn fixed_names(&self) -> &[String];
    /// Term of each fixed-effects column (0 = intercept), as R's `assign`.
    fn assign(&self) -> &[usize];
    /// X on the rows of the fit, n x p column-major.
    fn design(&self) -> &[f64];
    fn beta(&self) -> &[f64];
    /// vcov(beta), p x p column-major.
    fn vcov(&self) -> &[f64];
    fn theta(&self) -> &[f64];
    /// The residual (dispersion) scale; 1 for families without one.
    fn sigma(&self) -> f64;
    /// Does the family estimate a scale (Gaussian, Gamma, inverse Gaussian)?
    fn has_scale(&self) -> bool;
    /// The minimised criterion (REML criterion, or -2 log-likelihood).
    fn objective(&self) -> f64;
    fn loglik(&self) -> f64;
    fn aic(&self) -> f64;
    fn bic(&self) -> f64;
    /// The number of parameters (R's `attr(logLik(m), "df")`).
    fn npar(&self) -> usize;
    fn singular(&self) -> bool;
    fn warnings(&self) -> &[String];
    /// Fitted values (on the response's scale) on the rows of the fit.
    fn fitted(&self) -> &[f64];
    /// The response on the rows of the fit (a binomial one as proportions).
    fn response(&self) -> Vec<f64>;
    /// Prior weights on the rows of the fit (ones when unweighted).
    fn prior_weights(&self) -> Vec<f64>;
    /// The formula's offsets on the rows of the fit (zeros without offsets).
    fn offset(&self) -> Vec<f64>;
    fn residuals(&self, kind: ResidualKind) -> Vec<f64>;
    /// The random-effects terms, in lme4's order.
    fn random_terms(&self) -> &[ReTerm];
    /// How theta maps to the relative covariance factors.
    fn parameterization(&self) -> &Parameterization;
    /// Conditional modes, one vector a term (level-major).
    fn ranef(&self) -> &[Vec<f64>];
    /// Conditional variances of the random effects (q x q a level, per term), lme4's `condVar`.
    fn conditional_variances(&self) -> Vec<Vec<f64>>;
    /// Predictions for new data with the random effects `re` selects (all,
    /// none, or those of a formula's terms: lme4's `re.form`), on the
    /// response's scale or the link's.
    fn predict(&self, data: &DataFrame, re: &ReForm, response_scale: bool) -> Result<Vec<f64>>;
    /// `nsim` simulated responses, with the estimated random effects of the
    /// terms flagged in `conditioned` (one flag a term) and new ones for the
    /// others (see [`MixedFit::conditioned_terms`]).
    fn simulate(&self, nsim: usize, conditioned: &[bool], seed: u64) -> Vec<Vec<f64>>;

    /// The terms a simulation conditions on for `re` (lme4's `re.form` of
    /// `simulate()`): a term is conditioned on when `re` names every one of
    /// its effects, drawn anew when it names none. `data` holds the columns
    /// `re`'s terms read (the fit's rows will do). A term `re` names in part
    /// is refused: lme4 would then add the named effects' modes to new draws
    /// of the whole term, counting them twice.
    fn conditioned_terms(&self, re: &ReForm, data: &DataFrame) -> Result<Vec<bool>> {
        let terms = self.random_terms();
        let selection = self.spec().re_form_selection(re, terms, data)?;
        terms
            .iter()
            .zip(selection)
            .map(|(t, used)| {
                if used.iter().all(|u| *u) || used.iter().all(|u| !*u) {
                    Ok(used.first().copied().unwrap_or(false))
                } else {
                    Err(crate::Error::Argument(format!(
                        "simulate() conditions on whole random-effect terms: re_form names some of the effects of \
                         the term for '{}' ({}), not all",
                        t.group,
                        t.cnames.join(", ")
                    )))
                }
            })
            .collect()
    }

    fn nobs(&self) -> usize {
        self.rows().len()
    }

    /// Does the fit hold its rows? A fit from sufficient statistics (out of
    /// core) does not: its row-level results (`rows`, `design`, `fitted`,
    /// `response`, `prior_weights`, `offset`, `residuals`, `simulate`) are empty.
    fn holds_rows(&self) -> bool {
        true
    }

    /// The covariance of term `k`'s random effects (q x q column-major), on
    /// the response's scale: sigma^2 Lambda Lambda' (Lambda Lambda' without a scale).
    fn ranef_covariance(&self, k: usize) -> Vec<f64> {
        let scale = if self.has_scale() { self.sigma() * self.sigma() } else { 1.0 };
        self.parameterization().relative_covariance(self.theta(), k).iter().map(|v| v * scale).collect()
    }

    /// lme4's names of the random-effect parameters on the sd/cor scale.
    fn sd_cor_names(&self) -> Vec<String> {
        sd_cor_names(self.random_terms())
    }

    /// The covariance parameters on lme4's sd/cor scale, in the order of
    /// [`MixedFit::sd_cor_names`].
    fn sd_cor(&self) -> Vec<f64> {
        let scale = if self.has_scale() { self.sigma() } else { 1.0 };
        self.parameterization().sd_cor(self.theta(), scale)
    }

    /// The fixed-effects matrix of (new) data in the fit's coding.
    fn fixed_matrix(&self, data: &DataFrame) -> Result<ModelMatrix> {
        self.spec().fixed_matrix(data)
    }

    /// The terms of the fixed part, with their columns of X.
    fn fixed_terms(&self) -> Vec<FixedTerm> {
        let assign = self.assign();
        self.spec()
            .fixed_terms()
            .into_iter()
            .enumerate()
            .map(|(i, (label, variables, numeric))| {
                let columns = (0..assign.len()).filter(|&j| assign[j] == i + 1).collect();
                FixedTerm { label, variables, numeric, columns }
            })
            .collect()
    }
}

/// The accessors that read the same fields in both fits (`spec`, `rows`,
/// `fixed_names`, `assign`, and the results in `fit`).
macro_rules! fit_accessors {
    () => {
        fn spec(&self) -> &DesignSpec {
            &self.spec
        }
        fn rows(&self) -> &FitRows {
            &self.rows
        }
        fn fixed_names(&self) -> &[String] {
            &self.fixed_names
        }
        fn assign(&self) -> &[usize] {
            &self.assign
        }
        fn beta(&self) -> &[f64] {
            &self.fit.beta
        }
        fn vcov(&self) -> &[f64] {
            &self.fit.vcov_beta
        }
        fn theta(&self) -> &[f64] {
            &self.fit.theta
        }
        fn sigma(&self) -> f64 {
            self.fit.sigma
        }
        fn objective(&self) -> f64 {
            self.fit.objective
        }
        fn loglik(&self) -> f64 {
            self.fit.loglik
        }
        fn aic(&self) -> f64 {
            self.fit.aic
        }
        fn bic(&self) -> f64 {
            self.fit.bic
        }
        fn npar(&self) -> usize {
            self.fit.npar
        }
        fn singular(&self) -> bool {
            self.fit.singular
        }
        fn warnings(&self) -> &[String] {
            &self.fit.warnings
        }
        fn ranef(&self) -> &[Vec<f64>] {
            &self.fit.ranef
        }
    };
}

impl MixedFit for Lmer {
    fit_accessors!();

    fn design(&self) -> &[f64] {
        &self.model.x
    }
    fn has_scale(&self) -> bool {
        true
    }
    fn fitted(&self) -> &[f64] {
        &self.fit.fitted
    }
    fn response(&self) -> Vec<f64> {
        Lmer::response(self)
    }
    fn prior_weights(&self) -> Vec<f64> {
        Lmer::prior_weights(self)
    }
    fn offset(&self) -> Vec<f64> {
        if !self.holds_rows() {
            return vec![];
        }
        self.offset.clone().unwrap_or_else(|| vec![0.0; self.fit.n])
    }
    fn nobs(&self) -> usize {
        self.fit.n
    }
    fn holds_rows(&self) -> bool {
        Lmer::holds_rows(self)
    }
    fn residuals(&self, kind: ResidualKind) -> Vec<f64> {
        Lmer::residuals(self, kind)
    }
    fn random_terms(&self) -> &[ReTerm] {
        &self.model.terms
    }
    fn parameterization(&self) -> &Parameterization {
        &self.model.par
    }
    fn conditional_variances(&self) -> Vec<Vec<f64>> {
        Lmer::conditional_variances(self)
    }
    fn predict(&self, data: &DataFrame, re: &ReForm, _response_scale: bool) -> Result<Vec<f64>> {
        // the identity link: both scales are the same
        Lmer::predict_re(self, data, re)
    }
    fn simulate(&self, nsim: usize, conditioned: &[bool], seed: u64) -> Vec<Vec<f64>> {
        if !self.holds_rows() {
            return vec![];
        }
        crate::resample::simulate(self, nsim, conditioned, seed)
    }
}

impl MixedFit for Glmer {
    fit_accessors!();

    fn design(&self) -> &[f64] {
        &self.pirls.x
    }
    fn has_scale(&self) -> bool {
        self.fit.family.has_scale()
    }
    fn fitted(&self) -> &[f64] {
        &self.fit.mu
    }
    fn response(&self) -> Vec<f64> {
        self.pirls.resp.y.clone()
    }
    fn prior_weights(&self) -> Vec<f64> {
        self.pirls.resp.weights.clone()
    }
    fn offset(&self) -> Vec<f64> {
        self.pirls.resp.offset.clone()
    }
    fn residuals(&self, kind: ResidualKind) -> Vec<f64> {
        Glmer::residuals(self, kind)
    }
    fn random_terms(&self) -> &[ReTerm] {
        &self.pirls.modes.terms
    }
    fn parameterization(&self) -> &Parameterization {
        &self.pirls.modes.par
    }
    fn conditional_variances(&self) -> Vec<Vec<f64>> {
        Glmer::conditional_variances(self)
    }
    fn predict(&self, data: &DataFrame, re: &ReForm, response_scale: bool) -> Result<Vec<f64>> {
        Glmer::predict_re(self, data, re, response_scale)
    }
    fn simulate(&self, nsim: usize, conditioned: &[bool], seed: u64) -> Vec<Vec<f64>> {
        Glmer::simulate(self, nsim, conditioned, seed)
    }
}
