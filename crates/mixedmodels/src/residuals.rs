//! Residuals of a fitted model by kind, as lme4's `residuals.merMod`
//! (`residuals.lmResp`, `residuals.glmResp`) defines them.

use crate::error::{Error, Result};
use crate::glmm::GlmmResponse;

/// The kinds of residual lme4 computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResidualKind {
    /// y - mu.
    Response,
    /// (y - mu) sqrt(w / V(mu)): lme4's `wtres`.
    Pearson,
    /// sign(y - mu) sqrt(unit deviance); for a linear model the Pearson residual.
    Deviance,
    /// (y - mu) / (d mu / d eta); for a linear model y - mu.
    Working,
}

impl ResidualKind {
    /// The kind by lme4's name (`"deviance"`, `"pearson"`, `"response"`, `"working"`).
    pub fn parse(name: &str) -> Result<ResidualKind> {
        match name {
            "response" => Ok(ResidualKind::Response),
            "pearson" => Ok(ResidualKind::Pearson),
            "deviance" => Ok(ResidualKind::Deviance),
            "working" => Ok(ResidualKind::Working),
            other => Err(Error::Argument(format!(
                "unknown residual type '{other}' (use deviance, pearson, response or working)"
            ))),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ResidualKind::Response => "response",
            ResidualKind::Pearson => "pearson",
            ResidualKind::Deviance => "deviance",
            ResidualKind::Working => "working",
        }
    }
}

/// A linear mixed model's residuals from `y - mu` and the prior weights
/// (`residuals.lmResp`): response and working residuals are `y - mu`, Pearson
/// and deviance residuals `sqrt(w) (y - mu)`.
pub fn linear(kind: ResidualKind, response: &[f64], weights: Option<&[f64]>) -> Vec<f64> {
    match (kind, weights) {
        (ResidualKind::Pearson | ResidualKind::Deviance, Some(w)) => {
            response.iter().zip(w).map(|(r, w)| r * w.sqrt()).collect()
        }
        _ => response.to_vec(),
    }
}

/// A generalized model's residuals at the fitted means `mu` and linear
/// predictor `eta` (`residuals.glmResp`).
pub fn generalized(kind: ResidualKind, resp: &GlmmResponse, mu: &[f64], eta: &[f64]) -> Vec<f64> {
    let fam = resp.family;
    (0..resp.n())
        .map(|i| {
            let (y, w) = (resp.y[i], resp.weights[i]);
            match kind {
                // max(0, .): slightly negative unit deviances (lme4, GH 812)
                ResidualKind::Deviance => (y - mu[i]).signum() * fam.dev_resid(y, mu[i], w).max(0.0).sqrt(),
                ResidualKind::Pearson => (y - mu[i]) * (w / fam.variance(mu[i])).sqrt(),
                ResidualKind::Response => y - mu[i],
                ResidualKind::Working => (y - mu[i]) / fam.mu_eta(eta[i]),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_lme4_name() {
        for kind in [ResidualKind::Response, ResidualKind::Pearson, ResidualKind::Deviance, ResidualKind::Working] {
            assert_eq!(ResidualKind::parse(kind.name()).unwrap(), kind);
        }
        let e = ResidualKind::parse("studentized").unwrap_err().to_string();
        assert!(e.contains("unknown residual type 'studentized'"), "{e}");
    }

    #[test]
    fn linear_pearson_residuals_carry_the_weights() {
        let r = [1.0, -2.0];
        assert_eq!(linear(ResidualKind::Pearson, &r, Some(&[4.0, 0.25])), [2.0, -1.0]);
        assert_eq!(linear(ResidualKind::Deviance, &r, Some(&[4.0, 0.25])), [2.0, -1.0]);
        assert_eq!(linear(ResidualKind::Response, &r, Some(&[4.0, 0.25])), r);
        assert_eq!(linear(ResidualKind::Pearson, &r, None), r);
    }
}
