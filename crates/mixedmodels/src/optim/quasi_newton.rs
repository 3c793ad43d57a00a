//! A projected quasi-Newton method for smooth objectives with simple bounds
//! (Bertsekas 1982, "Projected Newton methods for optimization problems with
//! simple constraints", SIAM J. Control Optim. 20(2); the BFGS update with
//! Powell's damping, Nocedal and Wright 2006, sections 6.1 and 18.3).
//!
//! Each iteration:
//! 1. the binding set: variables on a bound whose gradient pushes them
//!    outward; they stay put;
//! 2. the quasi-Newton step on the free variables, d = -B_FF^{-1} g_F, with B
//!    the BFGS approximation of the Hessian (dense: a covariance model has a
//!    few dozen parameters at most);
//! 3. a backtracking line search along the projected path P(x + a d) with
//!    Armijo's condition on the actual step;
//! 4. the damped BFGS update of B with the step and the change of gradient.
//!
//! An optimum on a bound ends exactly on it (the projection puts it there and
//! the binding set keeps it there), as lme4's optimizers end singular fits on
//! theta = 0.

use super::OptSummary;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct QuasiNewtonSettings {
    /// Converged when every component of the quasi-Newton step on the free
    /// variables is below this (the step is scale-free in the objective).
    pub step_tol: f64,
    /// Converged when the projected gradient's largest component is below
    /// this times max(1, |f|).
    pub grad_tol: f64,
    /// Converged when an iteration lowers the objective by less than this
    /// times max(1, |f|): its rounding level (about 1e-15 relative for the
    /// profiled criterion) is near.
    pub f_tol: f64,
    pub max_feval: usize,
    /// The first step moves no parameter by more than this times max(1, |x|).
    pub initial_step: f64,
}

impl Default for QuasiNewtonSettings {
    fn default() -> Self {
        QuasiNewtonSettings { step_tol: 1e-6, grad_tol: 1e-12, f_tol: 1e-13, max_feval: 10_000, initial_step: 0.2 }
    }
}

/// Armijo's sufficient decrease constant.
const ARMIJO: f64 = 1e-4;
/// How much the step radius grows after a step of full radius.
const RADIUS_GROWTH: f64 = 2.0;
/// Backtracking steps before the line search gives up.
const MAX_BACKTRACK: usize = 40;

