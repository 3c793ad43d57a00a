//! Fitting a linear mixed model and the results as plain data.

use crate::error::{Error, Result};
use crate::inference::{derivatives, satterthwaite, Derivatives};
use crate::linalg::{self, small};
use crate::model::gradient::GradientPieces;
use crate::model::{LinearMixedModel, Parameterization};
use crate::optim::{
    bobyqa_minimize, nelder_mead_minimize, quasi_newton_minimize, Method, Monitor, OptSummary, OptimizerSettings,
    QuasiNewtonSettings,
};

#[derive(Debug, Clone)]
pub struct FitOptions {
    pub optimizer: OptimizerSettings,
    /// Start the optimizer here instead of lme4's start.
    pub start: Option<Vec<f64>>,
    /// Compute the derivatives at the optimum (convergence checks, Satterthwaite df).
    pub derivatives: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions { optimizer: OptimizerSettings::default(), start: None, derivatives: true }
    }
}

/// lme4's tolerance for a boundary (singular) fit.
pub const SINGULAR_TOL: f64 = 1e-4;
/// lme4's `check.conv.grad` tolerance.
const GRAD_TOL: f64 = 2e-3;
/// What a convergence warning suggests: lme4's advice, refit with every
/// optimizer and compare (`allFit`).
pub const ALL_FIT_HINT: &str = "; compare the optimizers' fits with m.all_fit()";
/// lme4's `check.conv.hess` tolerance.
const HESS_TOL: f64 = 1e-6;

#[derive(Debug, Clone)]
pub struct LmmFit {
    pub reml: bool,
    pub n: usize,
    pub p: usize,
    pub opt: OptSummary,
    pub theta: Vec<f64>,
    pub beta: Vec<f64>,
    /// vcov(beta), p x p column-major.
    pub vcov_beta: Vec<f64>,
    pub sigma: f64,
    /// The REML criterion (REML fits) or the deviance (ML fits).
    pub objective: f64,
    pub loglik: f64,
    /// Number of parameters: p + length(theta) + 1.
    pub npar: usize,
    pub aic: f64,
    pub bic: f64,
    /// Conditional modes, one vector a term (level-major).
    pub ranef: Vec<Vec<f64>>,
    pub fitted: Vec<f64>,
    pub residuals: Vec<f64>,
    pub singular: bool,
    pub derivs: Option<Derivatives>,
    /// Asymptotic covariance of (theta, sigma): 2 H^+.
    pub vcov_varpar: Option<Vec<f64>>,
    /// Satterthwaite df of each fixed effect (when derivatives were computed).
    pub df: Option<Vec<f64>>,
    pub warnings: Vec<String>,
}

/// Optimise theta only (no results beyond the optimizer's): the inner step
/// of refits (bootstrap, profiles). The model is left at the optimum.
pub fn optimize(m: &mut LinearMixedModel, start: &[f64], settings: OptimizerSettings) -> Result<OptSummary> {
    optimize_observed(m, start, settings, &mut Monitor::none())
}

/// [`optimize`], each evaluation of the criterion reported to `monitor`
/// (which may stop the run: then [`Error::Interrupted`]).
pub fn optimize_observed(
    m: &mut LinearMixedModel,
    start: &[f64],
    settings: OptimizerSettings,
    monitor: &mut Monitor<'_>,
) -> Result<OptSummary> {
    let lower = m.par.lower_bounds();
    let opt = match settings.method.resolve(m.par.ntheta(), m.cp.m, m.cp.pattern.is_dense()) {
        Method::Bobyqa | Method::Auto => minimize_bobyqa(m, start, &lower, settings, monitor),
        Method::Bfgs => minimize_bfgs(m, start, &lower, settings, monitor),
        Method::NelderMead => minimize_nelder_mead(m, start, &lower, settings, monitor),
    };
    let opt = monitor.finish(opt)?;
    m.set_theta(&opt.final_theta);
    Ok(opt)
}

