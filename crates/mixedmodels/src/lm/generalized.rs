//! `Glm`: a generalized linear model (logistic regression and the other
//! families of R's `glm`), fitted by IRLS ([`super::glm`]).

use super::frame::LmFrame;
use super::glm::{fit_glm, GlmFit};
use crate::data::DataFrame;
use crate::data::FitRows;
use crate::design::{Contrasts, DesignSpec, WeightRule};
use crate::error::{Error, Result};
use crate::glmm::family::Family;
use crate::glmm::response::glmm_response;
use crate::glmm::GlmmResponse;
use crate::residuals::{self, ResidualKind};

#[derive(Debug, Clone)]
pub struct GlmOptions {
    /// R's family name ("binomial", "poisson", "Gamma", "inverse.gaussian").
    pub family: String,
    pub link: Option<String>,
    pub contrasts: Vec<(String, Contrasts)>,
    /// A numeric column of prior weights (for the binomial: trials of a proportion).
    pub weights: Option<String>,
}

impl Default for GlmOptions {
    fn default() -> Self {
        GlmOptions { family: "binomial".into(), link: None, contrasts: vec![], weights: None }
    }
}

/// A fitted generalized linear model.
pub struct Glm {
    pub spec: DesignSpec,
    pub family: Family,
    pub fixed_names: Vec<String>,
    /// Term of each coefficient (0 = intercept), as R's `assign`.
    pub assign: Vec<usize>,
    /// The design matrix (n x p, column-major).
    pub x: Vec<f64>,
    pub nobs: usize,
    pub fit: GlmFit,
    pub se: Vec<f64>,
    /// The response as the family reads it (a 0/1 or proportion for the
    /// binomial), with its prior weights (times the trials) and offsets.
    pub response: GlmmResponse,
    /// The rows of the data the fit used.
    pub rows: FitRows,
    pub warnings: Vec<String>,
}

impl Glm {
    pub fn fit(formula: &str, data: &DataFrame, options: &GlmOptions) -> Result<Glm> {
        let family = Family::parse(&options.family, options.link.as_deref())?;
        let frame =
            LmFrame::new(formula, data, &options.contrasts, options.weights.as_deref(), WeightRule::NonNegative, &[])?;
        let weights = frame.weights.clone();
        let offset = frame.spec.offset(&frame.data)?;
        let lhs =
            frame.spec.formula.response.clone().ok_or_else(|| Error::Data("the formula has no response".into()))?;
        let response = glmm_response(family, &lhs, &frame.data, weights, offset)?;
        let (n, p) = (frame.x.nrows, frame.x.ncols());
        let fit = fit_glm(&frame.x.values, n, p, &response, frame.intercept())?;
        let se = (0..p).map(|j| fit.vcov[j * p + j].sqrt()).collect();
        let mut warnings = frame.warnings();
        warnings.extend(fit.warnings.iter().cloned());
        Ok(Glm {
            fixed_names: frame.x.names.clone(),
            assign: frame.x.assign.clone(),
            spec: frame.spec,
            family,
            nobs: n,
            fit,
            se,
            response,
            x: frame.x.values,
            rows: frame.rows,
            warnings,
        })
    }

    /// The linear predictor X beta (+ offsets) for new data.
    pub fn predict_link(&self, data: &DataFrame) -> Result<Vec<f64>> {
        self.spec.linear_predictor(data, &self.fit.beta, &[], false)
    }

    /// Residuals by kind (`residuals.glm`).
    pub fn residuals(&self, kind: ResidualKind) -> Vec<f64> {
        residuals::generalized(kind, &self.response, &self.fit.mu, &self.fit.eta)
    }

    /// Predictions on the response scale (probabilities for the binomial).
    pub fn predict_response(&self, data: &DataFrame) -> Result<Vec<f64>> {
        Ok(self.predict_link(data)?.into_iter().map(|e| self.family.linkinv(e)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_factor_response_counts_its_second_level_as_success() {
        let n = 30;
        let x: Vec<f64> = (0..n).map(|i| i as f64 / 10.0).collect();
        let labels: Vec<&str> = (0..n).map(|i| if (i * 7) % 10 < 2 + i / 6 { "yes" } else { "no" }).collect();
        let ones: Vec<f64> = labels.iter().map(|l| if *l == "yes" { 1.0 } else { 0.0 }).collect();
        let data = DataFrame::new()
            .with_numeric("x", x)
            .unwrap()
            .with_labels("answer", &labels)
            .unwrap()
            .with_numeric("y", ones)
            .unwrap();
        let a = Glm::fit("answer ~ x", &data, &GlmOptions::default()).unwrap();
        let b = Glm::fit("y ~ x", &data, &GlmOptions::default()).unwrap();
        assert!(a.fit.beta.iter().zip(&b.fit.beta).all(|(u, v)| (u - v).abs() < 1e-12));
        let probs = a.predict_response(&data).unwrap();
        assert!(probs.iter().zip(&a.fit.mu).all(|(u, v)| (u - v).abs() < 1e-12));
    }
}
