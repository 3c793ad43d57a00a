//! The staged pipeline of a linear mixed model fit, as lme4's `lmer`:
//! formula -> design -> cross-products -> optimisation -> results.
//!
//! ```
//! use mixedmodels::data::DataFrame;
//! use mixedmodels::lmer::{Lmer, LmerOptions};
//!
//! // Six groups of five observations with a group effect.
//! let g: Vec<String> = (0..30).map(|i| format!("g{}", i / 5)).collect();
//! let y: Vec<f64> = (0..30).map(|i| (i / 5) as f64 * 2.0 + ((i * 7) % 5) as f64 * 0.3).collect();
//! let data = DataFrame::new().with_numeric("y", y).unwrap().with_labels("g", &g).unwrap();
//! let m = Lmer::fit("y ~ 1 + (1 | g)", &data, &LmerOptions::default()).unwrap();
//! assert_eq!(m.fixed_names, ["(Intercept)"]);
//! assert!(m.fit.sigma > 0.0 && m.fit.theta[0] > 0.0);
//! ```

use crate::data::{DataFrame, FitRows};
use crate::design::{Contrasts, DesignSpec, ReForm, ReTerm, WeightRule};
use crate::error::{Error, Result};
use crate::fit::{self, FitOptions, LmmFit};
use crate::formula::ModelFormula;
use crate::inference::KenwardRoger;
use crate::model::LinearMixedModel;
use crate::optim::{Monitor, Observer, OptSummary};
use crate::resample::Replicate;
use crate::residuals::{self, ResidualKind};
use crate::setup::{setup_warnings, ModelFrame};
use crate::sums::bootstrap::NoiseSampler;

#[derive(Debug, Clone)]
pub struct LmerOptions {
    pub reml: bool,
    /// Contrasts by variable name (`"Machine"`, `"factor(x)"`).
    pub contrasts: Vec<(String, Contrasts)>,
    /// Name of a column of prior weights.
    pub weights: Option<String>,
    pub fit: FitOptions,
}

impl Default for LmerOptions {
    fn default() -> Self {
        LmerOptions { reml: true, contrasts: vec![], weights: None, fit: FitOptions::default() }
    }
}

/// A fitted linear mixed model.
pub struct Lmer {
    pub spec: DesignSpec,
    pub model: LinearMixedModel,
    pub fit: LmmFit,
    pub fixed_names: Vec<String>,
    /// Term of each fixed-effects column (0 = intercept), as R's `assign`.
    pub assign: Vec<usize>,
    /// The formula's offsets on the rows of the fit.
    pub offset: Option<Vec<f64>>,
    /// The rows of the data the fit used.
    pub rows: FitRows,
    pub options: LmerOptions,
    /// Kenward-Roger's adjustment, computed on first use.
    kr: std::sync::OnceLock<std::result::Result<KenwardRoger, crate::Error>>,
    /// A fit without rows: the bootstrap's sampler of the sums, computed on first use.
    noise: std::sync::OnceLock<std::result::Result<NoiseSampler, crate::Error>>,
    /// A fit without rows: X'X (unweighted, p x p), which it cannot recompute.
    x_gram: Option<Vec<f64>>,
    /// A fit without rows: the per-group pieces of its sums, when the pass formed them.
    pub group_pieces: Option<crate::sums::group_share::GroupPieces>,
}

/// A model set up and not yet fitted (lme4's `lFormula` + `mkLmerDevfun`).
struct Setup {
    spec: DesignSpec,
    model: LinearMixedModel,
    fixed_names: Vec<String>,
    assign: Vec<usize>,
    offset: Option<Vec<f64>>,
    rows: FitRows,
}

impl Setup {
    fn new(formula: &str, data: &DataFrame, options: &LmerOptions) -> Result<Setup> {
        let formula = ModelFormula::parse(formula)?;
        let frame =
            ModelFrame::new(formula, data, &options.contrasts, options.weights.as_deref(), WeightRule::Positive)?;
        let y = frame.spec.numeric_response(&frame.data)?;
        let ModelFrame { rows, spec, design, weights, .. } = frame;
        let x = design.x;
        let p = x.ncols();
        let y_adj = match &design.offset {
            Some(o) => y.iter().zip(o).map(|(a, b)| a - b).collect(),
            None => y,
        };
        let model = LinearMixedModel::new(x.values, p, y_adj, design.terms, weights, options.reml)?;
        model.check_response_varies()?;
        Ok(Setup { spec, model, fixed_names: x.names, assign: x.assign, offset: design.offset, rows })
    }

