//! The deviance a GLMM's second stage minimises, as a function of the
//! parameters (theta, beta) that other routines can call: profiles refit it
//! with one parameter fixed. PIRLS runs from one start (the fit's optimum)
//! to convergence (see [`crate::glmm::negbin`] for why lme4's stopping rule
//! is not enough where the deviance is differenced), so the value is a
//! function of the parameters alone.

use super::pirls::{Mode, Pirls};
use super::quadrature::{agq_deviance, gh_rule};
use super::start::PirlsStart;
use crate::error::Result;
use crate::glmer::Glmer;

/// PIRLS's stopping rules for a deviance that is differenced: the relative
/// change of the penalized deviance and the largest step of u.
const TOL_PWRSS: f64 = 1e-13;
const STEP_TOL: f64 = 1e-9;

/// The Laplace (nAGQ = 1) or adaptive Gauss-Hermite deviance of a fitted GLMM.
pub struct DevianceFunction {
    pirls: Pirls,
    start: PirlsStart,
    rule: Vec<(f64, f64, f64)>,
    nagq: usize,
}

impl DevianceFunction {
    /// The deviance at (theta, beta); infinite where PIRLS fails.
    pub fn at(&mut self, theta: &[f64], beta: &[f64]) -> f64 {
        let tol = self.pirls.tol;
        match self.pirls.run_from(theta, beta, &mut self.start, tol) {
            Ok(s) if self.nagq > 1 => agq_deviance(&self.pirls, &s, theta, &self.rule),
            Ok(s) => self.pirls.laplace(&s),
            Err(_) => f64::INFINITY,
        }
    }

    /// An independent copy (one a thread).
    pub fn replicate(&self) -> DevianceFunction {
        DevianceFunction {
            pirls: self.pirls.replicate(),
            start: self.start.replicate(),
            rule: self.rule.clone(),
            nagq: self.nagq,
        }
    }
}

impl Glmer {
    /// The deviance of this model (its family, nAGQ and data) as a function
    /// of (theta, beta), PIRLS started at the fit's optimum. nAGQ = 0 fits
    /// get the Laplace deviance.
    pub fn deviance_function(&self) -> Result<DevianceFunction> {
        let mut pirls = self.pirls.replicate();
        (pirls.tol, pirls.step_tol) = (TOL_PWRSS, STEP_TOL);
        let u0 = vec![0.0; pirls.q()];
        let (theta, beta) = (&self.fit.theta, &self.fit.beta);
        let state = pirls.run(theta, beta, &u0, Mode::ModesOnly, Some(&self.fit.eta), TOL_PWRSS)?;
        let start = pirls.prepare_start(state, Mode::ModesOnly)?;
        let nagq = self.fit.nagq.max(1);
        Ok(DevianceFunction { pirls, start, rule: gh_rule(nagq), nagq })
    }
}
