//! Powell's BOBYQA through the `bobyqa` crate: derivative-free, with bounds.

use bobyqa::{Bobyqa, Config, Status};

use super::{OptSummary, OptimizerSettings};
use crate::error::{Error, Result};

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
            geval: 0,
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
        geval: 0,
        status: out.status.to_string(),
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::InterpolationPoints;

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