/// Minimise `fg` (the objective; its gradient into the second argument) from
/// `start` within [lower, upper]. A point where the objective is not finite
/// is treated as outside the domain: the line search backs off it.
pub fn quasi_newton_minimize(
    mut fg: impl FnMut(&[f64], &mut [f64]) -> f64,
    start: &[f64],
    lower: &[f64],
    upper: &[f64],
    settings: QuasiNewtonSettings,
) -> Result<OptSummary> {
    let n = start.len();
    let project = |x: &mut [f64]| {
        for i in 0..n {
            x[i] = x[i].clamp(lower[i], upper[i]);
        }
    };
    let mut x = start.to_vec();
    project(&mut x);
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    let mut feval = 1;
    let summary = |x: Vec<f64>, f: f64, feval: usize, status: &str, converged: bool| OptSummary {
        optimizer: "bfgs".into(),
        initial: start.to_vec(),
        final_theta: x,
        fmin: f,
        feval,
        geval: feval,
        status: status.into(),
        converged,
    };
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical("the objective or its gradient is not finite at the start".into()));
    }
    if n == 0 {
        return Ok(summary(x, f, feval, "no parameters", true));
    }
    let mut b = identity(n);
    let mut updated = false;
    // The longest step allowed (largest component): it starts at
    // `initial_step` of the parameters' scale, doubles after each step taken
    // at full length, and shrinks to the step taken after a backtrack.
    let scale = x.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    let mut radius = settings.initial_step * scale;
    let (mut xt, mut gt, mut d, mut s, mut y) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut work = vec![0.0; n * n];
    loop {
        let free: Vec<bool> =
            (0..n).map(|i| !((x[i] <= lower[i] && g[i] > 0.0) || (x[i] >= upper[i] && g[i] < 0.0))).collect();
        let pg = (0..n).filter(|&i| free[i]).map(|i| g[i].abs()).fold(0.0, f64::max);
        if pg <= settings.grad_tol * f.abs().max(1.0) {
            return Ok(summary(x, f, feval, "the projected gradient vanished", true));
        }
        if !newton_direction(&b, &free, &g, &mut d, &mut work) || dot(&g, &d) >= 0.0 {
            // B lost definiteness on the free set: restart from a scaled identity.
            b = identity(n);
            updated = false;
            newton_direction(&b, &free, &g, &mut d, &mut work);
        }
        let dmax = d.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        if updated && dmax <= settings.step_tol {
            return Ok(summary(x, f, feval, "the quasi-Newton step fell below the tolerance", true));
        }
        // No step longer than the radius: B can be nearly singular where the
        // criterion is not convex, and a wild step projected onto the bounds
        // can land every variance on zero, a stationary point of the criterion.
        let mut alpha = (radius / dmax).min(1.0);
        let capped = alpha < 1.0;
        let mut accepted = false;
        let mut backtracked = false;
        let mut ft = f;
        for _ in 0..MAX_BACKTRACK {
            if feval >= settings.max_feval {
                return Ok(summary(x, f, feval, "the maximum number of evaluations was reached", false));
            }
            for i in 0..n {
                xt[i] = x[i] + alpha * d[i];
            }
            project(&mut xt);
            for i in 0..n {
                s[i] = xt[i] - x[i];
            }
            if s.iter().all(|v| *v == 0.0) {
                break;
            }
            let slope = dot(&g, &s);
            if slope >= 0.0 {
                // The projection bent the step away from descent: shorten it.
                alpha *= 0.5;
                backtracked = true;
                continue;
            }
            ft = fg(&xt, &mut gt);
            feval += 1;
            if ft.is_finite() && gt.iter().all(|v| v.is_finite()) && ft <= f + ARMIJO * slope {
                accepted = true;
                break;
            }
            // The minimum of the quadratic through f, the slope and ft, kept within [0.1, 0.5] alpha.
            let shrink = if ft.is_finite() { -slope / (2.0 * (ft - f - slope)) } else { 0.1 };
            alpha *= shrink.clamp(0.1, 0.5);
            backtracked = true;
        }
        if !accepted {
            // No decrease along the step: at the optimum to the precision of the objective.
            return Ok(summary(x, f, feval, "no further decrease along the quasi-Newton step", updated));
        }
        for i in 0..n {
            y[i] = gt[i] - g[i];
        }
        let taken = s.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        if backtracked {
            radius = taken;
        } else if capped {
            radius *= RADIUS_GROWTH;
        }
        bfgs_update(&mut b, &s, &y, !updated, &mut work);
        updated = true;
        x.copy_from_slice(&xt);
        g.copy_from_slice(&gt);
        let f_old = std::mem::replace(&mut f, ft);
        if f_old - f <= settings.f_tol * f.abs().max(1.0) {
            return Ok(summary(x, f, feval, "the objective no longer decreases", true));
        }
    }
}

