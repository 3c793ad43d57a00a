//! Profile-likelihood confidence intervals, as lme4's `profile.merMod` and
//! `confint(method = "profile")`. lme4 profiles the ML deviance of the model
//! refitted with ML, whatever the fit's criterion (lme4 1.1-31's `devfun2`
//! calls `refitML`), so REML and ML fits get the same intervals; we do the same.
//!
//! Parameters are lme4's: the random effects' standard deviations and
//! correlations (`sd_(Intercept)|Subject`, `cor_Days.(Intercept)|Subject`),
//! `sigma`, then the fixed effects. For a parameter fixed at x, the deviance is
//! minimised over the others, and zeta(x) = sign(x - x-hat) sqrt(D(x) - D-hat);
//! the interval's ends solve zeta(x) = -+ z_{(1+level)/2}. lme4 interpolates
//! zeta with splines through a grid; we find the roots directly (secant steps
//! to bracket them, then Illinois-corrected regula falsi), so the two agree to
//! the accuracy of lme4's spline.

use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::design::ReTerm;
use crate::error::{Error, Result};
use crate::fit::optimize;
use crate::lmer::Lmer;
use crate::model::{CrossProducts, LinearMixedModel};
use crate::optim::{bobyqa_minimize_bounded, OptimizerSettings};

const LOG_2PI: f64 = 1.837_877_066_409_345_5;

/// The deviance as a function of one parameter with the others minimised out.
pub(crate) trait Profile {
    fn estimate(&self) -> f64;
    fn bounds(&self) -> (f64, f64);
    /// D(x) minimised over the other parameters (warm-started internally).
    fn deviance(&mut self, x: f64) -> f64;
}

/// A variance parameter (sd, cor or sigma) at index `w` of (sd/cor..., sigma).
struct VarianceProfile {
    model: LinearMixedModel,
    w: usize,
    opt: Vec<f64>,
    /// Solutions found so far, (x, all parameters): the next inner
    /// optimisation starts from the one nearest in x.
    history: Vec<(f64, Vec<f64>)>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl VarianceProfile {
    /// ML deviance at (sd/cor..., sigma), beta profiled out.
    fn deviance_at(model: &mut LinearMixedModel, pars: &[f64]) -> f64 {
        let k = pars.len() - 1;
        let sigma = pars[k];
        if sigma.is_nan() || sigma <= 0.0 {
            return f64::INFINITY;
        }
        let Some(theta) = model.par.theta_from_sd_cor(&pars[..k], sigma) else { return f64::INFINITY };
        model.set_theta(&theta);
        if !model.factor.ok {
            return f64::INFINITY;
        }
        let pc = model.pieces();
        let n = model.n() as f64;
        let s2 = sigma * sigma;
        pc.ld_l2 - model.cp.log_weights + pc.pwrss / s2 + n * (LOG_2PI + s2.ln())
    }
}

impl Profile for VarianceProfile {
    fn estimate(&self) -> f64 {
        self.opt[self.w]
    }

    fn bounds(&self) -> (f64, f64) {
        (self.lower[self.w], self.upper[self.w])
    }

