//! Marginal residuals (HLMdiag's `.mar.resid`): y - X beta, and their
//! Cholesky-standardized form `.chol.mar.resid` = L^{-1} (y - X beta) with
//! V = L L' the marginal covariance, sigma^2 (I + Z Lambda Lambda' Z') (on the
//! rows scaled by sqrt(w)). V is block diagonal over the connected
//! components of the rows (rows sharing a level of any grouping factor), and
//! its Cholesky factor in row order has the same blocks, so L^{-1} is
//! applied one component at a time; a nested model's components are its
//! top-level groups. A crossed design is one component: beyond
//! [`MAX_COMPONENT`] rows that would be an n x n factor, and it is refused.

use super::rows::{Coord, Rows};
use crate::error::{Error, Result};
use crate::linalg::{self, DenseCholesky};
use crate::model::LinearMixedModel;

/// The most rows a component may have (its dense factor takes 8 n^2 bytes: 800 MB here).
pub const MAX_COMPONENT: usize = 10_000;

/// y - X beta (the response minus offset, unscaled), one value a row.
pub fn marginal(model: &LinearMixedModel, beta: &[f64]) -> Vec<f64> {
    let (n, p) = (model.n(), model.p());
    (0..n).map(|i| model.y[i] - (0..p).map(|c| model.x[c * n + i] * beta[c]).sum::<f64>()).collect()
}

/// The connected components of the rows: rows sharing a level of any term.
pub fn components(model: &LinearMixedModel) -> Vec<Vec<usize>> {
    let n = model.n();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for t in &model.terms {
        let mut first = vec![usize::MAX; t.nlevels()];
        for i in 0..n {
            let l = t.refs[i] as usize;
            if first[l] == usize::MAX {
                first[l] = i;
            } else {
                let (a, b) = (find(&mut parent, first[l]), find(&mut parent, i));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut index = vec![usize::MAX; n];
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let root = find(&mut parent, i);
        if index[root] == usize::MAX {
            index[root] = out.len();
            out.push(Vec::new());
        }
        out[index[root]].push(i);
    }
    out
}

/// L^{-1} (y - X beta) for V = L L', one component at a time, on the rows
/// scaled by sqrt(w) (as HLMdiag's `.chol.mar.resid` without weights).
/// `rows` must be at the fitted theta.
pub fn cholesky_marginal(rows: &Rows, beta: &[f64], sigma: f64) -> Result<Vec<f64>> {
    let model = rows.model;
    let n = model.n();
    let mr = marginal(model, beta);
    let mut out = vec![0.0; n];
    let mut m: Vec<Coord> = Vec::new();
    for comp in components(model) {
        let k = comp.len();
        if k > MAX_COMPONENT {
            return Err(Error::Argument(format!(
                "the Cholesky-standardized marginal residuals need the marginal covariance of {k} rows that \
                 share grouping levels (crossed factors): more than {MAX_COMPONENT}; use standardize=False"
            )));
        }
        // V_R / sigma^2 = I + M M', M the rows' Lambda' z_i.
        let coords: Vec<Vec<Coord>> = comp
            .iter()
            .map(|&i| {
                rows.random_coords(i, &mut m);
                let mut c = m.clone();
                c.sort_unstable_by_key(|e| e.0);
                c
            })
            .collect();
        let mut v = vec![0.0; k * k];
        for a in 0..k {
            for b in a..k {
                let dot = sparse_dot(&coords[a], &coords[b]);
                v[a * k + b] = sigma * sigma * (dot + f64::from(a == b));
                v[b * k + a] = v[a * k + b];
            }
        }
        DenseCholesky::new(k)
            .factor(&mut v)
            .map_err(|_| Error::Numerical("the marginal covariance is not positive definite".into()))?;
        let scale = |i: usize| model.weights.as_ref().map_or(1.0, |w| w[i].sqrt());
        let mut r: Vec<f64> = comp.iter().map(|&i| scale(i) * mr[i]).collect();
        linalg::solve_lower(&v, k, &mut r, 1);
        for (&i, v) in comp.iter().zip(r) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// The dot product of two sparse vectors with sorted coordinates.
fn sparse_dot(a: &[Coord], b: &[Coord]) -> f64 {
    let (mut i, mut j, mut s) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}
