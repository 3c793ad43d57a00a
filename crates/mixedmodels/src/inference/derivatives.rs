//! Derivatives at the optimum by finite differences around theta-hat:
//! - gradient and Hessian of the profiled objective over theta, for lme4's
//!   convergence checks (lme4's `deriv12`: central differences);
//! - the Hessian of the deviance over varpar = (theta, sigma) and the
//!   Jacobian of vcov(beta), for Satterthwaite's df (lmerTest's `devfun_vp`
//!   and `get_covbeta`). Theta-derivatives come from differences; the sigma
//!   parts are analytic, since D(theta, sigma) = a(theta) + r2(theta)/sigma^2 +
//!   n' log(2 pi sigma^2), with a = log|L|^2 (+ log|R_X|^2 for REML) and
//!   n' = n (or n - p for REML).
//!
//! Two ways, the same quantities:
//! - where gradients are cheap ([`differences_gradients`]), central differences of the analytic gradient of each piece
//!   (`model::gradient`) at theta +- h e_i: 1 + 2k gradient evaluations
//!   instead of the stencil's 1 + k + k^2 objective ones, and, since only
//!   first differences are taken, a step of [`GRADIENT_STEP`] small enough
//!   for thetas near the boundary (a diagonal element at or near 0, where
//!   the stencil's larger step missed lmerTest's df by more than 1e-3);
//! - the stencil of objective evaluations (second differences of the
//!   pieces, step [`STEP`]), kept as the check of the first.

use rayon::prelude::*;

use crate::model::gradient::{GradientPieces, GradientWorkspace};
use crate::model::{objective_from, BlockedFactor, LinearMixedModel, Pieces};
use crate::optim::Method;

/// Is the Hessian differenced from the analytic gradient? Wherever BFGS is
/// the default optimizer ([`Method::resolve`]): there a gradient costs a
/// few objective evaluations, and the 1 + 2k of them are cheaper than the
/// stencil's 1 + k + k^2 for k >= 3 and more accurate for every k. Where a
/// large dense rest block makes a gradient expensive (its inverse) and k is
/// small (InstEval: 7 gradients would cost about twice the 13 factorizations
/// of the stencil), the stencil is used.
pub fn differences_gradients(m: &LinearMixedModel) -> bool {
    Method::Auto.resolve(m.par.ntheta(), m.cp.m, m.cp.pattern.is_dense()) == Method::Bfgs
}

/// Relative step of the gradient's central differences: h_i = GRADIENT_STEP
/// max(|theta_i|, 0.1): a first difference of an exact gradient, whose
/// rounding error (about 1e-13 of the pieces' gradients) grows only as 1/h,
/// so the step can be ten times the stencil's and its h^2 truncation error
/// a hundred times smaller.
pub const GRADIENT_STEP: f64 = 1e-4;

/// Relative step of the central differences: h_i = STEP max(|theta_i|, 0.1).
/// lme4's `deriv12` uses 1e-4 absolute; at that size rounding in the
/// objective (about 1e-14 relative) costs the second differences 1e-5, too
/// much for p-values far in the tail, while 1e-3 keeps both the truncation
/// (h^2) and the rounding (1/h^2) error near 1e-7.
pub const STEP: f64 = 1e-3;

#[derive(Debug, Clone)]
pub struct Derivatives {
    pub theta: Vec<f64>,
    pub sigma: f64,
    /// Gradient of the profiled objective over theta.
    pub grad: Vec<f64>,
    /// Hessian of the profiled objective over theta (k x k).
    pub hess: Vec<f64>,
    /// Hessian of the deviance over (theta, sigma), (k+1) x (k+1).
    pub hess_varpar: Vec<f64>,
    /// d vcov(beta) / d varpar_i, one p x p matrix for each of the k + 1 parameters.
    pub jac_vcov: Vec<Vec<f64>>,
    /// Factorizations spent (each with a gradient evaluation when the
    /// Hessian is differenced from the gradient).
    pub evaluations: usize,
}

struct Probe {
    pieces: Pieces,
    objective: f64,
    vcov: Vec<f64>,
}