    fn deviance(&mut self, x: f64) -> f64 {
        let w = self.w;
        let others: Vec<usize> = (0..self.opt.len()).filter(|&i| i != w).collect();
        let lower: Vec<f64> = others.iter().map(|&i| self.lower[i]).collect();
        let upper: Vec<f64> = others.iter().map(|&i| self.upper[i]).collect();
        let full = |sub: &[f64]| {
            let mut p = vec![0.0; others.len() + 1];
            p[w] = x;
            for (j, &i) in others.iter().enumerate() {
                p[i] = sub[j];
            }
            p
        };
        let nearest = self
            .history
            .iter()
            .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
            .map_or(&self.opt, |(_, p)| p);
        let warm: Vec<f64> = others.iter().map(|&i| nearest[i]).collect();
        let model = &mut self.model;
        let mut best = minimize_scaled(|sub| Self::deviance_at(model, &full(sub)), &warm, &lower, &upper);
        // An sd at zero is a stationary point of the deviance (it is even in
        // each sd), where a warm start can stall; then retry from the optimum.
        let stalled = others.iter().zip(&warm).any(|(&i, &v)| self.lower[i] == 0.0 && v == 0.0 && self.opt[i] > 0.0);
        if stalled || best.is_none() {
            let from_opt: Vec<f64> = others.iter().map(|&i| self.opt[i]).collect();
            let retry = minimize_scaled(|sub| Self::deviance_at(model, &full(sub)), &from_opt, &lower, &upper);
            if retry.as_ref().is_some_and(|r| best.as_ref().is_none_or(|b| r.1 < b.1)) {
                best = retry;
            }
        }
        match best {
            Some((sub, fmin)) => {
                self.history.push((x, full(&sub)));
                fmin
            }
            None => f64::NAN,
        }
    }
}

/// Minimise `f` over a box with BOBYQA on a scale where every parameter
/// starts near 1; returns the minimiser (original scale) and the minimum.
fn minimize_scaled(
    f: impl FnMut(&[f64]) -> f64,
    start: &[f64],
    lower: &[f64],
    upper: &[f64],
) -> Option<(Vec<f64>, f64)> {
    let scale: Vec<f64> = start.iter().map(|v| v.abs().max(0.1)).collect();
    minimize_on_scale(f, start, &scale, lower, upper)
}

/// Minimise `f` over a box with BOBYQA on the parameters divided by `scale`
/// (each parameter's natural unit: its value, its standard error).
pub(crate) fn minimize_on_scale(
    mut f: impl FnMut(&[f64]) -> f64,
    start: &[f64],
    scale: &[f64],
    lower: &[f64],
    upper: &[f64],
) -> Option<(Vec<f64>, f64)> {
    let to_scaled = |v: &[f64]| -> Vec<f64> { v.iter().zip(scale).map(|(a, s)| a / s).collect() };
    let unscale = |v: &[f64]| -> Vec<f64> { v.iter().zip(scale).map(|(a, s)| a * s).collect() };
    let settings = OptimizerSettings { rho_begin: 0.05, rho_end: 1e-7, max_feval: 5000, ..Default::default() };
    let o = bobyqa_minimize_bounded(
        |sub| f(&unscale(sub)),
        &to_scaled(start),
        &to_scaled(lower),
        &to_scaled(upper),
        settings,
    )
    .ok()?;
    o.fmin.is_finite().then(|| (unscale(&o.final_theta), o.fmin))
}

/// A fixed effect: beta_j = x enters as an offset, and the ML deviance is
/// optimised over theta (sigma and the other betas are profiled out). The
/// model's data are [X y] only through their cross-products, so the model
/// without column j and with response y - x x_j is formed from the fitted
/// model's cross-products (`without_column`), rows or no rows.
struct FixedProfile {
    model: LinearMixedModel,
    /// The fitted model's cross-products, of [X, y - X beta_ols].
    base: CrossProducts,
    j: usize,
    /// beta_ols[j]: y - x x_j = (y - X beta_ols) + (beta_ols[j] - x) x_j + X_{-j} beta_ols[-j].
    shift: f64,
    estimate: f64,
    theta: Vec<f64>,
}

impl Profile for FixedProfile {
    fn estimate(&self) -> f64 {
        self.estimate
    }

    fn bounds(&self) -> (f64, f64) {
        (f64::NEG_INFINITY, f64::INFINITY)
    }

