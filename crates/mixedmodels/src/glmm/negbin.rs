//! Negative binomial GLMMs with an unknown dispersion theta, as lme4's
//! `glmer.nb` estimates it: a Poisson GLMM first, MASS's `theta.ml` on its
//! fitted means for a start, a GLMM at that theta, then a one-dimensional
//! search (Brent's, R's `optimize`) over log(theta) in log(start) -+ 3, each
//! evaluation a refit of the GLMM at one theta (the second stage from the
//! previous estimates, as lme4's `refit`) whose -2 log-likelihood is the
//! function minimised. The GLMM at a known theta is an ordinary family
//! ([`crate::glmm::Family::negative_binomial`]).

use statrs::function::gamma::digamma;

use super::family::{Distribution, Family};
use crate::error::{Error, Result};
use crate::glmer::Glmer;
use crate::optim::brent::brent_minimize;
use crate::optim::Monitor;

/// How theta was estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct ThetaSearch {
    /// MASS's `theta.ml` on the Poisson fit's means: where the search started.
    pub initial: f64,
    /// The interval searched, on the theta scale (`exp(log(initial) -+ 3)`).
    pub interval: (f64, f64),
    /// GLMM fits the search ran, one a theta tried (the final refit aside).
    pub evaluations: usize,
}

/// lme4's `glmer.nb` interval half-width on the log scale.
const LOG_INTERVAL: f64 = 3.0;
/// PIRLS's stopping rule for the fits of the search. With lme4's (a
/// relative change of the penalized deviance below 1e-7) the stopped
/// iterations bias each fit's deviance by up to ~3e-3, by an amount that
/// depends on where PIRLS started: noise far above the deviance's curvature
/// in theta (see [`LOG_TOL`]), which leaves theta wrong in the third digit.
/// Even at 1e-13 the flat penalized deviance leaves u off by ~1e-6 and the
/// Laplace deviance (through log|L|^2) by as much: fixed effects move by
/// 5e-4 (relative) between fits of the same model from different starts.
/// Iterating on until u changes by less than 1e-8 makes the deviance a
/// function of the parameters alone, to ~1e-9, for ~30% more PIRLS steps.
const SEARCH_TOL_PWRSS: f64 = 1e-13;
const SEARCH_STEP_TOL: f64 = 1e-8;
/// Tolerance on log(theta). lme4 uses 5e-5; the deviance is flat at its
/// minimum (a relative change of 1e-3 in theta moves it by ~3e-5 on
/// grouseticks), so a tighter search lands well inside the 1e-3 both are
/// compared at, for one or two more fits.
const LOG_TOL: f64 = 1e-5;

/// Fit `g` (set up with a negative binomial family of unknown theta),
/// estimating theta. The fit left in `g` is the GLMM at the estimate, with
/// the derivatives the options ask for.
pub(crate) fn estimate_theta(g: &mut Glmer, monitor: &mut Monitor<'_>) -> Result<()> {
    let nb = g.pirls.resp.family;
    let derivatives = g.options.derivatives;
    g.options.derivatives = false;
    g.pirls.tol = g.pirls.tol.min(SEARCH_TOL_PWRSS);
    g.pirls.step_tol = SEARCH_STEP_TOL;
    // The Poisson fit whose means start theta.ml.
    g.pirls.set_family(Family { dist: Distribution::Poisson, link: nb.link });
    g.optimize(monitor)?;
    let r = &g.pirls.resp;
    let initial = theta_ml(&r.y, &g.fit.mu, &r.weights)?;
    g.pirls.set_family(at_theta(nb, initial));
    g.optimize(monitor)?;
    let (lo, hi) = (initial.ln() - LOG_INTERVAL, initial.ln() + LOG_INTERVAL);
    let mut failure = None;
    let best = brent_minimize(
        |log_theta| match g.refit_family(at_theta(nb, log_theta.exp()), false, monitor) {
            Ok(()) => g.fit.objective_lme4,
            Err(e) => {
                failure.get_or_insert(e);
                f64::INFINITY
            }
        },
        lo,
        hi,
        LOG_TOL,
    );
    if !best.fx.is_finite() {
        return Err(failure.unwrap_or_else(|| Error::Numerical("no negative binomial fit succeeded".into())));
    }
    monitor.check()?;
    g.refit_family(at_theta(nb, best.x.exp()), derivatives, monitor)?;
    g.options.derivatives = derivatives;
    if best.x - lo < 10.0 * LOG_TOL || hi - best.x < 10.0 * LOG_TOL {
        g.fit.warnings.push(format!(
            "the negative binomial theta ({:.4}) is at the end of the interval searched ({:.4}, {:.4}): \
             the data may show no overdispersion (try family='poisson') or too much",
            best.x.exp(),
            lo.exp(),
            hi.exp()
        ));
    }
    g.nb_search = Some(ThetaSearch { initial, interval: (lo.exp(), hi.exp()), evaluations: best.evaluations });
    Ok(())
}

