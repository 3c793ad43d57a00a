//! Cross-validation: the model refitted without each fold, and the fold's
//! rows predicted from the refit.
//!
//! - Group folds: whole levels of a grouping factor held out (one level a
//!   fold, or k folds of shuffled levels). Their random effects are unknown
//!   to the refit, so they are predicted at the population level, X beta +
//!   offset (R's `predict(re.form = NA)`).
//! - Observation folds: k folds of shuffled rows, predicted with the
//!   random effects the refit estimated for their levels (zero for a level
//!   the training rows do not contain).
//!
//! Linear mixed models refit on the downdated cross-products
//! (`deletion`), warm-started at the full fit's theta; generalized models
//! refit on their rows (PIRLS revisits every row). Folds run in parallel,
//! each independent of the others, and a seed fixes the shuffles, so the
//! results do not depend on the number of threads.

use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::deletion::{self, warm_settings, DeletionSystem};
use crate::error::{Error, Result};
use crate::glmer::Glmer;
use crate::glmm::family::{Distribution, Family};
use crate::lmer::Lmer;
use crate::resample::replicate_rng;

/// How held-out rows are predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// X beta + offset: the held-out rows' groups are new.
    Population,
    /// X beta + Z b + offset, b the refit's effects of the rows' levels.
    Conditional,
}

/// One fold's refit and predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldResult {
    /// The held-out rows (indices into the fit's rows).
    pub rows: Vec<usize>,
    /// Their predictions (on the response scale), NaN if the refit failed.
    pub predictions: Vec<f64>,
    pub converged: bool,
}

/// Each fold's levels (of the grouping factor) and rows.
pub type GroupFolds = (Vec<Vec<usize>>, Vec<Vec<usize>>);

/// Folds of whole levels: one level a fold (`k` None) or `k` folds of the
/// levels shuffled by `seed` (level i of the shuffle in fold i mod k).
/// Levels without rows are left out.
pub fn group_folds(codes: &[u32], levels: usize, k: Option<usize>, seed: u64) -> Result<GroupFolds> {
    let by_level = super::rows::rows_by_level(codes, levels);
    let mut present: Vec<usize> = (0..levels).filter(|&l| !by_level[l].is_empty()).collect();
    let fold_levels: Vec<Vec<usize>> = match k {
        None => present.iter().map(|&l| vec![l]).collect(),
        Some(k) => {
            if k < 2 || k > present.len() {
                return Err(Error::Argument(format!(
                    "folds must be between 2 and the number of groups ({}), not {k}",
                    present.len()
                )));
            }
            present.shuffle(&mut replicate_rng(seed, 0));
            let mut folds = vec![Vec::new(); k];
            for (i, l) in present.into_iter().enumerate() {
                folds[i % k].push(l);
            }
            folds.iter_mut().for_each(|f| f.sort_unstable());
            folds
        }
    };
    let fold_rows = fold_levels
        .iter()
        .map(|ls| {
            let mut rows: Vec<usize> = ls.iter().flat_map(|&l| by_level[l].iter().copied()).collect();
            rows.sort_unstable();
            rows
        })
        .collect();
    Ok((fold_levels, fold_rows))
}

/// `k` folds of the `n` rows shuffled by `seed` (row i of the shuffle in fold i mod k).
pub fn row_folds(n: usize, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    if k < 2 || k > n {
        return Err(Error::Argument(format!("folds must be between 2 and the number of rows ({n}), not {k}")));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut replicate_rng(seed, 0));
    let mut folds = vec![Vec::new(); k];
    for (i, r) in order.into_iter().enumerate() {
        folds[i % k].push(r);
    }
    folds.iter_mut().for_each(|f| f.sort_unstable());
    Ok(folds)
}

/// Cross-validate a linear mixed model: refit without each fold (REML when
/// `reml`, else ML), predict the fold's rows.
pub fn lmm(m: &Lmer, folds: &[Vec<usize>], prediction: Prediction, reml: bool) -> Result<Vec<FoldResult>> {
    check_folds(folds, m.fit.n)?;
    let mut model = super::fitted_model(m);
    model.reml = reml;
    let system = DeletionSystem::new(&model);
    let settings = warm_settings(m.options.fit.optimizer);
    let (n, p) = (model.n(), model.p());
    let offset = |i: usize| m.offset.as_ref().map_or(0.0, |o| o[i]);
    let results = system
        .par_map(folds, |work| deletion::refit(work, &m.fit.theta, settings).map(|r| (r.beta, r.ranef, r.converged)));
    Ok(folds
        .iter()
        .zip(results)
        .map(|(rows, refit)| match refit {
            Some((beta, ranef, converged)) => {
                let predictions = rows
                    .iter()
                    .map(|&i| {
                        let fixed: f64 = (0..p).map(|c| model.x[c * n + i] * beta[c]).sum();
                        let random = match prediction {
                            Prediction::Population => 0.0,
                            Prediction::Conditional => random_part(&model.terms, &ranef, i),
                        };
                        fixed + random + offset(i)
                    })
                    .collect();
                FoldResult { rows: rows.clone(), predictions, converged }
            }
            None => FoldResult { rows: rows.clone(), predictions: vec![f64::NAN; rows.len()], converged: false },
        })
        .collect())
}

