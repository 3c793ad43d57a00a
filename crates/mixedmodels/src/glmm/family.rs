//! Exponential families and links of generalized linear mixed models, as R's
//! `family` objects define them (lme4's glmFamily.cpp): inverse link, its
//! derivative, variance function, deviance residuals and the AIC term
//! (-2 log-likelihood) used by the Laplace approximation. The negative
//! binomial is MASS's `negative.binomial(theta)`: a family for a known
//! dispersion theta (`glmer.nb` estimates it around the fit, see
//! [`crate::glmm::negbin`]).

use statrs::distribution::{Continuous, ContinuousCDF, Normal};
use statrs::function::gamma::ln_gamma;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    Binomial,
    Poisson,
    Gamma,
    InverseGaussian,
    /// Variance mu + mu^2 / theta. A theta that is not finite means "not
    /// known yet": the fit estimates it (lme4's `glmer.nb`).
    NegativeBinomial {
        theta: f64,
    },
}

impl Distribution {
    /// R's name of the family: "binomial", "poisson", "Gamma",
    /// "inverse.gaussian", "negative.binomial" (MASS's function; its
    /// `family$family` names theta too: [`Family::r_name`]).
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Binomial => "binomial",
            Distribution::Poisson => "poisson",
            Distribution::Gamma => "Gamma",
            Distribution::InverseGaussian => "inverse.gaussian",
            Distribution::NegativeBinomial { .. } => "negative.binomial",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Logit,
    Probit,
    Cloglog,
    Log,
    Inverse,
    Identity,
    /// 1/mu^2, the canonical link of the inverse Gaussian.
    InverseSquare,
}

impl Link {
    /// The link by R's name: "logit", "probit", "cloglog", "log", "inverse", "identity", "1/mu^2".
    pub fn parse(name: &str) -> Result<Link> {
        Ok(match name {
            "logit" => Link::Logit,
            "probit" => Link::Probit,
            "cloglog" => Link::Cloglog,
            "log" => Link::Log,
            "inverse" => Link::Inverse,
            "identity" => Link::Identity,
            "1/mu^2" => Link::InverseSquare,
            other => return Err(Error::Argument(format!("unknown link '{other}'"))),
        })
    }

    /// eta = g(mu).
    pub fn apply(&self, mu: f64) -> f64 {
        match self {
            Link::Logit => (mu / (1.0 - mu)).ln(),
            Link::Probit => std_normal().inverse_cdf(mu),
            Link::Cloglog => (-(-mu).ln_1p()).ln(),
            Link::Log => mu.ln(),
            Link::Inverse => 1.0 / mu,
            Link::Identity => mu,
            Link::InverseSquare => 1.0 / (mu * mu),
        }
    }

    /// mu = g^{-1}(eta), with R's guards against 0 and 1 (`make.link(link)$linkinv`).
    #[inline]
    pub fn inverse(&self, eta: f64) -> f64 {
        match self {
            Link::Logit => {
                let e = eta.clamp(-LOGIT_THRESH, LOGIT_THRESH);
                1.0 / (1.0 + (-e).exp())
            }
            Link::Probit => {
                let thresh = -std_normal().inverse_cdf(EPS);
                std_normal().cdf(eta.clamp(-thresh, thresh))
            }
            Link::Cloglog => (-(-eta.exp()).exp_m1()).clamp(EPS, 1.0 - EPS),
            Link::Log => eta.exp().max(EPS),
            Link::Inverse => 1.0 / eta,
            Link::Identity => eta,
            Link::InverseSquare => 1.0 / eta.sqrt(),
        }
    }