fn identity(n: usize) -> Vec<f64> {
    let mut b = vec![0.0; n * n];
    for i in 0..n {
        b[i * n + i] = 1.0;
    }
    b
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// d_F = -B_FF^{-1} g_F and d = 0 off the free set; false if B_FF is not
/// positive definite.
fn newton_direction(b: &[f64], free: &[bool], g: &[f64], d: &mut [f64], work: &mut [f64]) -> bool {
    let n = g.len();
    let idx: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
    let k = idx.len();
    d.iter_mut().for_each(|v| *v = 0.0);
    if k == 0 {
        return true;
    }
    let l = &mut work[..k * k];
    for (c, &jc) in idx.iter().enumerate() {
        for (r, &ir) in idx.iter().enumerate() {
            l[c * k + r] = b[jc * n + ir];
        }
    }
    if !crate::linalg::small::cholesky(l, k) {
        return false;
    }
    let mut rhs: Vec<f64> = idx.iter().map(|&i| -g[i]).collect();
    crate::linalg::small::solve_lower(l, k, &mut rhs, 1);
    crate::linalg::small::solve_lower_transpose(l, k, &mut rhs, 1);
    for (v, &i) in rhs.iter().zip(&idx) {
        d[i] = *v;
    }
    true
}

/// B <- B - B s s'B / s'Bs + r r' / s'r, with Powell's damping r = t y + (1 - t) B s
/// (t = 1 unless s'y < 0.2 s'Bs), which keeps B positive definite. On the
/// first update B is first rescaled to (y'y / s'y) I, the curvature along s.
fn bfgs_update(b: &mut [f64], s: &[f64], y: &[f64], first: bool, work: &mut [f64]) {
    let n = s.len();
    let sy = dot(s, y);
    if first && sy > 0.0 {
        let scale = dot(y, y) / sy;
        b.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            b[i * n + i] = scale;
        }
    }
    let bs = &mut work[..n];
    for i in 0..n {
        bs[i] = (0..n).map(|j| b[j * n + i] * s[j]).sum();
    }
    let sbs = dot(s, bs);
    if sbs.is_nan() || sbs <= 0.0 {
        return;
    }
    let t = if sy >= 0.2 * sbs { 1.0 } else { 0.8 * sbs / (sbs - sy) };
    let r: Vec<f64> = (0..n).map(|i| t * y[i] + (1.0 - t) * bs[i]).collect();
    let sr = dot(s, &r);
    if sr.is_nan() || sr <= 0.0 {
        return;
    }
    for j in 0..n {
        for i in 0..n {
            b[j * n + i] += r[i] * r[j] / sr - bs[i] * bs[j] / sbs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock_bounded(x: &[f64], g: &mut [f64]) -> f64 {
        // A curved valley in (x0, x1), and x2 pushed below its bound of 0.
        let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
        g[0] = -2.0 * a - 40.0 * x[0] * b;
        g[1] = 20.0 * b;
        g[2] = 2.0 * (x[2] + 1.0);
        a * a + 10.0 * b * b + (x[2] + 1.0).powi(2)
    }

    #[test]
    fn finds_a_minimum_with_an_active_bound_exactly_on_it() {
        let lower = [f64::NEG_INFINITY, f64::NEG_INFINITY, 0.0];
        let upper = [f64::INFINITY; 3];
        let out =
            quasi_newton_minimize(rosenbrock_bounded, &[-1.0, 2.0, 0.5], &lower, &upper, Default::default()).unwrap();
        assert!(out.converged, "{}", out.status);
        assert_eq!(out.final_theta[2], 0.0, "the bound holds exactly");
        assert!((out.final_theta[0] - 1.0).abs() < 1e-5 && (out.final_theta[1] - 1.0).abs() < 1e-5, "{out:?}");
        assert!(out.feval < 100 && out.geval == out.feval, "{out:?}");
    }

    #[test]
    fn leaves_a_bound_when_the_gradient_points_inward() {
        // Minimum at x = 2 with the start on the bound x >= 0.
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * (x[0] - 2.0);
            (x[0] - 2.0).powi(2)
        };
        let out = quasi_newton_minimize(f, &[0.0], &[0.0], &[f64::INFINITY], Default::default()).unwrap();
        assert!((out.final_theta[0] - 2.0).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn backs_off_points_outside_the_domain() {
        // Infinite beyond x = 1.5: the line search shortens steps that reach it.
        let f = |x: &[f64], g: &mut [f64]| {
            if x[0] > 1.5 {
                g[0] = f64::NAN;
                return f64::INFINITY;
            }
            g[0] = 2.0 * (x[0] - 1.0);
            (x[0] - 1.0).powi(2)
        };
        let out =
            quasi_newton_minimize(f, &[-3.0], &[f64::NEG_INFINITY], &[f64::INFINITY], Default::default()).unwrap();
        assert!((out.final_theta[0] - 1.0).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn a_non_finite_start_is_an_error() {
        let f = |_: &[f64], g: &mut [f64]| {
            g[0] = 0.0;
            f64::NAN
        };
        assert!(quasi_newton_minimize(f, &[1.0], &[0.0], &[f64::INFINITY], Default::default()).is_err());
    }
}