    fn into_lmer(self, mut fit: LmmFit, options: &LmerOptions) -> Lmer {
        fit.warnings.splice(0..0, setup_warnings(&self.rows, &self.spec));
        Lmer {
            spec: self.spec,
            model: self.model,
            fit,
            fixed_names: self.fixed_names,
            assign: self.assign,
            offset: self.offset,
            rows: self.rows,
            options: options.clone(),
            kr: std::sync::OnceLock::new(),
            noise: std::sync::OnceLock::new(),
            x_gram: None,
            group_pieces: None,
        }
    }
}

impl Lmer {
    pub fn fit(formula: &str, data: &DataFrame, options: &LmerOptions) -> Result<Lmer> {
        Lmer::fit_observed(formula, data, options, None)
    }

    /// [`Lmer::fit`], each evaluation of the optimizer reported to
    /// `observer` as it happens (see [`crate::optim::progress`]); a
    /// [`Flow::Stop`](crate::optim::Flow::Stop) ends the fit with
    /// [`Error::Interrupted`].
    pub fn fit_observed(
        formula: &str,
        data: &DataFrame,
        options: &LmerOptions,
        observer: Option<Observer<'_>>,
    ) -> Result<Lmer> {
        let mut setup = Setup::new(formula, data, options)?;
        let mut monitor = Monitor::new(observer);
        // On a worker thread of rayon's pool, as `Glmer::fit`: the parallel
        // steps then share the pool's threads with the fit.
        let fit =
            rayon::scope(|_| fit::fit_observed(&mut setup.model, &options.fit, setup.offset.as_deref(), &mut monitor))?;
        Ok(setup.into_lmer(fit, options))
    }

    /// The model at given covariance parameters `theta`, without optimizing:
    /// every result a fit that ended at `theta` gives (a saved model loaded
    /// again). `opt` is the optimizer's record to report (the stored one).
    pub fn at_theta(
        formula: &str,
        data: &DataFrame,
        options: &LmerOptions,
        theta: &[f64],
        opt: OptSummary,
    ) -> Result<Lmer> {
        let mut setup = Setup::new(formula, data, options)?;
        let ntheta = setup.model.par.ntheta();
        if theta.len() != ntheta {
            return Err(Error::Argument(format!(
                "theta has {} values but the model has {ntheta} covariance parameters",
                theta.len()
            )));
        }
        setup.model.objective_at(theta);
        let fit = fit::results(&mut setup.model, opt, options.fit.derivatives, setup.offset.as_deref())?;
        Ok(setup.into_lmer(fit, options))
    }

    /// A fit whose data entered as cross-products only (an out-of-core
    /// fit, [`crate::sums`]): the same model, without rows. `n_rows`: the
    /// rows of the data, used or not.
    pub(crate) fn without_rows(
        spec: DesignSpec,
        model: LinearMixedModel,
        fit: LmmFit,
        fixed_names: Vec<String>,
        assign: Vec<usize>,
        n_rows: usize,
        options: LmerOptions,
        x_gram: Vec<f64>,
    ) -> Lmer {
        Lmer {
            spec,
            model,
            fit,
            fixed_names,
            assign,
            offset: None,
            rows: FitRows { positions: vec![], nrows_data: n_rows },
            options,
            kr: std::sync::OnceLock::new(),
            noise: std::sync::OnceLock::new(),
            x_gram: Some(x_gram),
            group_pieces: None,
        }
    }

    /// X'X of the fixed effects, unweighted (p x p, column-major): what
    /// lmerTest's type I and II hypotheses are built from (`doolittle(crossprod(X))`).
    pub fn x_crossprod(&self) -> Vec<f64> {
        if let Some(g) = &self.x_gram {
            return g.clone();
        }
        let (n, p) = (self.model.n(), self.model.p());
        let mut g = vec![0.0; p * p];
        crate::linalg::gemm_tn(&mut g, &self.model.x, &self.model.x, n, p, p, 1.0, false);
        g
    }