    /// d mu / d eta (`make.link(link)$mu.eta`).
    pub fn mu_eta(&self, eta: f64) -> f64 {
        match self {
            Link::Logit => {
                let e = eta.abs();
                if e > LOGIT_THRESH {
                    EPS
                } else {
                    let ex = (-e).exp();
                    ex / ((1.0 + ex) * (1.0 + ex))
                }
            }
            Link::Probit => std_normal().pdf(eta).max(EPS),
            Link::Cloglog => {
                let e = eta.min(700.0);
                (e.exp() * (-e.exp()).exp()).max(EPS)
            }
            Link::Log => eta.exp().max(EPS),
            Link::Inverse => -1.0 / (eta * eta),
            Link::Identity => 1.0,
            Link::InverseSquare => -1.0 / (2.0 * eta.powf(1.5)),
        }
    }

    /// R's name of the link.
    pub fn name(&self) -> &'static str {
        match self {
            Link::Logit => "logit",
            Link::Probit => "probit",
            Link::Cloglog => "cloglog",
            Link::Log => "log",
            Link::Inverse => "inverse",
            Link::Identity => "identity",
            Link::InverseSquare => "1/mu^2",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Family {
    pub dist: Distribution,
    pub link: Link,
}

/// R's threshold for the logit link (`-log(.Machine$double.eps)`).
const LOGIT_THRESH: f64 = 36.043_653_389_117_15;
const EPS: f64 = f64::EPSILON;

impl Family {
    /// R's names: family "binomial", "poisson", "Gamma", "inverse.gaussian",
    /// "negative_binomial" (its theta to be estimated: see
    /// [`Family::with_nb_theta`]); links "logit", "probit", "cloglog", "log",
    /// "inverse", "identity", "1/mu^2".
    pub fn parse(family: &str, link: Option<&str>) -> Result<Family> {
        let dist = match family.to_ascii_lowercase().as_str() {
            "binomial" => Distribution::Binomial,
            "poisson" => Distribution::Poisson,
            "gamma" => Distribution::Gamma,
            "inverse.gaussian" | "inverse_gaussian" | "inversegaussian" => Distribution::InverseGaussian,
            "negative_binomial" | "negative.binomial" | "negativebinomial" | "negbin" => {
                Distribution::NegativeBinomial { theta: f64::NAN }
            }
            other => {
                return Err(Error::Argument(format!(
                    "unknown family '{other}' (use binomial, poisson, Gamma, inverse_gaussian or negative_binomial)"
                )))
            }
        };
        let default = match dist {
            Distribution::Binomial => Link::Logit,
            Distribution::Poisson | Distribution::NegativeBinomial { .. } => Link::Log,
            Distribution::Gamma => Link::Inverse,
            Distribution::InverseGaussian => Link::InverseSquare,
        };
        let link = match link {
            None => default,
            Some(l) => Link::parse(l)?,
        };
        let allowed = match dist {
            Distribution::Binomial => matches!(link, Link::Logit | Link::Probit | Link::Cloglog | Link::Log),
            Distribution::Poisson => matches!(link, Link::Log | Link::Identity),
            Distribution::Gamma => matches!(link, Link::Inverse | Link::Log | Link::Identity),
            Distribution::InverseGaussian => {
                matches!(link, Link::InverseSquare | Link::Inverse | Link::Log | Link::Identity)
            }
            Distribution::NegativeBinomial { .. } => matches!(link, Link::Log | Link::Identity),
        };
        if !allowed {
            return Err(Error::Argument(format!("the {family} family does not take the '{}' link", link.name())));
        }
        Ok(Family { dist, link })
    }

    /// MASS's `negative.binomial(theta)` with the log link.
    pub fn negative_binomial(theta: f64) -> Family {
        Family { dist: Distribution::NegativeBinomial { theta }, link: Link::Log }
    }

    /// The negative binomial family with its dispersion fixed at `theta`, a
    /// positive number; an error for other families.
    pub fn with_nb_theta(self, theta: f64) -> Result<Family> {
        if self.nb_theta().is_none() {
            return Err(Error::Argument(format!(
                "nb_theta is the negative binomial family's dispersion, not the {} family's",
                self.dist.name()
            )));
        }
        if !(theta.is_finite() && theta > 0.0) {
            return Err(Error::Argument(format!("nb_theta must be a positive number, not {theta}")));
        }
        Ok(Family { dist: Distribution::NegativeBinomial { theta }, ..self })
    }

    /// The negative binomial's theta (None for other families).
    pub fn nb_theta(&self) -> Option<f64> {
        match self.dist {
            Distribution::NegativeBinomial { theta } => Some(theta),
            _ => None,
        }
    }

    /// A negative binomial family whose theta is still to be estimated?
    pub fn estimates_nb_theta(&self) -> bool {
        self.nb_theta().is_some_and(|t| !t.is_finite())
    }

    /// R's `family$family`: "binomial", "poisson", "Gamma",
    /// "inverse.gaussian", "Negative Binomial(3.3034)" (MASS's
    /// `format(round(theta, 4))`).
    pub fn r_name(&self) -> String {
        match self.dist {
            Distribution::Binomial => "binomial".into(),
            Distribution::Poisson => "poisson".into(),
            Distribution::Gamma => "Gamma".into(),
            Distribution::InverseGaussian => "inverse.gaussian".into(),
            Distribution::NegativeBinomial { theta } => format!("Negative Binomial({})", r_format_round4(theta)),
        }
    }

    /// Does the family estimate a dispersion (sigma)?
    pub fn has_scale(&self) -> bool {
        matches!(self.dist, Distribution::Gamma | Distribution::InverseGaussian)
    }

    pub fn linkfun(&self, mu: f64) -> f64 {
        self.link.apply(mu)
    }

    /// mu = g^{-1}(eta), with R's guards against 0 and 1.
    #[inline]
    pub fn linkinv(&self, eta: f64) -> f64 {
        self.link.inverse(eta)
    }

    /// d mu / d eta.
    pub fn mu_eta(&self, eta: f64) -> f64 {
        self.link.mu_eta(eta)
    }

    /// d mu / d eta at eta where mu = linkinv(eta) is already known: the
    /// logit's derivative is mu (1 - mu), the log link's is mu itself, which
    /// saves the exponential of [`Family::mu_eta`] (same guards).
    #[inline]
    pub fn mu_eta_at(&self, eta: f64, mu: f64) -> f64 {
        match self.link {
            Link::Logit if eta.abs() <= LOGIT_THRESH => (mu * (1.0 - mu)).max(EPS),
            Link::Log => mu,
            _ => self.mu_eta(eta),
        }
    }

    #[inline]
    pub fn variance(&self, mu: f64) -> f64 {
        match self.dist {
            Distribution::Binomial => mu * (1.0 - mu),
            Distribution::Poisson => mu,
            Distribution::Gamma => mu * mu,
            Distribution::InverseGaussian => mu * mu * mu,
            Distribution::NegativeBinomial { theta } => mu + mu * mu / theta,
        }
    }

    /// Is mu inside the family's range?
    #[inline]
    pub fn valid_mu(&self, mu: f64) -> bool {
        mu.is_finite()
            && match self.dist {
                Distribution::Binomial => mu > 0.0 && mu < 1.0,
                _ => mu > 0.0,
            }
    }

    /// Is eta inside the link's range?
    #[inline]
    pub fn valid_eta(&self, eta: f64) -> bool {
        eta.is_finite()
            && match self.link {
                Link::Inverse => eta != 0.0,
                Link::InverseSquare => eta > 0.0,
                _ => true,
            }
    }

    /// Unit deviance residual (squared) of one observation with prior weight `wt`.
    #[inline]
    pub fn dev_resid(&self, y: f64, mu: f64, wt: f64) -> f64 {
        match self.dist {
            Distribution::Binomial => 2.0 * wt * (y_log_y(y, mu) + y_log_y(1.0 - y, 1.0 - mu)),
            Distribution::Poisson => 2.0 * wt * (if y > 0.0 { y * (y / mu).ln() } else { 0.0 } - (y - mu)),
            Distribution::Gamma => -2.0 * wt * (if y > 0.0 { (y / mu).ln() } else { 0.0 } - (y - mu) / mu),
            Distribution::InverseGaussian => wt * (y - mu) * (y - mu) / (y * mu * mu),
            Distribution::NegativeBinomial { theta } => {
                2.0 * wt * (y_log_y(y, mu) - (y + theta) * ((y + theta) / (mu + theta)).ln())
            }
        }
    }

    /// R's `family$aic` (-2 log-likelihood, plus 2 for an estimated dispersion):
    /// `n` holds binomial trials, `dev` the total deviance.
    pub fn aic(&self, y: &[f64], n: &[f64], mu: &[f64], wt: &[f64], dev: f64) -> f64 {
        match self.dist {
            Distribution::Binomial => {
                let use_n = n.iter().any(|v| *v > 1.0);
                let mut ans = 0.0;
                for i in 0..y.len() {
                    let m = if use_n { n[i] } else { wt[i] };
                    let mr = m.round();
                    if m > 0.0 {
                        ans += wt[i] / m * ln_dbinom((m * y[i]).round(), mr, mu[i]);
                    }
                }
                -2.0 * ans
            }
            Distribution::Poisson => -2.0 * (0..y.len()).map(|i| wt[i] * ln_dpois(y[i], mu[i])).sum::<f64>(),
            Distribution::Gamma => {
                let nn: f64 = wt.iter().sum();
                let disp = dev / nn;
                let shape = 1.0 / disp;
                let ll: f64 = (0..y.len()).map(|i| wt[i] * ln_dgamma(y[i], shape, mu[i] * disp)).sum();
                -2.0 * ll + 2.0
            }
            Distribution::InverseGaussian => {
                let wtsum: f64 = wt.iter().sum();
                let ly: f64 = (0..y.len()).map(|i| y[i].ln() * wt[i]).sum();
                wtsum * ((dev / wtsum * 2.0 * std::f64::consts::PI).ln() + 1.0) + 3.0 * ly + 2.0
            }
            // MASS's negative.binomial()$aic: -2 sum wt log dnbinom(y, theta, mu).
            // (lme4's C++ copy weights only the first term; the same without weights.)
            Distribution::NegativeBinomial { theta } => {
                2.0 * (0..y.len()).map(|i| -wt[i] * ln_dnbinom(y[i], theta, mu[i])).sum::<f64>()
            }
        }
    }

    /// `aic(mu) - deviance(mu)` when it does not depend on mu, so that the
    /// Laplace deviance can reuse PIRLS's deviance instead of a second pass of
    /// logs: the binomial with whole successes and trials, the Poisson with
    /// whole counts (R rounds both, and then the log densities split into a
    /// term of the data alone and the deviance's term). With k = m y successes
    /// of m trials and prior weight factor wt/m,
    ///   aic - dev = sum -2 (wt/m) lchoose(m, k) - 2 wt (y log y + (1-y) log(1-y))   (binomial)
    ///   aic - dev = sum 2 wt (lgamma(y + 1) - y log y + y)                          (Poisson)
    /// with 0 log 0 = 0; for the negative binomial (any y)
    ///   aic - dev = sum 2 wt (lgamma(y + 1) + lgamma(theta) - lgamma(theta + y)
    ///                         - theta log theta - y log y + (y + theta) log(y + theta)).
    /// None for other families or fractional data.
    pub fn aic_minus_deviance(&self, y: &[f64], n: &[f64], wt: &[f64]) -> Option<f64> {
        let whole = |v: f64| v.fract() == 0.0;
        let xlogx = |v: f64| if v > 0.0 { v * v.ln() } else { 0.0 };
        match self.dist {
            Distribution::Binomial => {
                let use_n = n.iter().any(|v| *v > 1.0);
                let mut c = 0.0;
                for i in 0..y.len() {
                    let m = if use_n { n[i] } else { wt[i] };
                    if m <= 0.0 {
                        continue;
                    }
                    let k = m * y[i];
                    if !(whole(m) && whole(k)) {
                        return None;
                    }
                    c += -2.0 * wt[i] / m * ln_choose(m, k) - 2.0 * wt[i] * (xlogx(y[i]) + xlogx(1.0 - y[i]));
                }
                Some(c)
            }
            Distribution::Poisson => {
                if !y.iter().all(|v| whole(*v)) {
                    return None;
                }
                Some((0..y.len()).map(|i| 2.0 * wt[i] * (ln_gamma(y[i] + 1.0) - xlogx(y[i]) + y[i])).sum())
            }
            Distribution::NegativeBinomial { theta } => Some(
                (0..y.len())
                    .map(|i| {
                        let (yi, t) = (y[i], theta);
                        2.0 * wt[i]
                            * (ln_gamma(yi + 1.0) + ln_gamma(t) - ln_gamma(t + yi) - t * t.ln() - xlogx(yi)
                                + (yi + t) * (yi + t).ln())
                    })
                    .sum(),
            ),
            Distribution::Gamma | Distribution::InverseGaussian => None,
        }
    }

    /// R's `mustart` from the family's `initialize`.
    pub fn mustart(&self, y: f64, wt: f64) -> f64 {
        match self.dist {
            Distribution::Binomial => (wt * y + 0.5) / (wt + 1.0),
            Distribution::Poisson => y + 0.1,
            Distribution::Gamma | Distribution::InverseGaussian => y,
            Distribution::NegativeBinomial { .. } => y + if y == 0.0 { 1.0 / 6.0 } else { 0.0 },
        }
    }
}

/// R's `format(round(x, 4))`: four decimals at most, then seven significant
/// digits, without trailing zeros (3.303394 -> "3.3034", 2 -> "2").
fn r_format_round4(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return format!("{x}");
    }
    let rounded = (x * 1e4).round() / 1e4;
    let magnitude = rounded.abs().log10().floor() as i32;
    let scale = 10f64.powi(6 - magnitude);
    format!("{}", (rounded * scale).round() / scale)
}

/// log dnbinom(y; size = theta, mu): lgamma(theta + y) - lgamma(theta) -
/// lgamma(y + 1) + theta log(theta / (theta + mu)) + y log(mu / (theta + mu)).
fn ln_dnbinom(y: f64, theta: f64, mu: f64) -> f64 {
    let mut v = ln_gamma(theta + y) - ln_gamma(theta) - ln_gamma(y + 1.0) + theta * (theta / (theta + mu)).ln();
    if y > 0.0 {
        v += y * (mu / (theta + mu)).ln();
    }
    v
}

fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("the standard normal")
}

