//! The first level of a two-stage model: one least-squares fit per group
//! (R's `lme4::lmList`), in parallel. The design X is built once on all rows
//! with the model's coding; each group fits its own rows of it. A column
//! that is constant or dependent within a group is aliased there, as R's
//! `lm` aliases it: its coefficient is NaN for that group.

use rayon::prelude::*;

use super::correlations::{predictor_correlations, CorrelationKind};
use super::ols::LeastSquares;
use crate::linalg;

/// R's tolerance for a rank-deficient design (`lm`'s `qr`).
const RANK_TOL: f64 = 1e-7;

/// The rows of each group: `codes[i]` is row i's group, `0..ngroups`.
pub fn rows_by_group(codes: &[u32], ngroups: usize) -> Vec<Vec<usize>> {
    let mut rows = vec![Vec::new(); ngroups];
    for (i, &g) in codes.iter().enumerate() {
        rows[g as usize].push(i);
    }
    rows
}

/// The per-group fits, in group order; row quantities in row order.
#[derive(Debug, Clone)]
pub struct GroupFits {
    pub p: usize,
    /// ngroups x p, row-major (one row a group); NaN where aliased.
    pub coefficients: Vec<f64>,
    pub fitted: Vec<f64>,
    pub residuals: Vec<f64>,
    pub rsquared: Vec<f64>,
    pub rsquared_adj: Vec<f64>,
    pub nobs: Vec<usize>,
    /// For each group with aliased columns, their indices.
    pub aliased: Vec<(usize, Vec<usize>)>,
}

/// Fit y on the rows of X (n x p) of each group.
pub fn fit_groups(x: &[f64], n: usize, p: usize, y: &[f64], rows: &[Vec<usize>], intercept: bool) -> GroupFits {
    let fits: Vec<GroupFit> = rows.par_iter().map(|r| fit_one(x, n, p, y, r, intercept)).collect();
    let mut out = GroupFits {
        p,
        coefficients: Vec::with_capacity(rows.len() * p),
        fitted: vec![f64::NAN; n],
        residuals: vec![f64::NAN; n],
        rsquared: Vec::with_capacity(rows.len()),
        rsquared_adj: Vec::with_capacity(rows.len()),
        nobs: Vec::with_capacity(rows.len()),
        aliased: Vec::new(),
    };
    for (g, (fit, r)) in fits.into_iter().zip(rows).enumerate() {
        out.coefficients.extend(&fit.beta);
        for (k, &i) in r.iter().enumerate() {
            out.fitted[i] = fit.fitted[k];
            out.residuals[i] = y[i] - fit.fitted[k];
        }
        out.rsquared.push(fit.rsquared);
        out.rsquared_adj.push(fit.rsquared_adj);
        out.nobs.push(r.len());
        if !fit.aliased.is_empty() {
            out.aliased.push((g, fit.aliased));
        }
    }
    out
}

struct GroupFit {
    beta: Vec<f64>,
    fitted: Vec<f64>,
    rsquared: f64,
    rsquared_adj: f64,
    aliased: Vec<usize>,
}

/// The rows `rows` of X (n x p), column-major.
pub fn gather_rows(x: &[f64], n: usize, p: usize, rows: &[usize]) -> Vec<f64> {
    (0..p).flat_map(|j| rows.iter().map(move |&i| x[j * n + i])).collect()
}

fn fit_one(x: &[f64], n: usize, p: usize, y: &[f64], rows: &[usize], intercept: bool) -> GroupFit {
    let m = rows.len();
    let xg = gather_rows(x, n, p, rows);
    let yg: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
    let keep = if m == 0 { vec![] } else { linalg::independent_columns(&xg, m, p, RANK_TOL) };
    let xk: Vec<f64> = keep.iter().flat_map(|&j| xg[j * m..(j + 1) * m].iter().copied()).collect();
    let ls = LeastSquares::new(&xk, m, keep.len(), None);
    let solution = ls.solve(&yg);
    let mut beta = vec![f64::NAN; p];
    for (k, &j) in keep.iter().enumerate() {
        beta[j] = solution.beta[k];
    }
    let (rsquared, rsquared_adj) = rsquared_of(&yg, &solution.residuals, keep.len(), intercept);
    let aliased = (0..p).filter(|j| !keep.contains(j)).collect();
    GroupFit { beta, fitted: solution.fitted, rsquared, rsquared_adj, aliased }
}

/// R's `summary.lm` R^2 and adjusted R^2 of an unweighted fit with `rank` coefficients.
pub fn rsquared_of(y: &[f64], residuals: &[f64], rank: usize, intercept: bool) -> (f64, f64) {
    let n = y.len() as f64;
    let rss: f64 = residuals.iter().map(|e| e * e).sum();
    let tss: f64 = if intercept {
        let mean = y.iter().sum::<f64>() / n;
        y.iter().map(|v| (v - mean).powi(2)).sum()
    } else {
        y.iter().map(|v| v * v).sum()
    };
    let r2 = 1.0 - rss / tss;
    let df_int = if intercept { 1.0 } else { 0.0 };
    let rdf = n - rank as f64;
    let adj = if rdf > 0.0 { 1.0 - (1.0 - r2) * (n - df_int) / rdf } else { f64::NAN };
    (r2, adj)
}

/// Each group's semi-partial or partial correlations of the columns of X
/// with y, ngroups x p row-major (NaN at the intercept column).
pub fn group_correlations(
    x: &[f64],
    n: usize,
    p: usize,
    y: &[f64],
    rows: &[Vec<usize>],
    intercept: Option<usize>,
    kind: CorrelationKind,
) -> Vec<f64> {
    let per_group: Vec<Vec<f64>> = rows
        .par_iter()
        .map(|r| {
            let xg = gather_rows(x, n, p, r);
            let yg: Vec<f64> = r.iter().map(|&i| y[i]).collect();
            predictor_correlations(&xg, r.len(), p, &yg, intercept, kind)
        })
        .collect();
    per_group.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_gets_its_own_line_and_aliased_columns_are_nan() {
        // Two groups: y = 1 + 2x in group 0, y = -1 + 0.5x in group 1; a third
        // column is zero in group 1 (aliased there).
        let n = 8;
        let codes = [0u32, 1, 0, 1, 0, 1, 0, 1];
        let xs = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 4.0];
        let z = [1.0, 0.0, -1.0, 0.0, 2.0, 0.0, 0.5, 0.0];
        let y: Vec<f64> = (0..n).map(|i| if codes[i] == 0 { 1.0 + 2.0 * xs[i] } else { -1.0 + 0.5 * xs[i] }).collect();
        let mut x = vec![1.0; n];
        x.extend(xs);
        x.extend(z);
        let rows = rows_by_group(&codes, 2);
        let fits = fit_groups(&x, n, 3, &y, &rows, true);
        let b = &fits.coefficients;
        assert!((b[0] - 1.0).abs() < 1e-12 && (b[1] - 2.0).abs() < 1e-12 && b[2].abs() < 1e-12, "{b:?}");
        assert!((b[3] + 1.0).abs() < 1e-12 && (b[4] - 0.5).abs() < 1e-12 && b[5].is_nan(), "{b:?}");
        assert_eq!(fits.aliased, vec![(1, vec![2])]);
        assert!(fits.residuals.iter().all(|e| e.abs() < 1e-12));
        assert_eq!(fits.nobs, [4, 4]);
    }
}