/// BOBYQA from lme4's initial trust region (a fifth of the largest start
/// value), its result snapped to the boundary where that does not cost.
fn minimize_bobyqa(
    m: &mut LinearMixedModel,
    start: &[f64],
    lower: &[f64],
    settings: OptimizerSettings,
    monitor: &mut Monitor<'_>,
) -> Result<OptSummary> {
    let mut settings = settings;
    let largest = start.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    settings.rho_begin = settings.rho_begin.min((0.2 * largest).max(1e-3));
    monitor.optimizer("bobyqa");
    let mut opt = bobyqa_minimize(|t| monitor.objective(t, || m.objective_at(t)), start, lower, settings)?;
    snap_to_boundary(m, &mut opt, lower, monitor);
    Ok(opt)
}

/// The bounded Nelder-Mead simplex from the same first step as BOBYQA's
/// trust region, its result snapped to the boundary as BOBYQA's.
fn minimize_nelder_mead(
    m: &mut LinearMixedModel,
    start: &[f64],
    lower: &[f64],
    settings: OptimizerSettings,
    monitor: &mut Monitor<'_>,
) -> Result<OptSummary> {
    let mut settings = settings;
    let largest = start.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    settings.rho_begin = settings.rho_begin.min((0.2 * largest).max(1e-3));
    let upper = vec![f64::INFINITY; start.len()];
    monitor.optimizer("nelder_mead");
    let mut opt = nelder_mead_minimize(|t| monitor.objective(t, || m.objective_at(t)), start, lower, &upper, settings)?;
    snap_to_boundary(m, &mut opt, lower, monitor);
    Ok(opt)
}

/// Projected BFGS on the analytic gradient, then lme4's `restart_edge`
/// check: a diagonal element that ended on its bound with a vanishing
/// gradient (a scalar term's criterion is even in its theta, so the
/// gradient there is always zero) may sit on a maximum along that axis;
/// where a small step off the bound lowers the criterion, the optimizer
/// restarts from there.
fn minimize_bfgs(
    m: &mut LinearMixedModel,
    start: &[f64],
    lower: &[f64],
    settings: OptimizerSettings,
    monitor: &mut Monitor<'_>,
) -> Result<OptSummary> {
    let k = start.len();
    let upper = vec![f64::INFINITY; k];
    let qn = QuasiNewtonSettings { max_feval: settings.max_feval, ..Default::default() };
    let mut pieces = GradientPieces::zeros(k);
    let mut fg = |m: &mut LinearMixedModel, monitor: &mut Monitor<'_>, t: &[f64], g: &mut [f64]| {
        monitor.objective_gradient(t, g, |g| m.objective_gradient_at(t, g, &mut pieces))
    };
    monitor.optimizer("bfgs");
    let mut opt = quasi_newton_minimize(|t, g| fg(m, monitor, t, g), start, lower, &upper, qn)?;
    monitor.check()?;
    for _ in 0..k {
        let Some(off) = off_boundary_start(m, &mut opt, lower, monitor) else { break };
        let (feval, geval) = (opt.feval, opt.geval);
        monitor.optimizer("bfgs");
        let restarted = quasi_newton_minimize(|t, g| fg(m, monitor, t, g), &off, lower, &upper, qn)?;
        monitor.check()?;
        let (restart_feval, restart_geval) = (restarted.feval, restarted.geval);
        if restarted.fmin < opt.fmin {
            opt = OptSummary { initial: opt.initial, ..restarted };
        }
        // Both runs' evaluations, whichever end is kept.
        opt.feval = feval + restart_feval;
        opt.geval = geval + restart_geval;
    }
    // A boundary fit: a second start, not a polish. On the boundary the
    // criterion can have several local optima, one on each face, and points
    // where a gradient method stalls: at theta = 0 the gradient along a
    // scalar term is zero by symmetry, and just off it the curvature can be
    // negative while the gradient is tiny, so that the step scaled by a
    // positive definite BFGS matrix falls below its tolerance (difftest c067,
    // `y ~ poly(x, 2) + f + (x || g)`: 0.063 above lme4's optimum). lme4's
    // derivative-free path from the same start settles the face; the lower of
    // the two ends is kept (docs/performance.md, "The optimizer").
    if (0..k).any(|i| lower[i] == 0.0 && opt.final_theta[i] < NEAR_BOUNDARY) {
        let (feval, geval) = (opt.feval, opt.geval);
        let other = minimize_bobyqa(m, start, lower, settings, monitor)?;
        let other_feval = other.feval;
        opt = if other.fmin < opt.fmin {
            OptSummary { status: format!("{} (BOBYQA's end kept)", other.status), ..other }
        } else {
            OptSummary { status: format!("{} (BFGS's end kept)", opt.status), ..opt }
        };
        // Both optimizers ran: the name and the counts say so, whichever end is kept.
        opt.optimizer = "bfgs+bobyqa".into();
        opt.feval = feval + other_feval;
        opt.geval = geval;
    }
    Ok(opt)
}

