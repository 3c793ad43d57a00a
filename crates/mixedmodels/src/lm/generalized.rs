//! `Glm`: a generalized linear model (logistic regression and the other
//! families of R's `glm`), fitted by IRLS ([`super::glm`]).

use super::frame::LmFrame;
use super::glm::{fit_glm, glm_at, GlmFit};
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

/// How the coefficients are found: IRLS, or a saved fit's taken as they are.
type Solve<'a> = Box<dyn FnOnce(&[f64], usize, usize, &GlmmResponse, bool) -> Result<GlmFit> + 'a>;

impl Glm {
    pub fn fit(formula: &str, data: &DataFrame, options: &GlmOptions) -> Result<Glm> {
        Glm::build(formula, data, options, Box::new(fit_glm))
    }

    /// The fit that ended at `beta` (with the linear predictor of its last
    /// step's working weights, its iteration count and convergence), rebuilt
    /// without iterating: a saved model loaded again ([`glm_at`]).
    pub fn at_estimates(
        formula: &str,
        data: &DataFrame,
        options: &GlmOptions,
        beta: Vec<f64>,
        eta_weights: Vec<f64>,
        iterations: usize,
        converged: bool,
    ) -> Result<Glm> {
        let solve: Solve = Box::new(move |x, n, p, response, intercept| {
            glm_at(x, n, p, response, intercept, beta, eta_weights, iterations, converged)
        });
        Glm::build(formula, data, options, solve)
    }

    fn build(formula: &str, data: &DataFrame, options: &GlmOptions, solve: Solve) -> Result<Glm> {
        let family = Family::parse(&options.family, options.link.as_deref())?;
        let frame =
            LmFrame::new(formula, data, &options.contrasts, options.weights.as_deref(), WeightRule::NonNegative, &[])?;
        let weights = frame.weights.clone();
        let offset = frame.spec.offset(&frame.data)?;
        let lhs =
            frame.spec.formula.response.clone().ok_or_else(|| Error::Data("the formula has no response".into()))?;
        let response = glmm_response(family, &lhs, &frame.data, weights, offset)?;
        let (n, p) = (frame.x.nrows, frame.x.ncols());
        let fit = solve(&frame.x.values, n, p, &response, frame.intercept())?;
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

    #[test]
    fn a_fit_rebuilt_at_its_estimates_is_the_fit() {
        let n = 40;
        let x: Vec<f64> = (0..n).map(|i| i as f64 / 10.0).collect();
        let y: Vec<f64> = (0..n).map(|i| ((i * 7) % 10 < 2 + i / 6) as u8 as f64).collect();
        let data = DataFrame::new().with_numeric("x", x).unwrap().with_numeric("y", y).unwrap();
        let options = GlmOptions::default();
        let a = Glm::fit("y ~ x", &data, &options).unwrap();
        let f = &a.fit;
        let (beta, eta_w) = (f.beta.clone(), f.eta_weights.clone());
        let b = Glm::at_estimates("y ~ x", &data, &options, beta, eta_w, f.iterations, f.converged).unwrap();
        assert_eq!((&a.fit.beta, &a.fit.vcov, &a.fit.mu, &a.se), (&b.fit.beta, &b.fit.vcov, &b.fit.mu, &b.se));
        assert_eq!((a.fit.loglik, a.fit.deviance, a.fit.iterations), (b.fit.loglik, b.fit.deviance, b.fit.iterations));
        let short = Glm::at_estimates("y ~ x", &data, &options, vec![0.0], vec![0.0; n], 3, true);
        assert!(short.err().unwrap().to_string().contains("1 coefficients"));
    }
}