/// y log(y / mu), 0 when y = 0.
#[inline]
fn y_log_y(y: f64, mu: f64) -> f64 {
    if y > 0.0 {
        y * (y / mu).ln()
    } else {
        0.0
    }
}

fn ln_choose(n: f64, k: f64) -> f64 {
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

fn ln_dbinom(x: f64, n: f64, p: f64) -> f64 {
    let mut v = ln_choose(n, x);
    if x > 0.0 {
        v += x * p.ln();
    }
    if n - x > 0.0 {
        v += (n - x) * (-p).ln_1p();
    }
    v
}

fn ln_dpois(x: f64, lambda: f64) -> f64 {
    if x == 0.0 {
        return -lambda;
    }
    x * lambda.ln() - lambda - ln_gamma(x + 1.0)
}

/// Log density of the Gamma with shape a and scale s at x.
fn ln_dgamma(x: f64, a: f64, s: f64) -> f64 {
    (a - 1.0) * x.ln() - x / s - ln_gamma(a) - a * s.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_invert_and_differentiate() {
        for (fam, link) in [
            ("binomial", "logit"),
            ("binomial", "probit"),
            ("binomial", "cloglog"),
            ("poisson", "log"),
            ("Gamma", "inverse"),
            ("Gamma", "log"),
            ("inverse.gaussian", "1/mu^2"),
        ] {
            let f = Family::parse(fam, Some(link)).unwrap();
            for mu in [0.2, 0.5, 0.7] {
                let eta = f.linkfun(mu);
                assert!((f.linkinv(eta) - mu).abs() < 1e-9, "{fam} {link}");
                let h = 1e-6;
                let num = (f.linkinv(eta + h) - f.linkinv(eta - h)) / (2.0 * h);
                assert!((num - f.mu_eta(eta)).abs() < 1e-7, "{fam} {link} mu_eta");
                assert!((f.mu_eta_at(eta, mu) - f.mu_eta(eta)).abs() < 1e-15, "{fam} {link} mu_eta_at");
            }
        }
        let e = Family::parse("poisson", Some("logit")).unwrap_err().to_string();
        assert!(e.contains("does not take the 'logit' link"), "{e}");
        assert_eq!(Family::parse("inverse.gaussian", None).unwrap().link.name(), "1/mu^2");
    }

    #[test]
    fn binomial_and_poisson_likelihoods_match_r() {
        // R: dbinom(3, 10, 0.25, log = TRUE), dpois(2, 1.5, log = TRUE), dgamma(2, shape = 3, scale = 0.5, log = TRUE)
        assert!((ln_dbinom(3.0, 10.0, 0.25) + 1.385_165_847_740_09).abs() < 1e-10);
        assert!((ln_dpois(2.0, 1.5) + 1.382_216_964_343_62).abs() < 1e-10);
        assert!((ln_dgamma(2.0, 3.0, 0.5) + 1.227_411_277_760_22).abs() < 1e-10);
    }

    fn total_deviance(f: &Family, y: &[f64], mu: &[f64], wt: &[f64]) -> f64 {
        (0..y.len()).map(|i| f.dev_resid(y[i], mu[i], wt[i])).sum()
    }

    #[test]
    fn aic_is_deviance_plus_a_constant_for_whole_counts() {
        let mus: [&[f64]; 2] = [&[0.2, 0.5, 0.9, 0.3], &[0.7, 0.1, 0.4, 0.6]];
        // Binomial: 0/1 data; proportions of 4 trials; and a proportion with weights as trials.
        let bin = Family::parse("binomial", None).unwrap();
        let cases: [(&[f64], &[f64], &[f64]); 3] = [
            (&[0.0, 1.0, 1.0, 0.0], &[1.0; 4], &[1.0; 4]),
            (&[0.25, 0.5, 1.0, 0.0], &[4.0; 4], &[4.0; 4]),
            (&[0.5, 0.0, 1.0, 1.0 / 3.0], &[1.0; 4], &[2.0, 1.0, 5.0, 3.0]),
        ];
        for (y, n, wt) in cases {
            let c = bin.aic_minus_deviance(y, n, wt).expect("whole counts");
            for mu in mus {
                let dev = total_deviance(&bin, y, mu, wt);
                assert!((bin.aic(y, n, mu, wt, dev) - (dev + c)).abs() < 1e-12);
            }
        }
        let pois = Family::parse("poisson", None).unwrap();
        let (y, wt) = ([0.0, 3.0, 1.0, 7.0], [1.0, 2.0, 1.0, 0.5]);
        let c = pois.aic_minus_deviance(&y, &[1.0; 4], &wt).unwrap();
        for mu in [[0.5, 2.0, 1.5, 6.0], [1.0, 4.0, 0.3, 9.0]] {
            let dev = total_deviance(&pois, &y, &mu, &wt);
            assert!((pois.aic(&y, &[1.0; 4], &mu, &wt, dev) - (dev + c)).abs() < 1e-12);
        }
        // Fractional data (R rounds them): no constant.
        assert!(bin.aic_minus_deviance(&[0.3, 1.0], &[1.0; 2], &[1.0; 2]).is_none());
        assert!(pois.aic_minus_deviance(&[0.5, 1.0], &[1.0; 2], &[1.0; 2]).is_none());
        assert!(Family::parse("Gamma", None).unwrap().aic_minus_deviance(&[1.0], &[1.0], &[1.0]).is_none());
    }
}
