//! `Lm`: a linear model fitted by ordinary or weighted least squares (R's
//! `lm`), with the classical or a sandwich covariance, permutation tests and
//! case-bootstrap intervals.

use super::correlations::{predictor_correlations, CorrelationKind};
use super::frame::LmFrame;
use super::ols::{LeastSquares, OlsSolution};
use super::resampling::{bootstrap_coefficients, percentile_intervals, permutation_pvalues, permuted_t};
use super::sandwich::{covariance, standard_errors, SeMethod};
use super::welch::group_variance_weights;
use crate::data::DataFrame;
use crate::data::FitRows;
use crate::design::{Contrasts, DesignSpec, WeightRule};
use crate::error::{Error, Result};
use crate::residuals::{self, ResidualKind};

/// Prior weights of a linear model.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum LmWeights {
    #[default]
    None,
    /// A numeric column of weights (each > 0).
    Column(String),
    /// 1 / var(response) within the groups of a column; with two groups and
    /// `welch_df` the t tests take the Welch-Satterthwaite df.
    GroupVariance { column: String, welch_df: bool },
}

/// The covariance estimator, with clusters named by a column.
#[derive(Debug, Clone, PartialEq)]
pub enum SeChoice {
    Method(SeMethod),
    ClusterBy(String),
}

impl Default for SeChoice {
    fn default() -> Self {
        SeChoice::Method(SeMethod::Classical)
    }
}

#[derive(Debug, Clone, Default)]
pub struct LmOptions {
    pub contrasts: Vec<(String, Contrasts)>,
    pub weights: LmWeights,
    pub se: SeChoice,
}

/// A fitted linear model.
pub struct Lm {
    pub spec: DesignSpec,
    pub fixed_names: Vec<String>,
    /// Term of each coefficient (0 = intercept), as R's `assign`.
    pub assign: Vec<usize>,
    pub intercept: bool,
    pub ls: LeastSquares,
    /// The response minus the offsets (what the least squares fit).
    pub y: Vec<f64>,
    pub offset: Option<Vec<f64>>,
    pub weights: Option<Vec<f64>>,
    /// The fit of `y`: its fitted values exclude the offsets.
    pub fit: OlsSolution,
    pub se_method: SeMethod,
    pub vcov: Vec<f64>,
    pub se: Vec<f64>,
    /// Degrees of freedom of the t tests (n - p, G - p with clusters, or Welch's).
    pub df: f64,
    /// Residual standard error sqrt(sum w e^2 / (n - p)).
    pub sigma: f64,
    pub loglik: f64,
    pub aic: f64,
    pub bic: f64,
    pub rsquared: f64,
    pub rsquared_adj: f64,
    /// The rows of the data the fit used.
    pub rows: FitRows,
    pub warnings: Vec<String>,
}

impl Lm {
    pub fn fit(formula: &str, data: &DataFrame, options: &LmOptions) -> Result<Lm> {
        let mut extra: Vec<&str> = Vec::new();
        let prior = match &options.weights {
            LmWeights::Column(c) => Some(c.as_str()),
            LmWeights::GroupVariance { column, .. } => {
                extra.push(column);
                None
            }
            LmWeights::None => None,
        };
        if let SeChoice::ClusterBy(c) = &options.se {
            extra.push(c);
        }
        let frame = LmFrame::new(formula, data, &options.contrasts, prior, WeightRule::Positive, &extra)?;
        let mut y = frame.spec.numeric_response(&frame.data)?;
        if let Some(o) = &frame.offset {
            y.iter_mut().zip(o).for_each(|(v, ov)| *v -= ov);
        }
        let mut warnings = frame.warnings();
        let (weights, welch_df) = match &options.weights {
            LmWeights::None | LmWeights::Column(_) => (frame.weights.clone(), None),
            LmWeights::GroupVariance { column, welch_df } => {
                let w = group_variance_weights(&y, &frame.factor(column)?, column)?;
                if *welch_df && w.welch_df.is_none() {
                    warnings.push(format!(
                        "the Welch-Satterthwaite df correction needs exactly 2 groups; '{column}' has {}: using n - p",
                        w.ngroups
                    ));
                }
                (Some(w.weights), w.welch_df.filter(|_| *welch_df))
            }
        };
        let se_method = match &options.se {
            SeChoice::Method(m) => m.clone(),
            SeChoice::ClusterBy(c) => {
                let f = frame.factor(c)?;
                if f.levels.len() < 2 {
                    return Err(Error::column(c, "cluster-robust errors need at least 2 clusters"));
                }
                SeMethod::Cluster { ngroups: f.levels.len(), codes: f.codes }
            }
        };
        let (n, p) = (frame.x.nrows, frame.x.ncols());
        let ls = LeastSquares::new(&frame.x.values, n, p, weights.as_deref());
        let fit = ls.solve(&y);
        let vcov = covariance(&ls, &fit, &se_method);
        let se = standard_errors(&vcov, p);
        let df = match (&se_method, welch_df) {
            (SeMethod::Cluster { .. }, _) | (_, None) => se_method.df(n, p),
            (_, Some(welch)) => welch,
        };
        let intercept = frame.intercept();
        let sigma = (fit.rss() / ls.df_residual()).sqrt();
        let (loglik, aic, bic) = likelihood(&fit, weights.as_deref(), p);
        let (rsquared, rsquared_adj) = weighted_rsquared(&y, &fit, weights.as_deref(), p, intercept);
        Ok(Lm {
            fixed_names: frame.x.names.clone(),
            assign: frame.x.assign.clone(),
            offset: frame.offset,
            spec: frame.spec,
            intercept,
            ls,
            y,
            weights,
            fit,
            se_method,
            vcov,
            se,
            df,
            sigma,
            loglik,
            aic,
            bic,
            rsquared,
            rsquared_adj,
            rows: frame.rows,
            warnings,
        })
    }

