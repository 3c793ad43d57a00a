//! Minimisation of the profiled objective over theta with lme4's bounds
//! (diagonal elements of each relative covariance factor >= 0), and a record
//! of the run users can inspect:
//! - `quasi_newton`: a projected BFGS method on the analytic gradient (the
//!   default for linear mixed models);
//! - `bobyqa`: Powell's derivative-free BOBYQA (lme4's default optimizer
//!   family) through the `bobyqa` crate, for objectives without a gradient
//!   (a GLMM's Laplace deviance) and on request;
//! - `nelder_mead`: a bounded Nelder-Mead simplex, lme4's `Nelder_Mead`,
//!   on request (and in `all_fit`).

mod bobyqa;
pub mod brent;
mod nelder_mead;
pub mod progress;
mod quasi_newton;

pub use self::bobyqa::{bobyqa_minimize, bobyqa_minimize_bounded};
pub use nelder_mead::nelder_mead_minimize;
pub use progress::{Flow, Monitor, Observer, Progress};
pub use quasi_newton::{quasi_newton_minimize, QuasiNewtonSettings};

use crate::error::Result;

/// What the optimizer did (MixedModels.jl's `OptSummary`).
#[derive(Debug, Clone, PartialEq)]
pub struct OptSummary {
    pub optimizer: String,
    pub initial: Vec<f64>,
    pub final_theta: Vec<f64>,
    pub fmin: f64,
    /// Objective evaluations.
    pub feval: usize,
    /// Gradient evaluations (each with an objective evaluation, counted in `feval` too).
    pub geval: usize,
    pub status: String,
    pub converged: bool,
}

/// Which method minimises the profiled objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// BFGS, except where a gradient costs too much for its few parameters
    /// (see [`Method::resolve`]).
    Auto,
    /// Projected BFGS on the analytic gradient ([`quasi_newton_minimize`]).
    Bfgs,
    /// Powell's derivative-free BOBYQA ([`bobyqa_minimize`]).
    Bobyqa,
    /// The bounded Nelder-Mead simplex ([`nelder_mead_minimize`]).
    NelderMead,
}

impl Method {
    /// The name users give and see (`optimizer="bfgs"`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Bfgs => "bfgs",
            Method::Bobyqa => "bobyqa",
            Method::NelderMead => "nelder_mead",
        }
    }

    pub fn parse(name: &str) -> Option<Method> {
        match name.to_ascii_lowercase().as_str() {
            "auto" => Some(Method::Auto),
            "bfgs" => Some(Method::Bfgs),
            "bobyqa" => Some(Method::Bobyqa),
            "nelder_mead" | "nelder-mead" | "neldermead" => Some(Method::NelderMead),
            _ => None,
        }
    }
}

/// Minimise `f` within [lower, upper] without derivatives: Nelder-Mead when
/// `settings.method` asks for it, BOBYQA otherwise (objectives without a
/// gradient, such as a GLMM's Laplace deviance, run BOBYQA for `Auto` and
/// `Bfgs`).
pub fn minimize_without_gradient(
    f: impl FnMut(&[f64]) -> f64,
    start: &[f64],
    lower: &[f64],
    upper: &[f64],
    settings: OptimizerSettings,
) -> Result<OptSummary> {
    match settings.method {
        Method::NelderMead if !start.is_empty() => nelder_mead_minimize(f, start, lower, upper, settings),
        _ => bobyqa_minimize_bounded(f, start, lower, upper, settings),
    }
}

/// A dense rest block of at least this many rows makes a gradient several
/// objective evaluations' worth: its inverse (2/3 m^3 flops) next to its
/// Cholesky factor (1/3 m^3).
pub const DENSE_INVERSE_ROWS: usize = 500;

/// With at most this many parameters, BOBYQA's evaluations cost less than
/// BFGS's gradients where the inverse dominates (InstEval: 33 objective
/// evaluations against 14 of objective and gradient at about 4 times the cost).
pub const FEW_PARAMETERS: usize = 4;

impl Method {
    /// The method `Auto` stands for, for a model with `ntheta` parameters and
    /// a rest block of `m` rows (stored dense or not).
    pub fn resolve(self, ntheta: usize, m: usize, dense: bool) -> Method {
        match self {
            Method::Auto if dense && m >= DENSE_INVERSE_ROWS && ntheta <= FEW_PARAMETERS => Method::Bobyqa,
            Method::Auto => Method::Bfgs,
            other => other,
        }
    }
}

/// Settings of an optimizer run (`rho_*` and `points` are BOBYQA's).
#[derive(Debug, Clone, Copy)]
pub struct OptimizerSettings {
    /// The method for linear mixed models (GLMMs use BOBYQA).
    pub method: Method,
    pub rho_begin: f64,
    pub rho_end: f64,
    pub max_feval: usize,
    pub points: InterpolationPoints,
    /// Stop BOBYQA when a trust-region stage improves the objective by less
    /// than `ftol_rel * max(|f|, 1) + ftol_abs` (nloptr's `ftol_rel`/`ftol_abs`;
    /// None: stop on `rho_end` only).
    pub ftol_abs: Option<f64>,
    pub ftol_rel: Option<f64>,
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        OptimizerSettings {
            method: Method::Auto,
            rho_begin: 0.2,
            rho_end: 1e-6,
            max_feval: 10_000,
            points: InterpolationPoints::Minimal,
            ftol_abs: None,
            ftol_rel: None,
        }
    }
}

/// How many points BOBYQA's quadratic model interpolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpolationPoints {
    /// 2n + 1, Powell's recommendation: the cheapest start, the model's
    /// curvature built up as the run goes (lme4's and nloptr's default).
    Minimal,
    /// Up to a full quadratic, (n + 1)(n + 2) / 2 points, capped at 4n + 1:
    /// more evaluations at the start, a better model after them. It pays on
    /// a GLMM's Laplace deviance, whose PIRLS stopping tolerance makes it
    /// slightly rough (stage 2 of a two-factor binomial model: 100
    /// evaluations instead of 155).
    Quadratic,
}

impl InterpolationPoints {
    /// The number of points for n parameters: one parameter needs three,
    /// which is also the most BOBYQA can use.
    pub fn count(self, n: usize) -> usize {
        match (n, self) {
            (1, _) => 3,
            (_, InterpolationPoints::Minimal) => 2 * n + 1,
            (_, InterpolationPoints::Quadratic) => ((n + 1) * (n + 2) / 2).min(4 * n + 1),
        }
    }
}
