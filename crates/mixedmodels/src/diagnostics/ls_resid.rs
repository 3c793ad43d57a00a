//! Least-squares residuals (HLMdiag's `LSresids`): separate ordinary
//! least-squares fits in each group, free of the shrinkage of the mixed
//! model, so that they diagnose the fixed part within groups (level 1) and
//! the random effects' distribution (group level).
//!
//! - Level 1: in each level of the lowest grouping factor (the first term,
//!   the one with most levels), y on an intercept and the columns of X that
//!   vary in the group; residuals, fitted values, hat values, and R's
//!   `rstandard` (r / (s sqrt(1 - h)), s from the group's fit).
//! - Group level: in each level of a grouping factor, y on every column of X
//!   (lme4's `lmList`); the coefficients of the term's columns minus their
//!   mean over the groups (over the groups of the enclosing factor for an
//!   inner level of a nested model), or divided by their standard deviation
//!   too (`standard = TRUE` of `ranef.lmList`).
//!
//! Columns a group cannot estimate (fewer rows than columns, a factor level
//! absent) are dropped by a pivoted QR with R's tolerance, as `lm` does: their
//! coefficients are NaN. Prior weights are ignored, as HLMdiag ignores them.

use crate::model::LinearMixedModel;

/// R's `lm` tolerance for a column dependent on earlier ones (`qr(tol = 1e-7)`).
const QR_TOL: f64 = 1e-7;

/// A group's residual sum of squares below this share of its y'y is rounding.
const EXACT_FIT: f64 = 1e-26;

/// A least-squares fit on some columns of a group's rows.
struct GroupFit {
    /// Orthonormal basis of the kept columns (rows x rank, column-major).
    q: Vec<f64>,
    /// R of the kept columns (rank x rank, column-major, upper).
    r: Vec<f64>,
    /// Which of the candidate columns were kept.
    kept: Vec<usize>,
    rows: usize,
}

impl GroupFit {
    /// Modified Gram-Schmidt with one reorthogonalization, dropping columns
    /// whose norm falls below QR_TOL of their original norm (R's `dqrdc2`).
    fn new(columns: &[Vec<f64>]) -> GroupFit {
        let rows = columns.first().map_or(0, Vec::len);
        let mut q: Vec<f64> = Vec::new();
        let mut kept = Vec::new();
        let mut r_cols: Vec<Vec<f64>> = Vec::new();
        for (j, col) in columns.iter().enumerate() {
            let norm0 = col.iter().map(|v| v * v).sum::<f64>().sqrt();
            let mut v = col.clone();
            let mut coef = vec![0.0; kept.len()];
            for _ in 0..2 {
                for (k, c) in coef.iter_mut().enumerate() {
                    let basis = &q[k * rows..(k + 1) * rows];
                    let d: f64 = basis.iter().zip(&v).map(|(a, b)| a * b).sum();
                    *c += d;
                    v.iter_mut().zip(basis).for_each(|(x, b)| *x -= d * b);
                }
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm0 == 0.0 || norm <= QR_TOL * norm0 {
                continue;
            }
            q.extend(v.iter().map(|x| x / norm));
            coef.push(norm);
            r_cols.push(coef);
            kept.push(j);
        }
        let rank = kept.len();
        let mut r = vec![0.0; rank * rank];
        for (c, col) in r_cols.iter().enumerate() {
            r[c * rank..c * rank + col.len()].copy_from_slice(col);
        }
        GroupFit { q, r, kept, rows }
    }

    fn rank(&self) -> usize {
        self.kept.len()
    }

    fn basis(&self, k: usize) -> &[f64] {
        &self.q[k * self.rows..(k + 1) * self.rows]
    }

    /// The fitted values of y.
    fn fitted(&self, y: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.rows];
        for k in 0..self.rank() {
            let b = self.basis(k);
            let d: f64 = b.iter().zip(y).map(|(a, v)| a * v).sum();
            out.iter_mut().zip(b).for_each(|(o, bv)| *o += d * bv);
        }
        out
    }

    /// Hat values: the squared row norms of the basis.
    fn hat(&self) -> Vec<f64> {
        (0..self.rows).map(|i| (0..self.rank()).map(|k| self.basis(k)[i].powi(2)).sum()).collect()
    }

    /// Coefficients of the candidate columns (NaN for dropped ones).
    fn coefficients(&self, y: &[f64], ncols: usize) -> Vec<f64> {
        let rank = self.rank();
        let mut b: Vec<f64> = (0..rank).map(|k| self.basis(k).iter().zip(y).map(|(a, v)| a * v).sum()).collect();
        for i in (0..rank).rev() {
            let mut s = b[i];
            for t in i + 1..rank {
                s -= self.r[t * rank + i] * b[t];
            }
            b[i] = s / self.r[i * rank + i];
        }
        let mut out = vec![f64::NAN; ncols];
        for (k, &j) in self.kept.iter().enumerate() {
            out[j] = b[k];
        }
        out
    }
}