/// The stencil's points: the center, +-h on each axis, and +-(h_i, h_j) for
/// each pair of axes. With the axis points these give the mixed second
/// derivative to O(h^2) (see `second`), two evaluations a pair instead of four.
fn stencil(theta: &[f64], h: &[f64]) -> Vec<Vec<f64>> {
    let k = theta.len();
    let shifted = |steps: &[(usize, f64)]| {
        let mut t = theta.to_vec();
        for &(i, s) in steps {
            t[i] += s;
        }
        t
    };
    let mut points = vec![theta.to_vec()];
    points.extend((0..k).map(|i| shifted(&[(i, h[i])])));
    points.extend((0..k).map(|i| shifted(&[(i, -h[i])])));
    for i in 0..k {
        for j in 0..i {
            for (si, sj) in [(h[i], h[j]), (-h[i], -h[j])] {
                points.push(shifted(&[(i, si), (j, sj)]));
            }
        }
    }
    points
}

/// A factor workspace larger than this is not copied for the threads: the
/// stencil runs on the model's own (data larger than memory have systems of
/// hundreds of MB, and each copy would add as much).
const SHARED_FACTOR_BYTES: usize = 256 << 20;

/// The bytes of a factor workspace: L21 (sparse and any dense copy) and the rest block.
fn factor_bytes(m: &LinearMixedModel) -> usize {
    8 * (m.cp.cross_values.len() + m.cp.pattern.len() + m.factor.dense_l21_values())
}

/// Factor at every point with the model's own workspace, one after the
/// other; the model is left factored at `theta` again.
fn evaluate_in_place(m: &mut LinearMixedModel, points: &[Vec<f64>], theta: &[f64]) -> Vec<Probe> {
    let (n, p, reml, lw) = (m.n(), m.p(), m.reml, m.cp.log_weights);
    let probes = points
        .iter()
        .map(|t| {
            m.set_theta(t);
            let pieces = m.pieces();
            let objective = if m.factor.ok { objective_from(pieces, n, p, reml, lw) } else { f64::INFINITY };
            Probe { pieces, objective, vcov: m.factor.unscaled_vcov(p) }
        })
        .collect();
    m.set_theta(theta);
    probes
}