    fn deviance(&mut self, x: f64) -> f64 {
        set_without_column(&mut self.model.cp, &self.base, self.j, self.shift - x);
        let settings = OptimizerSettings { rho_end: 1e-7, ..Default::default() };
        match optimize(&mut self.model, &self.theta, settings) {
            Ok(o) => {
                self.theta = o.final_theta;
                o.fmin
            }
            Err(_) => f64::NAN,
        }
    }
}

/// Make `cp` (shaped as `base` with one column fewer) the cross-products of
/// [X without column j, y + c x_j] from `base`'s of [X y]: only the columns
/// of [X y] change, by a linear map, so Z'[X y] and [X y]'[X y] map too.
fn set_without_column(cp: &mut CrossProducts, base: &CrossProducts, j: usize, c: f64) {
    let (p, k) = (base.p, base.p + 1);
    let kept: Vec<usize> = (0..p).filter(|&i| i != j).collect();
    // New column t of [X' y']: old column kept[t], or y + c x_j for t = p - 1.
    let column = |old: &dyn Fn(usize) -> f64, t: usize| -> f64 {
        if t < kept.len() {
            old(kept[t])
        } else {
            old(p) + c * old(j)
        }
    };
    let (q0, m) = (base.q0, base.m);
    for lev in 0..base.l0 {
        let src = &base.zxy0[lev * q0 * k..(lev + 1) * q0 * k];
        for r in 0..q0 {
            for t in 0..p {
                cp.zxy0[lev * q0 * p + t * q0 + r] = column(&|col| src[col * q0 + r], t);
            }
        }
    }
    for r in 0..m {
        for t in 0..p {
            cp.zxy_rest[t * m + r] = column(&|col| base.zxy_rest[col * m + r], t);
        }
    }
    for b in 0..p {
        for a in 0..p {
            cp.xyxy[b * p + a] = column(&|cb| column(&|ca| base.xyxy[cb * k + ca], a), b);
        }
    }
}

/// zeta = sign(x - x-hat) sqrt(D(x) - D-hat), kept in `trace` as (x, zeta).
fn zeta(p: &mut dyn Profile, x: f64, base: f64, trace: &mut Vec<(f64, f64)>) -> f64 {
    let d = p.deviance(x) - base;
    let z = (x - p.estimate()).signum() * d.max(0.0).sqrt();
    trace.push((x, z));
    z
}

/// The end of the interval on one side (`dir` = +1 or -1): the x where
/// zeta = dir * target, or the parameter's bound if zeta never gets there.
/// Every (x, zeta) evaluated on the way is added to `trace`.
pub(crate) fn interval_end(
    p: &mut dyn Profile,
    base: f64,
    target: f64,
    dir: f64,
    scale: f64,
    trace: &mut Vec<(f64, f64)>,
) -> f64 {
    let (lo, hi) = p.bounds();
    let bound = if dir > 0.0 { hi } else { lo };
    let est = p.estimate();
    let goal = dir * target;
    let (mut x0, mut z0) = (est, 0.0);
    let mut step = scale.max(1e-8);
    let mut x1 = (est + dir * step).clamp(lo, hi);
    let mut z1 = zeta(p, x1, base, trace);
    // March outwards with secant steps until zeta passes the target.
    let mut tries = 0;
    while (z1 - goal) * dir < 0.0 {
        if x1 == bound || tries > 60 || !z1.is_finite() {
            return if x1 == bound { bound } else { f64::NAN };
        }
        let slope = (z1 - z0) / (x1 - x0);
        // Aim a little past the target so the next point usually brackets it.
        let mut next = if slope * dir > 0.0 { x1 + 1.1 * (goal - z1) / slope } else { x1 + dir * 2.0 * step };
        // Keep steps between a tenth of and 4x the last one.
        let d = (next - x1).abs().clamp(0.1 * step, 4.0 * step);
        step = d;
        next = (x1 + dir * d).clamp(lo, hi);
        x0 = x1;
        z0 = z1;
        x1 = next;
        z1 = zeta(p, x1, base, trace);
        tries += 1;
    }
    // Illinois-corrected regula falsi on [x0, x1], where zeta - goal changes sign.
    let (mut a, mut fa, mut b, mut fb) = (x0, z0 - goal, x1, z1 - goal);
    let mut side = 0;
    for _ in 0..60 {
        let c = (a * fb - b * fa) / (fb - fa);
        let fc = zeta(p, c, base, trace) - goal;
        if fc.abs() < 1e-8 || (b - a).abs() < 1e-10 * (1.0 + c.abs()) {
            return c;
        }
        if fc * fb > 0.0 {
            b = c;
            fb = fc;
            if side == -1 {
                fa /= 2.0;
            }
            side = -1;
        } else {
            a = c;
            fa = fc;
            if side == 1 {
                fb /= 2.0;
            }
            side = 1;
        }
    }
    (a * fb - b * fa) / (fb - fa)
}

/// One parameter's profile: its interval at the level and the (x, zeta)
/// points the search for the interval's ends evaluated, the estimate's
/// (x-hat, 0) among them, in increasing x: what lme4's `profile()` tabulates
/// and `xyplot(profile(m))` draws (zeta against the parameter), here on the
/// points the root search chose rather than on a grid.
#[derive(Debug, Clone)]
pub struct ProfileTrace {
    pub lower: f64,
    pub upper: f64,
    pub points: Vec<(f64, f64)>,
}

/// Profile confidence intervals for every parameter, in lme4's order
/// (sd/cor, sigma, fixed effects): (lower, upper) pairs.
pub fn profile_intervals(m: &Lmer, level: f64) -> Result<Vec<(f64, f64)>> {
    Ok(profile_traces(m, level)?.into_iter().map(|t| (t.lower, t.upper)).collect())
}

/// The profile of every parameter, in lme4's order (sd/cor, sigma, fixed
/// effects): the intervals of [`profile_intervals`] with their zeta traces.
pub fn profile_traces(m: &Lmer, level: f64) -> Result<Vec<ProfileTrace>> {
    if !(0.0 < level && level < 1.0) {
        return Err(Error::Argument(format!("level must be between 0 and 1, not {level}")));
    }
    let target = Normal::new(0.0, 1.0).map_err(|e| Error::Numerical(e.to_string()))?.inverse_cdf(0.5 + level / 2.0);
    // lme4's devfun2 refits with ML.
    let mut ml = m.model.replicate();
    ml.reml = false;
    let opt = optimize(&mut ml, &m.fit.theta, m.options.fit.optimizer)?;
    let base = opt.fmin;
    let sigma = ml.sigma();
    let beta = ml.beta();
    let se: Vec<f64> = ml.unscaled_vcov().iter().step_by(ml.p() + 1).map(|v| v.sqrt() * sigma).collect();
    let mut pars = ml.par.sd_cor(&opt.final_theta, sigma);
    pars.push(sigma);
    let nvar = pars.len();
    let (lower, upper) = variance_bounds(&ml, nvar);
    let p = ml.p();
    let jobs: Vec<usize> = (0..nvar + p).collect();
    let intervals = jobs
        .par_iter()
        .map(|&w| {
            let mut prof: Box<dyn Profile> = if w < nvar {
                Box::new(VarianceProfile {
                    model: ml.replicate(),
                    w,
                    opt: pars.clone(),
                    history: Vec::new(),
                    lower: lower.clone(),
                    upper: upper.clone(),
                })
            } else {
                let j = w - nvar;
                fixed_profile(&ml, j, beta[j], &opt.final_theta)
            };
            let scale = if w < nvar { pars[w].abs().max(1e-3) * 0.05 } else { se[w - nvar] * 0.5 };
            let mut points = vec![(prof.estimate(), 0.0)];
            let lower = interval_end(prof.as_mut(), base, target, -1.0, scale, &mut points);
            let upper = interval_end(prof.as_mut(), base, target, 1.0, scale, &mut points);
            points.retain(|(x, z)| x.is_finite() && z.is_finite());
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            points.dedup_by(|a, b| a.0 == b.0);
            ProfileTrace { lower, upper, points }
        })
        .collect();
    Ok(intervals)
}

fn variance_bounds(ml: &LinearMixedModel, nvar: usize) -> (Vec<f64>, Vec<f64>) {
    let mut lower = Vec::with_capacity(nvar);
    let mut upper = Vec::with_capacity(nvar);
    for t in &ml.par.terms {
        for col in 0..t.q {
            for row in col..t.q {
                if row == col {
                    lower.push(0.0);
                    upper.push(f64::INFINITY);
                } else {
                    lower.push(-1.0);
                    upper.push(1.0);
                }
            }
        }
    }
    lower.push(0.0);
    upper.push(f64::INFINITY);
    (lower, upper)
}

fn fixed_profile(ml: &LinearMixedModel, j: usize, estimate: f64, theta: &[f64]) -> Box<dyn Profile> {
    let base = ml.cp.clone();
    let mut cp = base.clone();
    cp.p = base.p - 1;
    cp.zxy0 = vec![0.0; base.l0 * base.q0 * base.p];
    cp.zxy_rest = vec![0.0; base.m * base.p];
    cp.xyxy = vec![0.0; base.p * base.p];
    cp.scatter = None;
    let shift = ml.beta_ols[j];
    set_without_column(&mut cp, &base, j, shift - estimate);
    let beta_ols: Vec<f64> = (0..ml.p()).filter(|&i| i != j).map(|i| ml.beta_ols[i]).collect();
    let terms = ml.terms.iter().map(ReTerm::without_rows).collect();
    let mut model = LinearMixedModel::from_cross_products(cp, terms, ml.system.merged, false, beta_ols, theta.to_vec());
    model.set_theta(theta);
    Box::new(FixedProfile { model, base, j, shift, estimate, theta: theta.to_vec() })
}
