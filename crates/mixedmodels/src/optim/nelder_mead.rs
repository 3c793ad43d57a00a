//! A bounded Nelder-Mead simplex method, the alternative to BOBYQA that
//! lme4 offers as `Nelder_Mead` (and `allFit` tries): Nelder and Mead (1965),
//! "A simplex method for function minimization", Comput. J. 7(4), with the
//! standard coefficients (reflection 1, expansion 2, contraction 1/2,
//! shrinkage 1/2; Lagarias et al. 1998, SIAM J. Optim. 9(1)).
//!
//! Bounds: every trial point is projected onto the box. The centroid of a
//! simplex inside the box is inside it, so a projected trial point is a
//! point of the segment it was taken on, moved onto the face it crossed.
//!
//! Stopping, as NLopt's `nldrmd` that lme4's `Nelder_Mead` follows: the
//! vertices' values spread by at most `ftol_abs + ftol_rel |f_best|`, or
//! every vertex within `rho_end * max(1, |x|)` of the best in every
//! coordinate. A simplex can collapse onto a face of the box or stall away
//! from a minimum (McKinnon 1998), so a run that stopped restarts from a
//! fresh simplex around its best point, until a restart no longer improves it.

use super::{OptSummary, OptimizerSettings};
use crate::error::{Error, Result};

/// Default tolerance on the spread of the vertices' values, relative to
/// max(1, |f|): the rounding level of a deviance of a few thousand.
const DEFAULT_FTOL_REL: f64 = 1e-12;
/// At most this many restarts after the first run.
const MAX_RESTARTS: usize = 5;

/// Minimise `f` from `start` within [lower, upper]. `settings.rho_begin`
/// is the first simplex's edge (times max(1, |start|) per coordinate),
/// `rho_end` the tolerance on the vertices, `max_feval` the most
/// evaluations.
pub fn nelder_mead_minimize(
    mut f: impl FnMut(&[f64]) -> f64,
    start: &[f64],
    lower: &[f64],
    upper: &[f64],
    settings: OptimizerSettings,
) -> Result<OptSummary> {
    let n = start.len();
    let project = |x: &mut [f64]| {
        for i in 0..n {
            x[i] = x[i].clamp(lower[i], upper[i]);
        }
    };
    let mut objective = Counted { f: &mut f, evals: 0 };
    let mut best = start.to_vec();
    project(&mut best);
    let mut fbest = objective.at(&best);
    let mut status = "no parameters";
    let mut converged = true;
    for run in 0..=MAX_RESTARTS {
        if n == 0 {
            break;
        }
        let mut simplex = Simplex::around(&best, fbest, settings.rho_begin, lower, upper, &mut objective);
        let stop = simplex.minimize(&mut objective, &project, &settings);
        let (x, fx) = simplex.best();
        let improved = fbest - fx > tolerance(&settings, fbest) || (run == 0 && fx < fbest);
        if fx < fbest {
            (best, fbest) = (x.to_vec(), fx);
        }
        (status, converged) = match stop {
            Stop::Values => ("converged: values within ftol", true),
            Stop::Vertices => ("converged: vertices within xtol", true),
            Stop::Evaluations => ("maximum evaluations reached", false),
        };
        if !converged || !improved {
            break;
        }
    }
    if !fbest.is_finite() {
        return Err(Error::Numerical("the objective was not finite at any point the optimizer tried".into()));
    }
    Ok(OptSummary {
        optimizer: "nelder_mead".into(),
        initial: start.to_vec(),
        final_theta: best,
        fmin: fbest,
        feval: objective.evals,
        geval: 0,
        status: status.into(),
        converged,
    })
}

/// The objective and a count of its evaluations; NaN counts as +inf (a
/// point outside the domain).
struct Counted<'a, F> {
    f: &'a mut F,
    evals: usize,
}

impl<F: FnMut(&[f64]) -> f64> Counted<'_, F> {
    fn at(&mut self, x: &[f64]) -> f64 {
        self.evals += 1;
        let v = (self.f)(x);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    }
}

/// Why a run stopped.
enum Stop {
    Values,
    Vertices,
    Evaluations,
}

fn tolerance(settings: &OptimizerSettings, f: f64) -> f64 {
    let rel = settings.ftol_rel.unwrap_or(DEFAULT_FTOL_REL);
    settings.ftol_abs.unwrap_or(0.0) + rel * f.abs().max(1.0)
}

/// n + 1 vertices and their values, kept sorted best first.
struct Simplex {
    x: Vec<Vec<f64>>,
    f: Vec<f64>,
}

impl Simplex {
    /// `x0` and a step along each axis, away from the nearer bound when a
    /// step towards it would leave the box.
    fn around(
        x0: &[f64],
        f0: f64,
        rho: f64,
        lower: &[f64],
        upper: &[f64],
        eval: &mut Counted<'_, impl FnMut(&[f64]) -> f64>,
    ) -> Simplex {
        let mut s = Simplex { x: vec![x0.to_vec()], f: vec![f0] };
        for i in 0..x0.len() {
            let step = rho * x0[i].abs().max(1.0);
            let mut v = x0.to_vec();
            v[i] = if x0[i] + step <= upper[i] { x0[i] + step } else { (x0[i] - step).max(lower[i]) };
            let fv = eval.at(&v);
            s.x.push(v);
            s.f.push(fv);
        }
        s.sort();
        s
    }

    fn sort(&mut self) {
        let mut order: Vec<usize> = (0..self.f.len()).collect();
        order.sort_by(|&a, &b| self.f[a].total_cmp(&self.f[b]));
        self.x = order.iter().map(|&i| self.x[i].clone()).collect();
        self.f = order.iter().map(|&i| self.f[i]).collect();
    }