/// A diagonal element below this after BFGS (boundary fits, and points a
/// restart off the bound stalled near it) calls for BOBYQA's path as well.
const NEAR_BOUNDARY: f64 = 1e-3;

/// Step off the bound: the size of lme4's `restart_edge` probe is 1e-5; a
/// larger one sees past the rounding of the criterion.
const EDGE_STEP: f64 = 1e-4;

/// A point off the bound with a lower criterion, if a diagonal element on
/// its bound has one (evaluations added to `opt`).
fn off_boundary_start(
    m: &mut LinearMixedModel,
    opt: &mut OptSummary,
    lower: &[f64],
    monitor: &mut Monitor<'_>,
) -> Option<Vec<f64>> {
    let mut best: Option<(f64, Vec<f64>)> = None;
    monitor.optimizer("boundary");
    for i in 0..opt.final_theta.len() {
        if !(lower[i] == 0.0 && opt.final_theta[i] == 0.0) {
            continue;
        }
        for trial in edge_probes(&m.par, &opt.final_theta, i) {
            let f = monitor.objective(&trial, || m.objective_at(&trial));
            opt.feval += 1;
            if f < opt.fmin && best.as_ref().is_none_or(|(fb, _)| f < *fb) {
                best = Some((f, trial));
            }
        }
    }
    best.map(|(_, t)| t)
}

/// Points a small step off the bound of diagonal element `i`: the step
/// alone, and, in a vector term, the same covariance written with column
/// c's mass rotated (a Givens rotation of columns c and r of lambda, which
/// leaves lambda lambda' unchanged) so that the step adds a correlation of
/// +-1 with row r's effect. With lambda_cc = 0 every such rotation gives the
/// same criterion, but the step off the bound sees different directions
/// (issue 15's `(x2 | g)`: (0, 0.008, 0.870) and (0, -0.870, 0) are one
/// covariance; only from the second does lambda_11 > 0 lower the criterion).
fn edge_probes(par: &Parameterization, theta: &[f64], i: usize) -> Vec<Vec<f64>> {
    let mut step = theta.to_vec();
    step[i] = EDGE_STEP;
    let mut out = vec![step];
    let Some((k, t)) = par.terms.iter().enumerate().find(|(_, t)| i < t.theta_offset + t.ntheta()) else {
        return out;
    };
    let q = t.q;
    let mut lam = vec![0.0; q * q];
    par.fill_lambda(theta, k, &mut lam);
    let Some(c) = (0..q).find(|&c| t.theta_offset + (0..c).map(|j| q - j).sum::<usize>() == i) else {
        return out;
    };
    for r in c + 1..q {
        // Rows strictly between c and r must be zero in column c for the rotation to stay lower triangular.
        if (c + 1..r).any(|row| lam[c * q + row] != 0.0) {
            continue;
        }
        let (a, b) = (lam[c * q + r], lam[r * q + r]);
        let norm = a.hypot(b);
        if norm == 0.0 {
            continue;
        }
        for sign in [1.0, -1.0] {
            // New column c = cos col_c + sin col_r, column r = -sin col_c + cos col_r, with lambda'[r, r] = 0.
            let (cos, sin) = (sign * a / norm, sign * b / norm);
            let mut rotated = lam.clone();
            for row in r..q {
                let (x, y) = (lam[c * q + row], lam[r * q + row]);
                rotated[c * q + row] = cos * x + sin * y;
                rotated[r * q + row] = -sin * x + cos * y;
            }
            rotated[c * q + c] = EDGE_STEP;
            let mut trial = theta.to_vec();
            let mut idx = t.theta_offset;
            for col in 0..q {
                for row in col..q {
                    trial[idx] = rotated[col * q + row];
                    idx += 1;
                }
            }
            out.push(trial);
        }
    }
    out
}