/// Level-1 least-squares residuals, one value a row.
#[derive(Debug, Clone, PartialEq)]
pub struct LsRows {
    pub resid: Vec<f64>,
    pub fitted: Vec<f64>,
    /// Within-group hat values.
    pub hat: Vec<f64>,
    /// R's `rstandard` within the group (NaN without residual degrees of freedom).
    pub standardized: Vec<f64>,
    /// resid / sqrt(1 - hat) (HLMdiag's semi-standardized).
    pub semi_standardized: Vec<f64>,
    /// Groups whose fit has lower rank than the largest (HLMdiag warns of these).
    pub rank_deficient: usize,
}

/// Level-1 LS residuals of `y` (the response as observed) in the levels of
/// the model's first term.
pub fn level1(model: &LinearMixedModel, y: &[f64]) -> LsRows {
    let (n, p) = (model.n(), model.p());
    let t0 = &model.terms[0];
    let groups = super::rows::rows_by_level(&t0.refs, t0.nlevels());
    let mut out = LsRows {
        resid: vec![f64::NAN; n],
        fitted: vec![f64::NAN; n],
        hat: vec![f64::NAN; n],
        standardized: vec![f64::NAN; n],
        semi_standardized: vec![f64::NAN; n],
        rank_deficient: 0,
    };
    let mut ranks = Vec::with_capacity(groups.len());
    for rows in groups.iter().filter(|g| !g.is_empty()) {
        let column = |c: usize| rows.iter().map(|&i| model.x[c * n + i]).collect::<Vec<f64>>();
        let mut columns = vec![vec![1.0; rows.len()]];
        // An intercept, then the columns of X that vary in the group.
        columns.extend((0..p).map(column).filter(|c| c.iter().any(|v| *v != c[0])));
        let fit = GroupFit::new(&columns);
        let yg: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
        let mut fitted = fit.fitted(&yg);
        let hat = fit.hat();
        let mut rss: f64 = yg.iter().zip(&fitted).map(|(a, b)| (a - b).powi(2)).sum();
        // A group its columns fit exactly (two equal responses on an
        // intercept) leaves rounding, not residuals: make them the exact
        // zeros R's Householder QR gives (and rstandard's 0 / 0, NA).
        if rss <= EXACT_FIT * yg.iter().map(|v| v * v).sum::<f64>() {
            fitted.copy_from_slice(&yg);
            rss = 0.0;
        }
        let df = rows.len() - fit.rank();
        let s = if df > 0 { (rss / df as f64).sqrt() } else { f64::NAN };
        for (k, &i) in rows.iter().enumerate() {
            let r = yg[k] - fitted[k];
            out.resid[i] = r;
            out.fitted[i] = fitted[k];
            out.hat[i] = hat[k];
            out.semi_standardized[i] = finite_or_nan(r / (1.0 - hat[k]).sqrt());
            out.standardized[i] = finite_or_nan(r / (s * (1.0 - hat[k]).sqrt()));
        }
        ranks.push(fit.rank());
    }
    let max_rank = ranks.iter().copied().max().unwrap_or(0);
    out.rank_deficient = ranks.iter().filter(|&&r| r < max_rank).count();
    out
}

/// R's `rstandard` gives NA where a residual divides by zero.
fn finite_or_nan(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::NAN
    }
}

/// Group-level LS residuals of one grouping factor: for each level and
/// each of `columns` (indices into X), the group's coefficient minus the
/// mean (and, standardized, over the standard deviation) of the
/// coefficients of the groups sharing its level of `enclosing` (all groups
/// when None). Level-major: `values[level * columns.len() + c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LsGroups {
    pub values: Vec<f64>,
    pub standardized: Vec<f64>,
}

/// `codes` the level of each row (0..levels), `enclosing` the level of each
/// of those levels in an enclosing factor, if nested.
pub fn group_level(
    model: &LinearMixedModel,
    y: &[f64],
    codes: &[u32],
    levels: usize,
    columns: &[usize],
    enclosing: Option<&[usize]>,
) -> LsGroups {
    let (n, p) = (model.n(), model.p());
    let groups = super::rows::rows_by_level(codes, levels);
    let coefs: Vec<Vec<f64>> = groups
        .iter()
        .map(|rows| {
            if rows.is_empty() {
                return vec![f64::NAN; p];
            }
            let cols: Vec<Vec<f64>> = (0..p).map(|c| rows.iter().map(|&i| model.x[c * n + i]).collect()).collect();
            let yg: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
            GroupFit::new(&cols).coefficients(&yg, p)
        })
        .collect();
    let k = columns.len();
    let mut values = vec![f64::NAN; levels * k];
    let mut standardized = vec![f64::NAN; levels * k];
    let outer: Vec<usize> = enclosing.map_or_else(|| vec![0; levels], <[usize]>::to_vec);
    let nouter = outer.iter().copied().max().map_or(0, |m| m + 1);
    for (c, &col) in columns.iter().enumerate() {
        for o in 0..nouter {
            let members: Vec<usize> = (0..levels).filter(|&l| outer[l] == o).collect();
            let vals: Vec<f64> = members.iter().map(|&l| coefs[l][col]).filter(|v| !v.is_nan()).collect();
            if vals.is_empty() {
                continue;
            }
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let sd = if vals.len() > 1 {
                (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (vals.len() - 1) as f64).sqrt()
            } else {
                f64::NAN
            };
            for &l in &members {
                let v = coefs[l][col] - mean;
                values[l * k + c] = v;
                standardized[l * k + c] = v / sd;
            }
        }
    }
    LsGroups { values, standardized }
}