    /// The fitted values X beta + offset.
    pub fn fitted(&self) -> Vec<f64> {
        match &self.offset {
            Some(o) => self.fit.fitted.iter().zip(o).map(|(f, ov)| f + ov).collect(),
            None => self.fit.fitted.clone(),
        }
    }

    /// The response as given (offsets added back).
    pub fn response(&self) -> Vec<f64> {
        match &self.offset {
            Some(o) => self.y.iter().zip(o).map(|(v, ov)| v + ov).collect(),
            None => self.y.clone(),
        }
    }

    /// Residuals by kind (`residuals.lm`): response and working y - fitted,
    /// Pearson and deviance sqrt(w) (y - fitted).
    pub fn residuals(&self, kind: ResidualKind) -> Vec<f64> {
        residuals::linear(kind, &self.fit.residuals, self.weights.as_deref())
    }

    /// t statistics beta / se.
    pub fn t_values(&self) -> Vec<f64> {
        self.fit.beta.iter().zip(&self.se).map(|(b, s)| b / s).collect()
    }

    /// Permutation p-values of the t statistics: the response permuted over
    /// the rows `n_perm` times, each refit's t by the model's estimator.
    pub fn permutation_test(&self, n_perm: usize, seed: u64) -> Vec<f64> {
        let perms = permuted_t(&self.ls, &self.y, &self.se_method, n_perm, seed);
        permutation_pvalues(&self.t_values(), &perms)
    }

    /// Percentile intervals (2.5%, 97.5%) of the coefficients over `n_boot`
    /// case-bootstrap refits, one pair a coefficient, and the number of
    /// resamples skipped for a rank-deficient design.
    pub fn bootstrap_intervals(&self, n_boot: usize, seed: u64) -> (Vec<[f64; 2]>, usize) {
        let reps =
            bootstrap_coefficients(&self.ls.x, self.ls.n, self.ls.p, &self.y, self.weights.as_deref(), n_boot, seed);
        let skipped = reps.iter().filter(|r| r.is_none()).count();
        let ci = percentile_intervals(&reps, self.ls.p, &[0.025, 0.975]).into_iter().map(|v| [v[0], v[1]]).collect();
        (ci, skipped)
    }

    /// Semi-partial or partial correlations of each predictor with the response.
    pub fn correlations(&self, kind: CorrelationKind) -> Vec<f64> {
        let intercept = self.fixed_names.iter().position(|n| n == "(Intercept)");
        predictor_correlations(&self.ls.x, self.ls.n, self.ls.p, &self.y, intercept, kind)
    }

    /// X beta (+ offsets) for new data.
    pub fn predict(&self, data: &DataFrame) -> Result<Vec<f64>> {
        self.spec.linear_predictor(data, &self.fit.beta, &[], false)
    }
}

/// R's `logLik.lm`: 0.5 (sum log w - n (log(2 pi) + 1 - log n + log(sum w e^2))),
/// and AIC / BIC counting sigma as a parameter.
fn likelihood(fit: &OlsSolution, weights: Option<&[f64]>, p: usize) -> (f64, f64, f64) {
    let n = fit.residuals.len() as f64;
    let sum_log_w: f64 = weights.map_or(0.0, |w| w.iter().map(|v| v.ln()).sum());
    let loglik = 0.5 * (sum_log_w - n * ((2.0 * std::f64::consts::PI).ln() + 1.0 - n.ln() + fit.rss().ln()));
    let k = p as f64 + 1.0;
    (loglik, -2.0 * loglik + 2.0 * k, -2.0 * loglik + n.ln() * k)
}