/// z_i' b[level of i], summed over terms.
fn random_part(terms: &[crate::design::ReTerm], ranef: &[Vec<f64>], i: usize) -> f64 {
    terms
        .iter()
        .zip(ranef)
        .map(|(t, b)| {
            let (q, j) = (t.q(), t.refs[i] as usize);
            t.z_row(i).iter().zip(&b[j * q..(j + 1) * q]).map(|(z, v)| z * v).sum::<f64>()
        })
        .sum()
}

/// Cross-validate a generalized model: refit on the other rows (without
/// standard errors), predict the fold's means.
pub fn glmm(g: &Glmer, folds: &[Vec<usize>], prediction: Prediction) -> Result<Vec<FoldResult>> {
    let r = &g.pirls.resp;
    let n = r.n();
    check_folds(folds, n)?;
    let p = g.pirls.p;
    let family = g.fit.family;
    Ok(folds
        .par_iter()
        .map(|rows| {
            let keep = complement(rows, n);
            match g.refit_rows(&keep, false) {
                Ok(fit) => {
                    let predictions = rows
                        .iter()
                        .map(|&i| {
                            let fixed: f64 = (0..p).map(|c| g.pirls.x[c * n + i] * fit.beta[c]).sum();
                            let random = match prediction {
                                Prediction::Population => 0.0,
                                Prediction::Conditional => random_part(&g.pirls.joint.terms, &fit.ranef, i),
                            };
                            family.linkinv(fixed + random + r.offset[i])
                        })
                        .collect();
                    let converged = fit.stage1.converged && fit.stage2.converged;
                    FoldResult { rows: rows.clone(), predictions, converged }
                }
                Err(_) => FoldResult { rows: rows.clone(), predictions: vec![f64::NAN; rows.len()], converged: false },
            }
        })
        .collect())
}

/// The rows of 0..n not in `rows` (sorted).
pub fn complement(rows: &[usize], n: usize) -> Vec<usize> {
    let mut out = vec![true; n];
    for &i in rows {
        out[i] = false;
    }
    (0..n).filter(|&i| out[i]).collect()
}

fn check_folds(folds: &[Vec<usize>], n: usize) -> Result<()> {
    for f in folds {
        if f.is_empty() || f.len() >= n || f.iter().any(|&i| i >= n) {
            return Err(Error::Argument(format!("a fold must hold some but not all of the {n} rows")));
        }
    }
    Ok(())
}

/// A built-in score of predictions `yhat` of `y` (with prior weights `w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    /// sqrt(sum (y - yhat)^2 / n).
    Rmse,
    /// sum |y - yhat| / n.
    Mae,
    /// 1 - sum (y - yhat)^2 / sum (y - mean(y))^2.
    R2,
    /// The family's mean deviance: sum of deviance residuals / n.
    Deviance,
    /// Binomial: - sum w (y log p + (1 - y) log(1 - p)) / sum w.
    LogLoss,
    /// Binomial: sum w (y - p)^2 / sum w.
    Brier,
}

impl Score {
    pub fn parse(name: &str) -> Result<Score> {
        Ok(match name {
            "rmse" => Score::Rmse,
            "mae" => Score::Mae,
            "r2" => Score::R2,
            "deviance" => Score::Deviance,
            "log_loss" => Score::LogLoss,
            "brier" => Score::Brier,
            _ => {
                return Err(Error::Argument(format!(
                "unknown score '{name}' (rmse, mae, r2, deviance, log_loss, brier, or a function (y, yhat) -> float)"
            )))
            }
        })
    }

    /// The score's name, as `parse` reads it.
    pub fn name(self) -> &'static str {
        match self {
            Score::Rmse => "rmse",
            Score::Mae => "mae",
            Score::R2 => "r2",
            Score::Deviance => "deviance",
            Score::LogLoss => "log_loss",
            Score::Brier => "brier",
        }
    }

    /// The score, `family` None for a linear mixed model.
    pub fn compute(self, y: &[f64], yhat: &[f64], w: &[f64], family: Option<Family>) -> Result<f64> {
        let n = y.len() as f64;
        let binomial = || match family {
            Some(f) if f.dist == Distribution::Binomial => Ok(()),
            _ => Err(Error::Argument(format!("the {} score is defined for binomial models", self.name()))),
        };
        let weighted_mean = |f: &dyn Fn(f64, f64) -> f64| {
            let total: f64 = w.iter().sum();
            y.iter().zip(yhat).zip(w).map(|((a, b), wi)| wi * f(*a, *b)).sum::<f64>() / total
        };
        Ok(match self {
            Score::Rmse => (y.iter().zip(yhat).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n).sqrt(),
            Score::Mae => y.iter().zip(yhat).map(|(a, b)| (a - b).abs()).sum::<f64>() / n,
            Score::R2 => {
                let mean = y.iter().sum::<f64>() / n;
                let sse: f64 = y.iter().zip(yhat).map(|(a, b)| (a - b).powi(2)).sum();
                let sst: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
                1.0 - sse / sst
            }
            Score::Deviance => {
                let Some(f) = family else {
                    return Err(Error::Argument("the deviance score is for generalized models; use rmse".into()));
                };
                y.iter().zip(yhat).zip(w).map(|((a, b), wi)| f.dev_resid(*a, *b, *wi)).sum::<f64>() / n
            }
            Score::LogLoss => {
                binomial()?;
                weighted_mean(&|a, p| {
                    let p = p.clamp(1e-15, 1.0 - 1e-15);
                    -(a * p.ln() + (1.0 - a) * (1.0 - p).ln())
                })
            }
            Score::Brier => {
                binomial()?;
                weighted_mean(&|a, p| (a - p).powi(2))
            }
        })
    }
}