    fn best(&self) -> (&[f64], f64) {
        (&self.x[0], self.f[0])
    }

    /// The point `c + t (p - c)`, projected onto the box.
    fn along(c: &[f64], p: &[f64], t: f64, project: &impl Fn(&mut [f64])) -> Vec<f64> {
        let mut v: Vec<f64> = c.iter().zip(p).map(|(ci, pi)| ci + t * (pi - ci)).collect();
        project(&mut v);
        v
    }

    fn converged(&self, settings: &OptimizerSettings) -> Option<Stop> {
        let (fb, fw) = (self.f[0], self.f[self.f.len() - 1]);
        if fw.is_finite() && fw - fb <= tolerance(settings, fb) {
            return Some(Stop::Values);
        }
        let best = &self.x[0];
        let within = self.x[1..]
            .iter()
            .all(|v| v.iter().zip(best).all(|(a, b)| (a - b).abs() <= settings.rho_end * b.abs().max(1.0)));
        within.then_some(Stop::Vertices)
    }

    /// Iterate until a stopping rule holds or the evaluations run out.
    fn minimize(
        &mut self,
        eval: &mut Counted<'_, impl FnMut(&[f64]) -> f64>,
        project: &impl Fn(&mut [f64]),
        settings: &OptimizerSettings,
    ) -> Stop {
        let n = self.x.len() - 1;
        loop {
            if let Some(stop) = self.converged(settings) {
                return stop;
            }
            if eval.evals >= settings.max_feval {
                return Stop::Evaluations;
            }
            let centroid: Vec<f64> = (0..n).map(|j| self.x[..n].iter().map(|v| v[j]).sum::<f64>() / n as f64).collect();
            let worst = self.x[n].clone();
            let (fbest, fnext, fworst) = (self.f[0], self.f[n - 1], self.f[n]);
            let xr = Self::along(&centroid, &worst, -1.0, project);
            let fr = eval.at(&xr);
            let accepted = if fr < fbest {
                let xe = Self::along(&centroid, &worst, -2.0, project);
                let fe = eval.at(&xe);
                Some(if fe < fr { (xe, fe) } else { (xr, fr) })
            } else if fr < fnext {
                Some((xr, fr))
            } else if fr < fworst {
                let xc = Self::along(&centroid, &worst, -0.5, project);
                let fc = eval.at(&xc);
                (fc <= fr).then_some((xc, fc))
            } else {
                let xc = Self::along(&centroid, &worst, 0.5, project);
                let fc = eval.at(&xc);
                (fc < fworst).then_some((xc, fc))
            };
            match accepted {
                Some((x, fx)) => {
                    self.x[n] = x;
                    self.f[n] = fx;
                }
                None => self.shrink(eval, project),
            }
            self.sort();
        }
    }

    /// Every vertex halfway towards the best.
    fn shrink(&mut self, eval: &mut Counted<'_, impl FnMut(&[f64]) -> f64>, project: &impl Fn(&mut [f64])) {
        let best = self.x[0].clone();
        for i in 1..self.x.len() {
            self.x[i] = Self::along(&best, &self.x[i], 0.5, project);
            self.f[i] = eval.at(&self.x[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_feval: usize) -> OptimizerSettings {
        OptimizerSettings { rho_begin: 0.2, rho_end: 1e-8, max_feval, ..Default::default() }
    }

    #[test]
    fn finds_a_minimum_with_an_active_bound() {
        // Rosenbrock's valley in (x0, x1); x2's minimum at -1 lies outside its bound 0.
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 10.0 * (x[1] - x[0] * x[0]).powi(2) + (x[2] + 1.0).powi(2);
        let inf = f64::INFINITY;
        let out = nelder_mead_minimize(f, &[0.0, 0.0, 0.5], &[-inf, -inf, 0.0], &[inf; 3], settings(10_000)).unwrap();
        assert!(out.converged, "{}", out.status);
        for (got, want) in out.final_theta.iter().zip([1.0, 1.0, 0.0]) {
            assert!((got - want).abs() < 1e-5, "{:?}", out.final_theta);
        }
        assert_eq!(out.final_theta[2], 0.0, "the bound is reached exactly");
        assert_eq!(out.optimizer, "nelder_mead");
    }

    #[test]
    fn stays_in_the_box_and_reports_running_out_of_evaluations() {
        let lower = [0.5, -2.0];
        let upper = [3.0, 0.25];
        let mut outside = 0;
        let f = |x: &[f64]| {
            if x[0] < 0.5 || x[0] > 3.0 || x[1] < -2.0 || x[1] > 0.25 {
                outside += 1;
            }
            (x[0] - 0.0).powi(2) + (x[1] - 1.0).powi(2)
        };
        let out = nelder_mead_minimize(f, &[2.0, -1.0], &lower, &upper, settings(10_000)).unwrap();
        assert_eq!(outside, 0);
        assert!((out.final_theta[0] - 0.5).abs() < 1e-7 && (out.final_theta[1] - 0.25).abs() < 1e-7);

        let few = nelder_mead_minimize(|x| x[0] * x[0] + x[1] * x[1], &[2.0, -1.0], &lower, &upper, settings(8));
        let few = few.unwrap();
        assert!(!few.converged && few.status == "maximum evaluations reached");
        assert!(few.feval <= 8 + 2, "stops within an iteration of the limit: {}", few.feval);
    }

    #[test]
    fn an_objective_that_is_never_finite_is_an_error() {
        let out = nelder_mead_minimize(|_| f64::NAN, &[1.0], &[0.0], &[f64::INFINITY], settings(50));
        assert!(out.is_err());
    }
}