/// Factor at every point, the points shared out over the threads, each
/// thread with its own factor workspace.
fn evaluate(m: &LinearMixedModel, points: &[Vec<f64>]) -> Vec<Probe> {
    let threads = rayon::current_num_threads().max(1);
    let chunk = points.len().div_ceil(threads);
    let (n, p, reml, lw) = (m.n(), m.p(), m.reml, m.cp.log_weights);
    points
        .par_chunks(chunk)
        .flat_map_iter(|pts| {
            let mut f = BlockedFactor::new(&m.cp, &m.system);
            pts.iter()
                .map(|t| {
                    f.update(&m.cp, &m.system, t);
                    let pieces = f.pieces(&m.cp);
                    let objective = if f.ok { objective_from(pieces, n, p, reml, lw) } else { f64::INFINITY };
                    Probe { pieces, objective, vcov: f.unscaled_vcov(p) }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The derivatives around the model's current theta, by whichever way is
/// cheaper for its number of parameters.
pub fn derivatives(m: &mut LinearMixedModel) -> Derivatives {
    if differences_gradients(m) {
        derivatives_from_gradients(m, GRADIENT_STEP)
    } else {
        derivatives_with_step(m, STEP)
    }
}

/// A gradient probe: the pieces, their gradients and vcov(beta) at one theta.
struct GradientProbe {
    pieces: Pieces,
    grad: GradientPieces,
    vcov: Vec<f64>,
}

/// Factor and differentiate at every point, the points shared out over the
/// threads, each thread with its own factor and gradient workspace.
fn evaluate_gradients(m: &LinearMixedModel, points: &[Vec<f64>]) -> Vec<GradientProbe> {
    let threads = rayon::current_num_threads().max(1);
    let chunk = points.len().div_ceil(threads);
    let (p, k, reml) = (m.p(), m.par.ntheta(), m.reml);
    points
        .par_chunks(chunk)
        .flat_map_iter(|pts| {
            let mut f = BlockedFactor::new(&m.cp, &m.system);
            let mut ws = GradientWorkspace::new(&m.cp, &m.system, f.l21_dense.is_some());
            pts.iter()
                .map(|t| {
                    f.update(&m.cp, &m.system, t);
                    let mut grad = GradientPieces::zeros(k);
                    if f.ok {
                        ws.compute(&m.cp, &m.system, &mut f, t, reml, &mut grad);
                    } else {
                        grad = GradientPieces { ld_l2: vec![f64::NAN; k], ..grad };
                    }
                    GradientProbe { pieces: f.pieces(&m.cp), grad, vcov: f.unscaled_vcov(p) }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// [`evaluate_gradients`] with the model's own factor and gradient
/// workspace, one point after the other; the model is left factored at
/// `theta` again.
fn evaluate_gradients_in_place(m: &mut LinearMixedModel, points: &[Vec<f64>], theta: &[f64]) -> Vec<GradientProbe> {
    let (p, k) = (m.p(), m.par.ntheta());
    let probes = points
        .iter()
        .map(|t| {
            m.set_theta(t);
            let mut grad = GradientPieces::zeros(k);
            if !m.gradient_pieces(&mut grad) {
                grad = GradientPieces { ld_l2: vec![f64::NAN; k], ..grad };
            }
            GradientProbe { pieces: m.pieces(), grad, vcov: m.factor.unscaled_vcov(p) }
        })
        .collect();
    m.set_theta(theta);
    probes
}

/// [`derivatives`] by central differences of the analytic gradient with a
/// given relative step: second derivatives d/dtheta_j (d piece / dtheta_i),
/// symmetrized.
pub fn derivatives_from_gradients(m: &mut LinearMixedModel, rel_step: f64) -> Derivatives {
    let theta = m.theta.clone();
    let h: Vec<f64> = theta.iter().map(|t| rel_step * t.abs().max(0.1)).collect();
    let k = theta.len();
    let (n, p, reml) = (m.n(), m.p(), m.reml);
    let sigma = m.sigma();
    let mut points = vec![theta.clone()];
    for sign in [1.0, -1.0] {
        points.extend((0..k).map(|i| {
            let mut t = theta.clone();
            t[i] += sign * h[i];
            t
        }));
    }
    let evaluations = points.len();
    let probes = if factor_bytes(m) > SHARED_FACTOR_BYTES {
        evaluate_gradients_in_place(m, &points, &theta)
    } else {
        evaluate_gradients(m, &points)
    };
    let (center, plus, minus) = (&probes[0], &probes[1..=k], &probes[k + 1..]);
    let n_eff = if reml { (n - p) as f64 } else { n as f64 };
    // Gradients of a = log|L|^2 (+ log|R_X|^2), b = r^2 and the objective, per probe.
    let ga = |pr: &GradientProbe, i: usize| pr.grad.ld_l2[i] + if reml { pr.grad.ld_rx2[i] } else { 0.0 };
    let gb = |pr: &GradientProbe, i: usize| pr.grad.pwrss[i];
    let gf = |pr: &GradientProbe, i: usize| ga(pr, i) + n_eff * gb(pr, i) / pr.pieces.pwrss;
    let second = |g: &dyn Fn(&GradientProbe, usize) -> f64, i: usize, j: usize| -> f64 {
        let dij = (g(&plus[j], i) - g(&minus[j], i)) / (2.0 * h[j]);
        let dji = (g(&plus[i], j) - g(&minus[i], j)) / (2.0 * h[i]);
        0.5 * (dij + dji)
    };
    let grad: Vec<f64> = (0..k).map(|i| gf(center, i)).collect();
    let mut hess = vec![0.0; k * k];
    let kv = k + 1;
    let mut hess_varpar = vec![0.0; kv * kv];
    let s2 = sigma * sigma;
    for i in 0..k {
        for j in 0..k {
            hess[j * k + i] = second(&gf, i, j);
            hess_varpar[j * kv + i] = second(&ga, i, j) + second(&gb, i, j) / s2;
        }
        let d_sigma = -2.0 * gb(center, i) / (s2 * sigma);
        hess_varpar[k * kv + i] = d_sigma;
        hess_varpar[i * kv + k] = d_sigma;
    }
    hess_varpar[k * kv + k] = 6.0 * center.pieces.pwrss / (s2 * s2) - 2.0 * n_eff / s2;
    let mut jac_vcov: Vec<Vec<f64>> = (0..k)
        .map(|i| plus[i].vcov.iter().zip(&minus[i].vcov).map(|(u, v)| s2 * (u - v) / (2.0 * h[i])).collect())
        .collect();
    jac_vcov.push(center.vcov.iter().map(|u| 2.0 * sigma * u).collect());
    Derivatives { theta, sigma, grad, hess, hess_varpar, jac_vcov, evaluations }
}

/// [`derivatives`] with a given relative step.
pub fn derivatives_with_step(m: &mut LinearMixedModel, rel_step: f64) -> Derivatives {
    let theta = m.theta.clone();
    let h: Vec<f64> = theta.iter().map(|t| rel_step * t.abs().max(0.1)).collect();
    let k = theta.len();
    let (n, p, reml) = (m.n(), m.p(), m.reml);
    let sigma = m.sigma();
    let points = stencil(&theta, &h);
    let evaluations = points.len();
    let probes = if factor_bytes(m) > SHARED_FACTOR_BYTES {
        evaluate_in_place(m, &points, &theta)
    } else {
        evaluate(m, &points)
    };
    let mut probes = probes.into_iter();
    let center = probes.next().expect("center");
    let plus: Vec<Probe> = probes.by_ref().take(k).collect();
    let minus: Vec<Probe> = probes.by_ref().take(k).collect();
    let mut cross = vec![];
    for i in 0..k {
        for j in 0..i {
            let pts: Vec<Probe> = probes.by_ref().take(2).collect();
            let pts: [Probe; 2] = pts.try_into().unwrap_or_else(|_| unreachable!());
            cross.push((i, j, pts));
        }
    }

    // Scalar functions of a probe, differentiated over theta.
    let a = |pr: &Probe| pr.pieces.ld_l2 + if reml { pr.pieces.ld_rx2 } else { 0.0 };
    let b = |pr: &Probe| pr.pieces.pwrss;
    let g = |pr: &Probe| pr.objective;
    let first = |f: &dyn Fn(&Probe) -> f64, i: usize| (f(&plus[i]) - f(&minus[i])) / (2.0 * h[i]);
    let second = |f: &dyn Fn(&Probe) -> f64, i: usize, j: usize| -> f64 {
        if i == j {
            return (f(&plus[i]) - 2.0 * f(&center) + f(&minus[i])) / (h[i] * h[i]);
        }
        let (hi, lo) = (i.max(j), i.min(j));
        let (_, _, pts) = cross.iter().find(|(a, b, _)| *a == hi && *b == lo).expect("stencil point");
        // f(x+a+b) + f(x-a-b) - f(x+a) - f(x-a) - f(x+b) - f(x-b) + 2 f(x) = 2 a'Hb + O(h^4)
        (f(&pts[0]) + f(&pts[1]) - f(&plus[hi]) - f(&minus[hi]) - f(&plus[lo]) - f(&minus[lo]) + 2.0 * f(&center))
            / (2.0 * h[hi] * h[lo])
    };

    let grad: Vec<f64> = (0..k).map(|i| first(&g, i)).collect();
    let mut hess = vec![0.0; k * k];
    let kv = k + 1;
    let mut hess_varpar = vec![0.0; kv * kv];
    let s2 = sigma * sigma;
    for i in 0..k {
        for j in 0..k {
            hess[j * k + i] = second(&g, i, j);
            hess_varpar[j * kv + i] = second(&a, i, j) + second(&b, i, j) / s2;
        }
        let d_sigma = -2.0 * first(&b, i) / (s2 * sigma);
        hess_varpar[k * kv + i] = d_sigma;
        hess_varpar[i * kv + k] = d_sigma;
    }
    let n_eff = if reml { (n - p) as f64 } else { n as f64 };
    hess_varpar[k * kv + k] = 6.0 * b(&center) / (s2 * s2) - 2.0 * n_eff / s2;

    let mut jac_vcov: Vec<Vec<f64>> = (0..k)
        .map(|i| plus[i].vcov.iter().zip(&minus[i].vcov).map(|(u, v)| s2 * (u - v) / (2.0 * h[i])).collect())
        .collect();
    jac_vcov.push(center.vcov.iter().map(|u| 2.0 * sigma * u).collect());
    Derivatives { theta, sigma, grad, hess, hess_varpar, jac_vcov, evaluations }
}