    /// Does the fit hold the rows it was fitted to? An out-of-core fit does
    /// not: row-level results (fitted values, residuals, the design, the
    /// rows used) and what needs them (Kenward-Roger, simulation) are
    /// computed by another pass over the data, or not at all.
    pub fn holds_rows(&self) -> bool {
        self.model.holds_rows()
    }

    pub fn terms(&self) -> &[ReTerm] {
        &self.model.terms
    }

    /// lme4's names of the random-effect parameters on the sd/cor scale.
    pub fn sd_cor_names(&self) -> Vec<String> {
        sd_cor_names(self.terms())
    }

    /// Kenward-Roger's adjusted covariance (REML fits), computed once.
    pub fn kenward_roger(&self) -> Result<&KenwardRoger> {
        if !self.holds_rows() {
            return Err(crate::Error::Data(
                "Kenward-Roger's adjustment needs Z row by row (its n x n marginal covariance), which an out-of-core \
                 fit does not hold: use Satterthwaite's df, or fit the data in memory"
                    .into(),
            ));
        }
        self.kr.get_or_init(|| KenwardRoger::new(&self.model, self.fit.sigma)).as_ref().map_err(Clone::clone)
    }

    /// Parametric bootstrap replicates `first..first + count` (lme4's
    /// `bootMer`): from the rows, or, for a fit without rows, from the exact
    /// distribution of the sums a replicate's response has ([`crate::sums::bootstrap`]).
    pub fn parametric_bootstrap(&self, first: u64, count: usize, seed: u64) -> Result<Vec<Option<Replicate>>> {
        if self.holds_rows() {
            return Ok(crate::resample::parametric_bootstrap(self, first, count, seed));
        }
        let sampler = self.noise.get_or_init(|| NoiseSampler::new(&self.model.cp)).as_ref().map_err(Clone::clone)?;
        Ok(crate::sums::bootstrap::parametric_bootstrap(self, sampler, first, count, seed))
    }

    /// Conditional variances of the random effects (q x q a level, per term), lme4's `condVar`.
    pub fn conditional_variances(&self) -> Vec<Vec<f64>> {
        let s2 = self.fit.sigma * self.fit.sigma;
        self.model.conditional_variances().into_iter().map(|v| v.into_iter().map(|x| x * s2).collect()).collect()
    }

    /// Residuals of a kind (lme4's `residuals(m, type)`).
    pub fn residuals(&self, kind: ResidualKind) -> Vec<f64> {
        residuals::linear(kind, &self.fit.residuals, self.model.weights.as_deref())
    }

    /// The prior weights of the rows of the fit (ones when unweighted).
    pub fn prior_weights(&self) -> Vec<f64> {
        if !self.holds_rows() {
            return vec![];
        }
        self.model.weights.clone().unwrap_or_else(|| vec![1.0; self.fit.n])
    }

    /// The response on the rows of the fit (offsets included).
    pub fn response(&self) -> Vec<f64> {
        self.fit.fitted.iter().zip(&self.fit.residuals).map(|(f, r)| f + r).collect()
    }

    /// Predictions for new data: X beta (+ Z b where `use_re`, zero for unseen levels) + offset.
    pub fn predict(&self, data: &DataFrame, use_re: bool) -> Result<Vec<f64>> {
        self.spec.linear_predictor(data, &self.fit.beta, &self.fit.ranef, use_re)
    }

    /// Predictions with the random effects `re` selects (lme4's `re.form`).
    pub fn predict_re(&self, data: &DataFrame, re: &ReForm) -> Result<Vec<f64>> {
        self.spec.linear_predictor_re(data, &self.fit.beta, &self.fit.ranef, re)
    }
}

/// lme4's names of the random-effect parameters on the sd/cor scale, in
/// theta's order: `sd_(Intercept)|Subject`, `cor_Days.(Intercept)|Subject`.
pub fn sd_cor_names(terms: &[ReTerm]) -> Vec<String> {
    let mut out = Vec::new();
    for t in terms {
        let q = t.q();
        for col in 0..q {
            for row in col..q {
                out.push(if row == col {
                    format!("sd_{}|{}", t.cnames[col], t.group)
                } else {
                    format!("cor_{}.{}|{}", t.cnames[row], t.cnames[col], t.group)
                });
            }
        }
    }
    out
}