/// R's `summary.lm` R^2 and adjusted R^2 (weighted: sums weighted, the
/// fitted values centred at their weighted mean).
fn weighted_rsquared(y: &[f64], fit: &OlsSolution, weights: Option<&[f64]>, p: usize, intercept: bool) -> (f64, f64) {
    let n = y.len();
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let f = &fit.fitted;
    let mss: f64 = if intercept {
        let sw: f64 = (0..n).map(w).sum();
        let m = (0..n).map(|i| w(i) * f[i]).sum::<f64>() / sw;
        (0..n).map(|i| w(i) * (f[i] - m).powi(2)).sum()
    } else {
        (0..n).map(|i| w(i) * f[i] * f[i]).sum()
    };
    let rss = fit.rss();
    let r2 = mss / (mss + rss);
    let df_int = if intercept { 1.0 } else { 0.0 };
    let rdf = n as f64 - p as f64;
    let adj = if rdf > 0.0 { 1.0 - (1.0 - r2) * (n as f64 - df_int) / rdf } else { f64::NAN };
    (r2, adj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> DataFrame<'static> {
        let n = 12;
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y: Vec<f64> = (0..n).map(|i| 3.0 + 0.5 * i as f64 + [0.3, -0.2, 0.1, -0.9, 0.5][i % 5]).collect();
        let g: Vec<&str> = (0..n).map(|i| if i % 2 == 0 { "a" } else { "b" }).collect();
        DataFrame::new().with_numeric("y", y).unwrap().with_numeric("x", x).unwrap().with_labels("g", &g).unwrap()
    }

    #[test]
    fn ols_summaries_hold_together() {
        let m = Lm::fit("y ~ x", &data(), &LmOptions::default()).unwrap();
        assert_eq!(m.fixed_names, ["(Intercept)", "x"]);
        assert_eq!(m.df, 10.0);
        assert!((m.fit.beta[1] - 0.5).abs() < 0.05);
        // R^2 = 1 - rss / tss.
        let mean = m.y.iter().sum::<f64>() / 12.0;
        let tss: f64 = m.y.iter().map(|v| (v - mean).powi(2)).sum();
        assert!((m.rsquared - (1.0 - m.fit.rss() / tss)).abs() < 1e-12);
        // AIC = -2 logLik + 2 (p + 1).
        assert!((m.aic - (-2.0 * m.loglik + 6.0)).abs() < 1e-12);
        let p = m.permutation_test(99, 3);
        assert!(p[1] <= 0.02, "{p:?}");
        let (ci, skipped) = m.bootstrap_intervals(200, 4);
        assert_eq!(skipped, 0);
        assert!(ci[1][0] < m.fit.beta[1] && m.fit.beta[1] < ci[1][1]);
        assert_eq!(m.predict(&data()).unwrap().len(), 12);
    }

    #[test]
    fn group_variance_weights_and_clusters() {
        let options = LmOptions {
            weights: LmWeights::GroupVariance { column: "g".into(), welch_df: true },
            ..LmOptions::default()
        };
        let m = Lm::fit("y ~ g", &data(), &options).unwrap();
        // Welch's df from the two groups' variances.
        let (a, b): (Vec<f64>, Vec<f64>) =
            (m.y.iter().step_by(2).copied().collect(), m.y.iter().skip(1).step_by(2).copied().collect());
        let var = |v: &[f64]| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64 / v.len() as f64
        };
        let (va, vb) = (var(&a), var(&b));
        assert!((m.df - (va + vb).powi(2) / (va * va / 5.0 + vb * vb / 5.0)).abs() < 1e-10, "{}", m.df);
        assert!(m.df < 10.0);
        let options = LmOptions { se: SeChoice::ClusterBy("g".into()), ..LmOptions::default() };
        let e = Lm::fit("y ~ x + g", &data(), &options).unwrap();
        // Two clusters and three coefficients: G - p = -1 df, as pymer4 counts.
        assert_eq!(e.df, -1.0);
        let e =
            Lm::fit("y ~ x", &data(), &LmOptions { se: SeChoice::ClusterBy("nope".into()), ..LmOptions::default() });
        assert!(e.err().unwrap().to_string().contains("nope"));
    }
}
