//! Refitting a model with every optimizer, lme4's `allFit`: the check a
//! convergence warning calls for. If the optimizers reach the same
//! objective and estimates, the warning is a false alarm; if they do not,
//! the lowest objective is the better fit. The refits start where the fit
//! started (lme4 1.1.31's `allFit`: `update(object, control = ...)`) and run
//! in parallel, one optimizer a task of rayon's pool.

use std::time::Instant;

use rayon::prelude::*;

use crate::error::Result;
use crate::fit::{self, FitOptions};
use crate::glmer::{Glmer, GlmerOptions, GlmmFit};
use crate::lmer::Lmer;
use crate::optim::{Flow, Method, Monitor, Observer, OptimizerSettings, Progress};

/// The optimizers lme4's `allFit` would try that exist here: BOBYQA and
/// Nelder-Mead for every model, and BFGS on the analytic gradient for linear
/// mixed models (a GLMM's deviance has no gradient here).
pub fn available_methods(generalized: bool) -> Vec<Method> {
    if generalized {
        vec![Method::Bobyqa, Method::NelderMead]
    } else {
        vec![Method::Bobyqa, Method::NelderMead, Method::Bfgs]
    }
}

/// One optimizer's refit: its estimates or why it failed, and its time.
#[derive(Debug, Clone)]
pub struct OptimizerFit {
    pub method: Method,
    /// Wall-clock seconds of the refit (the refits run side by side, so
    /// they share the cores).
    pub seconds: f64,
    pub outcome: std::result::Result<Refit, String>,
}

/// What `summary(allFit(m))` shows of a refit.
#[derive(Debug, Clone, PartialEq)]
pub struct Refit {
    /// The criterion minimised: REML criterion or deviance (LMMs), Laplace
    /// or quadrature deviance (GLMMs).
    pub objective: f64,
    pub loglik: f64,
    pub theta: Vec<f64>,
    /// Standard deviations and correlations of the random effects (lme4's `sdcor`).
    pub sd_cor: Vec<f64>,
    /// The residual standard deviation (1 for families without a scale).
    pub sigma: f64,
    pub beta: Vec<f64>,
    /// Objective evaluations (both stages of a GLMM).
    pub feval: usize,
    /// Did the optimizer report convergence (every stage of a GLMM)?
    pub converged: bool,
    /// The optimizer's final status (a GLMM's second stage's).
    pub status: String,
    /// The convergence checks' and other warnings of the refit.
    pub warnings: Vec<String>,
}

/// An observer of refits running side by side: called from each refit's
/// thread with its method and each of its records (see
/// [`crate::optim::progress`]); [`Flow::Stop`] ends that refit (its outcome
/// is then the [`crate::Error::Interrupted`] message).
pub type SharedObserver<'o> = &'o (dyn Fn(Method, &Progress<'_>) -> Flow + Sync);

/// A model whose fit `all_fit` repeats with each optimizer: linear and
/// generalized mixed models alike.
pub trait AllFit: Sync {
    /// A GLMM: its deviance has no analytic gradient, so no BFGS.
    const GENERALIZED: bool;

    /// [`AllFit::all_fit`], each refit's evaluations reported to `observer`.
    fn all_fit_observed(
        &self,
        methods: &[Method],
        max_feval: usize,
        observer: Option<SharedObserver<'_>>,
    ) -> Vec<OptimizerFit>;

    /// The model refitted with each of `methods`, in parallel, each with the
    /// fit's optimizer settings but for `max_feval` (lme4's `allFit` gives
    /// every optimizer `maxfun = 1e5`).
    fn all_fit(&self, methods: &[Method], max_feval: usize) -> Vec<OptimizerFit> {
        self.all_fit_observed(methods, max_feval, None)
    }
}

/// Each of `methods` on `work`, in parallel, timed.
fn run_all(methods: &[Method], work: impl Fn(Method) -> Result<Refit> + Sync) -> Vec<OptimizerFit> {
    methods
        .par_iter()
        .map(|&method| {
            let clock = Instant::now();
            let outcome = work(method).map_err(|e| e.to_string());
            OptimizerFit { method, seconds: clock.elapsed().as_secs_f64(), outcome }
        })
        .collect()
}

/// A linear mixed model's refits start from its start.
impl AllFit for Lmer {
    const GENERALIZED: bool = false;

    fn all_fit_observed(
        &self,
        methods: &[Method],
        max_feval: usize,
        observer: Option<SharedObserver<'_>>,
    ) -> Vec<OptimizerFit> {
        run_all(methods, |method| {
            let mut model = self.model.replicate();
            let optimizer = OptimizerSettings { method, max_feval, ..self.options.fit.optimizer };
            let options = FitOptions { optimizer, derivatives: true, ..self.options.fit.clone() };
            let mut report = |p: &Progress<'_>| observer.map_or(Flow::Continue, |o| o(method, p));
            let mut monitor = Monitor::new(observer.map(|_| &mut report as Observer<'_>));
            let f = fit::fit_observed(&mut model, &options, self.offset.as_deref(), &mut monitor)?;
            Ok(Refit {
                objective: f.objective,
                loglik: f.loglik,
                sd_cor: model.par.sd_cor(&f.theta, f.sigma),
                theta: f.theta,
                sigma: f.sigma,
                beta: f.beta,
                feval: f.opt.feval,
                converged: f.opt.converged,
                status: f.opt.status,
                warnings: f.warnings,
            })
        })
    }
}

/// A GLMM's refits run both stages from lme4's start; a negative binomial
/// keeps its theta.
impl AllFit for Glmer {
    const GENERALIZED: bool = true;

    fn all_fit_observed(
        &self,
        methods: &[Method],
        max_feval: usize,
        observer: Option<SharedObserver<'_>>,
    ) -> Vec<OptimizerFit> {
        run_all(methods, |method| {
            let optimizer = OptimizerSettings { method, max_feval, ..self.options.optimizer };
            let options = GlmerOptions { optimizer, derivatives: true, ..self.options.clone() };
            let mut report = |p: &Progress<'_>| observer.map_or(Flow::Continue, |o| o(method, p));
            let mut monitor = Monitor::new(observer.map(|_| &mut report as Observer<'_>));
            let f = self.refit_with_options_observed(options, &mut monitor)?;
            Ok(self.refit_summary(f))
        })
    }
}

impl Glmer {
    fn refit_summary(&self, f: GlmmFit) -> Refit {
        let scale = if f.family.has_scale() { f.sigma } else { 1.0 };
        let stage2_ran = self.options.nagq > 0;
        let (feval, converged, status) = if stage2_ran {
            (f.stage1.feval + f.stage2.feval, f.stage1.converged && f.stage2.converged, f.stage2.status.clone())
        } else {
            (f.stage1.feval, f.stage1.converged, f.stage1.status.clone())
        };
        Refit {
            objective: f.objective,
            loglik: f.loglik,
            sd_cor: self.pirls.modes.par.sd_cor(&f.theta, scale),
            theta: f.theta,
            sigma: f.sigma,
            beta: f.beta,
            feval,
            converged,
            status,
            warnings: f.warnings,
        }
    }
}
