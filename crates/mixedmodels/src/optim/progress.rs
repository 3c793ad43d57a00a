//! Watching a fit as it runs: an observer receives a [`Progress`] record at
//! each evaluation of the criterion an optimizer makes, and may stop the fit.
//!
//! The optimizers themselves know nothing of it: a [`Monitor`] wraps the
//! objective a fit hands them, counts its evaluations, keeps the best value,
//! and calls the observer. Without an observer the wrapper calls the
//! objective and nothing else, so a fit's path and evaluation counts are
//! those of an unobserved fit.
//!
//! After the observer asks to stop, the wrapper no longer evaluates the
//! criterion: it returns NaN, which each optimizer treats as a point outside
//! the domain, so the run ends within a few cheap steps; the fit then
//! returns [`Error::Interrupted`].

use crate::error::{Error, Result};

/// One evaluation of the criterion during a fit.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The part of the fit: `"theta"` for a linear mixed model; `"stage 1"`
    /// (theta, beta inside PIRLS) and `"stage 2"` (theta and beta) for a GLMM.
    pub phase: &'static str,
    /// The method making the evaluation (`"bfgs"`, `"bobyqa"`,
    /// `"nelder_mead"`), or `"boundary"` for the checks of a fit that ended
    /// on a bound.
    pub optimizer: &'static str,
    /// 1-based, counted over the whole fit: the last one is the fit's total
    /// (the sum of the stages' `feval` for a GLMM).
    pub evaluation: usize,
    /// The criterion at `theta` (REML criterion or deviance; a GLMM's Laplace
    /// or quadrature deviance). Not finite where the point failed.
    pub objective: f64,
    /// The lowest criterion of the current phase so far, this one included.
    pub best: f64,
    /// Whether this evaluation lowered `best`.
    pub improved: bool,
    pub theta: &'a [f64],
    /// The fixed effects (GLMMs: from PIRLS in stage 1, the optimizer's in stage 2).
    pub beta: Option<&'a [f64]>,
    /// The Euclidean norm of the criterion's gradient in theta, where the
    /// optimizer computes it (BFGS).
    pub gradient_norm: Option<f64>,
    /// PIRLS iterations of the fit so far (GLMMs).
    pub pirls_iterations: Option<usize>,
}

/// What the observer wants after a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// End the fit: it returns [`Error::Interrupted`].
    Stop,
}

/// A function called with each record (it runs on the fitting thread).
pub type Observer<'o> = &'o mut (dyn FnMut(&Progress<'_>) -> Flow + Send);

/// The evaluation counter, best value and observer of one fit.
pub struct Monitor<'o> {
    observer: Option<Observer<'o>>,
    evaluation: usize,
    best: f64,
    phase: &'static str,
    optimizer: &'static str,
    stopped: bool,
}

impl<'o> Monitor<'o> {
    pub fn new(observer: Option<Observer<'o>>) -> Monitor<'o> {
        Monitor { observer, evaluation: 0, best: f64::INFINITY, phase: "theta", optimizer: "", stopped: false }
    }

    /// A monitor that watches nothing (refits, bootstrap replicates).
    pub fn none() -> Monitor<'static> {
        Monitor::new(None)
    }

    pub fn is_watching(&self) -> bool {
        self.observer.is_some()
    }

    /// Start a phase: the best value starts over.
    pub fn phase(&mut self, phase: &'static str) {
        self.phase = phase;
        self.best = f64::INFINITY;
    }

    /// Name the method whose evaluations follow.
    pub fn optimizer(&mut self, optimizer: &'static str) {
        self.optimizer = optimizer;
    }

    /// `f(theta)` through the monitor: evaluated and reported, or NaN once stopped.
    pub fn objective(&mut self, theta: &[f64], f: impl FnOnce() -> f64) -> f64 {
        if self.observer.is_none() {
            return f();
        }
        if self.stopped {
            return f64::NAN;
        }
        let value = f();
        self.report(value, theta, None, None, None);
        value
    }

    /// `f(theta)` with its gradient (in `grad`) through the monitor; NaN once stopped.
    pub fn objective_gradient(&mut self, theta: &[f64], grad: &mut [f64], f: impl FnOnce(&mut [f64]) -> f64) -> f64 {
        if self.observer.is_none() {
            return f(grad);
        }
        if self.stopped {
            grad.iter_mut().for_each(|g| *g = f64::NAN);
            return f64::NAN;
        }
        let value = f(grad);
        let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        self.report(value, theta, None, Some(norm), None);
        value
    }

    /// Report an evaluation made elsewhere (a GLMM's, with beta and PIRLS's count).
    pub fn report(
        &mut self,
        objective: f64,
        theta: &[f64],
        beta: Option<&[f64]>,
        gradient_norm: Option<f64>,
        pirls_iterations: Option<usize>,
    ) {
        let Some(observer) = self.observer.as_mut() else { return };
        self.evaluation += 1;
        let improved = objective < self.best;
        if improved {
            self.best = objective;
        }
        let record = Progress {
            phase: self.phase,
            optimizer: self.optimizer,
            evaluation: self.evaluation,
            objective,
            best: self.best,
            improved,
            theta,
            beta,
            gradient_norm,
            pirls_iterations,
        };
        if observer(&record) == Flow::Stop {
            self.stopped = true;
        }
    }

    /// Whether the observer asked to stop (evaluations then return NaN).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// [`Error::Interrupted`] once the observer asked to stop.
    pub fn check(&self) -> Result<()> {
        if self.stopped {
            return Err(Error::Interrupted(format!(
                "the fit was stopped on request after {} evaluations",
                self.evaluation
            )));
        }
        Ok(())
    }

    /// `result`, unless the observer asked to stop: a failure of an
    /// optimizer that was fed NaN after the stop is the stop.
    pub fn finish<T>(&self, result: Result<T>) -> Result<T> {
        self.check()?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reports_the_best_and_stops_on_request() {
        let mut seen = Vec::new();
        let mut observer = |p: &Progress<'_>| {
            seen.push((p.evaluation, p.objective, p.best, p.improved, p.theta.to_vec()));
            if p.evaluation == 3 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        };
        let mut monitor = Monitor::new(Some(&mut observer));
        monitor.optimizer("test");
        assert_eq!(monitor.objective(&[1.0], || 5.0), 5.0);
        assert_eq!(monitor.objective(&[2.0], || 7.0), 7.0);
        assert!(monitor.check().is_ok());
        assert_eq!(monitor.objective(&[3.0], || 4.0), 4.0);
        assert!(monitor.stopped());
        assert!(monitor.objective(&[4.0], || panic!("not evaluated after a stop")).is_nan());
        assert!(matches!(monitor.finish(Ok(())), Err(Error::Interrupted(_))));
        assert_eq!(
            seen,
            [(1, 5.0, 5.0, true, vec![1.0]), (2, 7.0, 5.0, false, vec![2.0]), (3, 4.0, 4.0, true, vec![3.0])]
        );
    }

    #[test]
    fn without_an_observer_it_only_evaluates() {
        let mut monitor = Monitor::none();
        let mut grad = [0.0];
        let f = monitor.objective_gradient(&[1.0], &mut grad, |g| {
            g[0] = 2.0;
            3.0
        });
        assert_eq!((f, grad[0]), (3.0, 2.0));
        assert!(monitor.check().is_ok() && !monitor.is_watching());
    }
}
