//! Minimisation of the profiled objective over theta: Powell's BOBYQA
//! (lme4's default optimizer family) through the `bobyqa` crate, with lme4's
//! bounds and start, and a record of the run users can inspect.

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
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        OptimizerSettings { rho_begin: 0.2, rho_end: 1e-6, max_feval: 10_000 }
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
    // BOBYQA needs two interpolation points a dimension at least; one
    // dimension needs three, which is also the most it can use.
    let mut config = Config::new(n);
    config.npt = if n == 1 { 3 } else { 2 * n + 1 };
    config.rho_begin = settings.rho_begin;
    config.rho_end = settings.rho_end;
    config.max_fun = settings.max_feval.max(config.npt + 1);
    config.prima_parity = false;
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