/// Optimise theta and collect the results. `offset` is added back to the fitted values.
pub fn fit(m: &mut LinearMixedModel, options: &FitOptions, offset: Option<&[f64]>) -> Result<LmmFit> {
    fit_observed(m, options, offset, &mut Monitor::none())
}

/// [`fit`], each evaluation of the optimizer reported to `monitor`.
pub fn fit_observed(
    m: &mut LinearMixedModel,
    options: &FitOptions,
    offset: Option<&[f64]>,
    monitor: &mut Monitor<'_>,
) -> Result<LmmFit> {
    let start = options.start.clone().unwrap_or_else(|| m.start.clone());
    if start.len() != m.par.ntheta() {
        return Err(Error::Argument(format!(
            "the start has {} values but the model has {} covariance parameters",
            start.len(),
            m.par.ntheta()
        )));
    }
    let opt = optimize_observed(m, &start, options.optimizer, monitor)?;
    results(m, opt, options.derivatives, offset)
}

/// A derivative-free optimizer stops within its trust radius of a bound but
/// rarely on it. Diagonal elements below the singular tolerance are set to
/// zero when that does not raise the objective (as MixedModels.jl does), so
/// a boundary fit reports theta = 0 exactly, as lme4's bobyqa does.
fn snap_to_boundary(m: &mut LinearMixedModel, opt: &mut OptSummary, lower: &[f64], monitor: &mut Monitor<'_>) {
    monitor.optimizer("boundary");
    for i in 0..opt.final_theta.len() {
        let t = opt.final_theta[i];
        if lower[i] == 0.0 && t != 0.0 && t.abs() < SINGULAR_TOL {
            let mut trial = opt.final_theta.clone();
            trial[i] = 0.0;
            let f = monitor.objective(&trial, || m.objective_at(&trial));
            opt.feval += 1;
            if f <= opt.fmin + 1e-10 * opt.fmin.abs().max(1.0) {
                opt.final_theta = trial;
                opt.fmin = f.min(opt.fmin);
            }
        }
    }
}

/// The results at the model's current theta.
pub fn results(
    m: &mut LinearMixedModel,
    opt: OptSummary,
    with_derivatives: bool,
    offset: Option<&[f64]>,
) -> Result<LmmFit> {
    if !m.factor.ok {
        return Err(Error::Numerical("the model could not be factored at the optimum".into()));
    }
    let (n, p) = (m.n(), m.p());
    let theta = m.theta.clone();
    let objective = m.objective();
    let sigma = m.sigma();
    let beta = m.beta();
    if !(objective.is_finite() && sigma.is_finite() && sigma > 0.0 && beta.iter().all(|b| b.is_finite())) {
        return Err(Error::Numerical(format!(
            "the fit's estimates are not finite (criterion {objective}, sigma {sigma}): the data's scale is beyond \
             double precision; rescale the response and predictors"
        )));
    }
    let vcov_beta: Vec<f64> = m.unscaled_vcov().iter().map(|v| v * sigma * sigma).collect();
    let ranef = m.ranef();
    let (fitted, residuals) = if m.holds_rows() { fitted_and_residuals(m, offset) } else { (vec![], vec![]) };
    let npar = p + theta.len() + 1;
    let loglik = -objective / 2.0;
    let aic = objective + 2.0 * npar as f64;
    let bic = objective + (n as f64).ln() * npar as f64;
    let lower = m.par.lower_bounds();
    let singular = theta.iter().zip(&lower).any(|(t, l)| *l == 0.0 && *t < SINGULAR_TOL);

    let mut warnings = Vec::new();
    if !opt.converged {
        warnings.push(format!("the optimizer stopped before converging: {}", opt.status));
    }
    if singular {
        warnings.push("boundary (singular) fit: see help('isSingular')".into());
    }
    let (derivs, vcov_varpar, df) = if with_derivatives {
        let d = derivatives(m);
        warnings.extend(convergence_warnings(&d, &theta, &lower, singular));
        let (a, w) = satterthwaite::vcov_varpar(&d);
        warnings.extend(w);
        let df = (0..p)
            .map(|i| {
                let mut l = vec![0.0; p];
                l[i] = 1.0;
                satterthwaite::contrast_df(&l, &vcov_beta, &d, &a)
            })
            .collect();
        (Some(d), Some(a), Some(df))
    } else {
        (None, None, None)
    };
    Ok(LmmFit {
        reml: m.reml,
        n,
        p,
        opt,
        theta,
        beta,
        vcov_beta,
        sigma,
        objective,
        loglik,
        npar,
        aic,
        bic,
        ranef,
        fitted,
        residuals,
        singular,
        derivs,
        vcov_varpar,
        df,
        warnings,
    })
}

