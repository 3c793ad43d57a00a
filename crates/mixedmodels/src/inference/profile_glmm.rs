//! Profile-likelihood confidence intervals of a GLMM, as lme4's
//! `profile.merMod` and `confint(method = "profile")` compute them for glmer
//! fits: the deviance the fit minimised (Laplace or adaptive Gauss-Hermite),
//! one parameter fixed at a time and the others, the random effects'
//! standard deviations and correlations and the fixed effects, optimised
//! out; zeta(x) = sign(x - x-hat) sqrt(D(x) - D-hat), and each end of the
//! interval where zeta reaches -+ z_{(1+level)/2}. The roots are found
//! directly, as for linear models ([`crate::inference::profile`]), instead of
//! lme4's spline through a grid; the parameters are profiled in parallel.

use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

use super::profile::{interval_end, minimize_on_scale, Profile};
use crate::error::{Error, Result};
use crate::glmer::Glmer;
use crate::glmm::deviance::DevianceFunction;
use crate::model::Parameterization;

/// The deviance over (sd/cor..., beta...), the parameters lme4 profiles.
struct Deviance {
    function: DevianceFunction,
    par: Parameterization,
    nvar: usize,
}

impl Deviance {
    fn at(&mut self, pars: &[f64]) -> f64 {
        let (sdcor, beta) = pars.split_at(self.nvar);
        match self.par.theta_from_sd_cor(sdcor, 1.0) {
            Some(theta) => self.function.at(&theta, beta),
            None => f64::INFINITY,
        }
    }

    fn replicate(&self) -> Deviance {
        Deviance { function: self.function.replicate(), par: self.par.clone(), nvar: self.nvar }
    }
}

/// Parameter `w` fixed, the others minimised out from the nearest solution
/// found so far.
struct ParameterProfile {
    deviance: Deviance,
    w: usize,
    opt: Vec<f64>,
    scale: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    history: Vec<(f64, Vec<f64>)>,
}

impl ParameterProfile {
    fn minimize_from(&mut self, x: f64, warm: &[f64]) -> Option<(Vec<f64>, f64)> {
        let w = self.w;
        let others: Vec<usize> = (0..self.opt.len()).filter(|&i| i != w).collect();
        let pick = |v: &[f64]| others.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let full = |sub: &[f64]| {
            let mut p = vec![x; others.len() + 1];
            others.iter().zip(sub).for_each(|(&i, v)| p[i] = *v);
            p
        };
        let deviance = &mut self.deviance;
        let (start, scale, lower, upper) = (pick(warm), pick(&self.scale), pick(&self.lower), pick(&self.upper));
        let (sub, fmin) = minimize_on_scale(|sub| deviance.at(&full(sub)), &start, &scale, &lower, &upper)?;
        Some((full(&sub), fmin))
    }
}

impl Profile for ParameterProfile {
    fn estimate(&self) -> f64 {
        self.opt[self.w]
    }

    fn bounds(&self) -> (f64, f64) {
        (self.lower[self.w], self.upper[self.w])
    }

    fn deviance(&mut self, x: f64) -> f64 {
        let nearest = self
            .history
            .iter()
            .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
            .map_or_else(|| self.opt.clone(), |(_, p)| p.clone());
        let mut best = self.minimize_from(x, &nearest);
        // An sd at zero is a stationary point of the deviance (it is even in
        // each sd), where a warm start can stall; then retry from the optimum.
        let stalled = (0..self.deviance.nvar)
            .any(|i| i != self.w && self.lower[i] == 0.0 && nearest[i] == 0.0 && self.opt[i] > 0.0);
        if stalled || best.is_none() {
            let opt = self.opt.clone();
            let retry = self.minimize_from(x, &opt);
            if retry.as_ref().is_some_and(|r| best.as_ref().is_none_or(|b| r.1 < b.1)) {
                best = retry;
            }
        }
        match best {
            Some((pars, fmin)) => {
                self.history.push((x, pars));
                fmin
            }
            None => f64::NAN,
        }
    }
}

/// Profile confidence intervals for the sd/cor parameters and the fixed
/// effects of a GLMM without a dispersion parameter (binomial, Poisson,
/// negative binomial at its theta), in lme4's order: (lower, upper) pairs.
pub fn glmm_profile_intervals(g: &Glmer, level: f64) -> Result<Vec<(f64, f64)>> {
    if !(0.0 < level && level < 1.0) {
        return Err(Error::Argument(format!("level must be between 0 and 1, not {level}")));
    }
    if g.fit.family.has_scale() {
        return Err(Error::Argument(
            "profile intervals of a GLMM are available for families without a dispersion parameter (binomial, \
             Poisson, negative binomial); use Wald or bootstrap intervals"
                .into(),
        ));
    }
    if g.fit.nagq == 0 {
        return Err(Error::Argument(
            "profile intervals need the Laplace or quadrature deviance: refit with nAGQ >= 1".into(),
        ));
    }
    let target = Normal::new(0.0, 1.0).map_err(|e| Error::Numerical(e.to_string()))?.inverse_cdf(0.5 + level / 2.0);
    let par = g.pirls.modes.par.clone();
    let nvar = par.ntheta();
    let mut deviance = Deviance { function: g.deviance_function()?, par, nvar };
    let (lower, upper) = bounds(&deviance.par, g.fit.beta.len());
    let p = g.fit.beta.len();
    let se: Vec<f64> = (0..p).map(|j| g.fit.vcov_beta[j * p + j].sqrt()).collect();
    let mut start = deviance.par.sd_cor(&g.fit.theta, 1.0);
    start.iter_mut().take(nvar).for_each(|v| *v = if v.is_nan() { 0.0 } else { *v });
    start.extend_from_slice(&g.fit.beta);
    let scale: Vec<f64> =
        start.iter().enumerate().map(|(i, v)| if i < nvar { v.abs().max(0.05) } else { se[i - nvar] }).collect();
    // The optimum of this deviance (PIRLS run to convergence): the profiles' base.
    let (opt, base) = minimize_on_scale(|x| deviance.at(x), &start, &scale, &lower, &upper)
        .ok_or_else(|| Error::Numerical("the deviance could not be minimised for the profile".into()))?;
    let jobs: Vec<usize> = (0..opt.len()).collect();
    let intervals = jobs
        .par_iter()
        .map(|&w| {
            let mut profile = ParameterProfile {
                deviance: deviance.replicate(),
                w,
                opt: opt.clone(),
                scale: scale.clone(),
                lower: lower.clone(),
                upper: upper.clone(),
                history: Vec::new(),
            };
            let first_step = 0.5 * if w < nvar { opt[w].abs().max(1e-3) * 0.1 } else { scale[w] };
            let mut trace = Vec::new(); // the zeta trace, not kept for GLMMs
            let lo = interval_end(&mut profile, base, target, -1.0, first_step, &mut trace);
            let hi = interval_end(&mut profile, base, target, 1.0, first_step, &mut trace);
            (lo, hi)
        })
        .collect();
    Ok(intervals)
}

/// sd >= 0, correlations in [-1, 1], fixed effects free.
fn bounds(par: &Parameterization, p: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut lower, mut upper) = (Vec::new(), Vec::new());
    for t in &par.terms {
        for col in 0..t.q {
            for row in col..t.q {
                let (lo, hi) = if row == col { (0.0, f64::INFINITY) } else { (-1.0, 1.0) };
                lower.push(lo);
                upper.push(hi);
            }
        }
    }
    lower.extend(std::iter::repeat_n(f64::NEG_INFINITY, p));
    upper.extend(std::iter::repeat_n(f64::INFINITY, p));
    (lower, upper)
}