/// The negative binomial family `nb` at a theta the search tries.
fn at_theta(nb: Family, theta: f64) -> Family {
    Family { dist: Distribution::NegativeBinomial { theta }, ..nb }
}

/// MASS's `theta.ml(y, mu, weights, limit = 20, eps = 1e-4)` as `glmer.nb`
/// calls it: Newton's method on the score of theta from the moment estimate
/// n / sum w (y / mu - 1)^2, n = sum w.
pub fn theta_ml(y: &[f64], mu: &[f64], w: &[f64]) -> Result<f64> {
    const LIMIT: usize = 20;
    const EPS: f64 = 1e-4;
    let n: f64 = w.iter().sum();
    let rows = || (0..y.len()).map(|i| (y[i], mu[i], w[i]));
    let score = |t: f64| -> f64 {
        rows()
            .map(|(y, m, w)| w * (digamma(t + y) - digamma(t) + t.ln() + 1.0 - (t + m).ln() - (y + t) / (m + t)))
            .sum()
    };
    let info = |t: f64| -> f64 {
        rows()
            .map(|(y, m, w)| {
                w * (-trigamma(t + y) + trigamma(t) - 1.0 / t + 2.0 / (m + t) - (y + t) / ((m + t) * (m + t)))
            })
            .sum()
    };
    let mut t0 = n / rows().map(|(y, m, w)| w * (y / m - 1.0).powi(2)).sum::<f64>();
    let mut del = 1.0f64;
    let mut it = 0;
    while {
        it += 1;
        it < LIMIT
    } && del.abs() > EPS
    {
        t0 = t0.abs();
        del = score(t0) / info(t0);
        t0 += del;
    }
    if !(t0.is_finite() && t0 > 0.0) {
        return Err(Error::Data(
            "the counts show no overdispersion for a negative binomial model (MASS's theta.ml gives no positive \
             theta from the Poisson fit): fit family='poisson', or give nb_theta"
                .into(),
        ));
    }
    Ok(t0)
}

/// The trigamma function psi'(x), x > 0: the recurrence
/// psi'(x) = psi'(x + 1) + 1 / x^2 up to x >= 10, then the asymptotic series
/// 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1) (Abramowitz and Stegun 6.4.12).
pub fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    // B2 = 1/6, B4 = -1/30, B6 = 1/42, B8 = -1/30, B10 = 5/66.
    let series = 1.0 / 6.0 + z * (-1.0 / 30.0 + z * (1.0 / 42.0 + z * (-1.0 / 30.0 + z * 5.0 / 66.0)));
    acc + 1.0 / x + 0.5 * z + series * z / x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigamma_matches_r() {
        // R: print(trigamma(c(0.5, 1, 2.5, 7, 40)), digits = 17)
        let cases = [
            (0.5, 4.934_802_200_544_679),
            (1.0, 1.644_934_066_848_226_4),
            (2.5, 0.490_357_756_100_234_9),
            (7.0, 0.153_545_177_959_337_5),
            (40.0, 0.025_315_103_841_291_03),
        ];
        for (x, want) in cases {
            assert!((trigamma(x) - want).abs() < 1e-12 * want, "trigamma({x}) = {} vs {want}", trigamma(x));
        }
    }

    #[test]
    fn theta_ml_solves_the_score_equation() {
        // Overdispersed counts around mu = 3: theta.ml's root of the score.
        let y = [0.0, 1.0, 7.0, 2.0, 9.0, 0.0, 3.0, 4.0, 1.0, 6.0, 0.0, 5.0];
        let mu = [3.0; 12];
        let w = [1.0; 12];
        let t = theta_ml(&y, &mu, &w).unwrap();
        // R: MASS::theta.ml(y, rep(3, 12), limit = 20, eps = 1e-4)
        assert!((t - 1.199_671_955_642_51).abs() < 1e-10, "{t}");
        let score: f64 = y
            .iter()
            .map(|&y| digamma(t + y) - digamma(t) + t.ln() + 1.0 - (t + 3.0f64).ln() - (y + t) / (3.0 + t))
            .sum();
        assert!(score.abs() < 1e-6, "theta {t}, score {score}");
        // Counts less variable than a Poisson's: theta runs off towards the
        // Poisson limit (R: 42231.39 when the iteration limit stops it).
        let y = [2.0, 3.0, 3.0, 4.0, 3.0, 2.0, 4.0, 3.0];
        let t = theta_ml(&y, &[3.0; 8], &[1.0; 8]).unwrap();
        assert!((t - 42_231.39).abs() < 0.01 * 42_231.39, "{t}");
    }
}