/// Fitted values (offset added back) and response residuals on the model's rows.
fn fitted_and_residuals(m: &LinearMixedModel, offset: Option<&[f64]>) -> (Vec<f64>, Vec<f64>) {
    let mut fitted = m.linear_predictor();
    if let Some(o) = offset {
        fitted.iter_mut().zip(o).for_each(|(f, ov)| *f += ov);
    }
    let y_full: Vec<f64> = match offset {
        Some(o) => m.y.iter().zip(o).map(|(y, ov)| y + ov).collect(),
        None => m.y.clone(),
    };
    let residuals = y_full.iter().zip(&fitted).map(|(y, f)| y - f).collect();
    (fitted, residuals)
}

/// lme4's `checkConv`: the gradient scaled by the Hessian, and the Hessian's
/// eigenvalues, at the optimum. Parameters on the boundary are left out.
fn convergence_warnings(d: &Derivatives, theta: &[f64], lower: &[f64], singular: bool) -> Vec<String> {
    let free: Vec<usize> = (0..theta.len()).filter(|&i| !(lower[i] == 0.0 && theta[i] < SINGULAR_TOL)).collect();
    check_convergence(&d.grad, &d.hess, &free, singular)
}

/// lme4's `checkConv` on the parameters in `free` (those not on a boundary):
/// the gradient scaled by the Cholesky factor of the Hessian (`solve(chol(H),
/// g)`) against 0.002, and the Hessian's eigenvalues (negative: degenerate;
/// very large or a large ratio: nearly unidentifiable).
pub fn check_convergence(grad_full: &[f64], hess_full: &[f64], free: &[usize], singular: bool) -> Vec<String> {
    let k = free.len();
    if k == 0 {
        return vec![];
    }
    let mut out = Vec::new();
    let grad: Vec<f64> = free.iter().map(|&i| grad_full[i]).collect();
    let kk = grad_full.len();
    let hess: Vec<f64> =
        free.iter().flat_map(|&j| free.iter().map(move |&i| (i, j))).map(|(i, j)| hess_full[j * kk + i]).collect();
    if let Some(hinv_g) = solve_with_cholesky(&hess, k, &grad) {
        let max = hinv_g.iter().zip(&grad).map(|(s, g)| s.abs().min(g.abs())).fold(0.0, f64::max);
        if max > GRAD_TOL {
            out.push(format!("Model failed to converge with max|grad| = {max:.6} (tol = {GRAD_TOL}){ALL_FIT_HINT}"));
        }
    } else if !singular {
        out.push("unable to evaluate scaled gradient".into());
    }
    if let Some((vals, _)) = linalg::symmetric_eigen(&hess, k) {
        let negative = vals.iter().filter(|v| **v < -HESS_TOL).count();
        let vmax = vals.iter().cloned().fold(f64::MIN, f64::max);
        let vmin = vals.iter().cloned().fold(f64::MAX, f64::min);
        if negative > 0 {
            out.push(format!(
                "Model failed to converge: degenerate Hessian with {negative} negative eigenvalues{ALL_FIT_HINT}"
            ));
        } else if vmax * HESS_TOL > 1.0 {
            out.push("Model is nearly unidentifiable: very large eigenvalue - Rescale variables?".into());
        } else if vmin / vmax < HESS_TOL {
            out.push("Model is nearly unidentifiable: large eigenvalue ratio - Rescale variables?".into());
        }
    }
    out
}

fn solve_with_cholesky(a: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    // R's solve(chol(H), g): the upper factor U with H = U'U, solving U x = g.
    let mut l = a.to_vec();
    if !small::cholesky(&mut l, n) {
        return None;
    }
    let mut x = b.to_vec();
    small::solve_lower_transpose(&l, n, &mut x, 1);
    Some(x)
}
