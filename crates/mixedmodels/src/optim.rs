//! Minimisation of the profiled objective over theta: Powell's BOBYQA
//! (lme4's default optimizer family) through the `bobyqa` crate, with lme4's
//! bounds and start, and a record of the run users can inspect.

pub mod brent;

use bobyqa::{Bobyqa, Config, Status};

use crate::error::{Error, Result};

/// What the optimizer did (MixedModels.jl's `OptSummary`).
#[derive(Debug, Clone, PartialEq)]
pub struct OptSummary {
    pub optimizer: String,
    pub initial: Vec<f64>,
    pub final_theta: Vec<f64>,
    pub fmin: f64,
    /// Objective evaluations.
    pub feval: usize,
    pub status: String,
    pub converged: bool,
}

/// Settings of a BOBYQA run.
#[derive(Debug, Clone, Copy)]
pub struct OptimizerSettings {
    pub rho_begin: f64,
    pub rho_end: f64,
    pub max_feval: usize,
    pub points: InterpolationPoints,
    /// Stop when a trust-region stage improves the objective by less than
    /// `ftol_rel * max(|f|, 1) + ftol_abs` (nloptr's `ftol_rel`/`ftol_abs`;
    /// None: stop on `rho_end` only).
    pub ftol_abs: Option<f64>,
    pub ftol_rel: Option<f64>,
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        OptimizerSettings {
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

/// Minimise `f` from `start` within `lower` (upper bounds are infinite).
pub fn bobyqa_minimize(
    f: impl FnMut(&[f64]) -> f64,
    start: &[f64],
    lower: &[f64],
    settings: OptimizerSettings,
) -> Result<OptSummary> {
    let upper = vec![f64::INFINITY; start.len()];
    bobyqa_minimize_bounded(f, start, lower, &upper, settings)
}

/// Minimise `f` from `start` within the box [lower, upper].
pub fn bobyqa_minimize_bounded(
    mut f: impl FnMut(&[f64]) -> f64,
    start: &[f64],
    lower: &[f64],
    upper: &[f64],
    settings: OptimizerSettings,
) -> Result<OptSummary> {
    let n = start.len();
    let mut x = start.to_vec();
    if n == 0 {
        let fmin = f(&x);
        return Ok(OptSummary {
            optimizer: "none".into(),
            initial: x.clone(),
            final_theta: x,
            fmin,
            feval: 1,
            status: "no parameters".into(),
            converged: true,
        });
    }
    let mut config = Config::new(n);
    config.npt = settings.points.count(n);
    config.rho_begin = settings.rho_begin;
    config.rho_end = settings.rho_end;
    config.max_fun = settings.max_feval.max(config.npt + 1);
    config.prima_parity = false;
    config.ftol_abs = settings.ftol_abs;
    config.ftol_rel = settings.ftol_rel;
    let mut solver = Bobyqa::new(n, config).map_err(|s| Error::Numerical(format!("optimizer setup failed: {s}")))?;
    let out = solver.minimize(&mut f, &mut x, lower, upper);
    let converged = matches!(out.status, Status::Converged | Status::FtolReached | Status::TargetReached);
    if !out.f.is_finite() {
        return Err(Error::Numerical("the objective was not finite at any point the optimizer tried".into()));
    }
    Ok(OptSummary {
        optimizer: "bobyqa".into(),
        initial: start.to_vec(),
        final_theta: x,
        fmin: out.f,
        feval: out.n_eval,
        status: out.status.to_string(),
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_point_counts() {
        assert_eq!(InterpolationPoints::Minimal.count(1), 3);
        assert_eq!(InterpolationPoints::Quadratic.count(1), 3);
        assert_eq!(InterpolationPoints::Minimal.count(4), 9);
        assert_eq!(InterpolationPoints::Quadratic.count(4), 15);
        assert_eq!(InterpolationPoints::Quadratic.count(10), 41);
    }

    #[test]
    fn both_models_find_a_bounded_minimum() {
        // Rosenbrock-like valley with a bound that is active at the optimum.
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 10.0 * (x[1] - x[0] * x[0]).powi(2) + (x[2] + 1.0).powi(2);
        for points in [InterpolationPoints::Minimal, InterpolationPoints::Quadratic] {
            let settings = OptimizerSettings { rho_end: 1e-8, points, ..Default::default() };
            let out =
                bobyqa_minimize(f, &[0.0, 0.0, 0.5], &[f64::NEG_INFINITY, f64::NEG_INFINITY, 0.0], settings).unwrap();
            assert!(out.converged, "{points:?}: {}", out.status);
            let want = [1.0, 1.0, 0.0];
            for (got, want) in out.final_theta.iter().zip(want) {
                assert!((got - want).abs() < 1e-5, "{points:?}: {:?}", out.final_theta);
            }
        }
    }
}
