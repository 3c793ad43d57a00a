//! One-step deletion diagnostics (HLMdiag's `approx = TRUE`): the fixed
//! effects and their covariance without a set A of rows, at the full data's
//! theta and sigma. These are exact generalized least squares with V fixed:
//! beta_(A) is the GLS estimate on the other rows and C_(A) = (X_(A)'
//! V0_(A)^{-1} X_(A))^{-1}.
//!
//! Deleting A subtracts K_A'K_A from the joint system of (u, beta), K_A the
//! rows [Lambda' z_i, x_i] of A, which touch only a few coordinates T (the
//! random effects of A's rows and beta). On T, with Gamma the joint inverse
//! there (`inverse`) and r_A the conditional residuals:
//!
//! ```text
//!   Gamma_(A) = (Gamma^{-1} - K_A'K_A)^{-1}
//!             = Gamma + W P^{-1} W'               W = Gamma K_A',  P = I - K_A W = (P0)_AA
//!   C_(A) = Gamma_(A)[beta, beta],   beta - beta_(A) = [Gamma_(A) K_A' r_A]_beta = W_beta P^{-1} r_A
//! ```
//!
//! The first form costs |T|^3, the second |A|^3; the cheaper is used. Where
//! T is large (a set spanning many levels of crossed factors) the downdated
//! system is refactored at the full theta instead: one factorization.

use rayon::prelude::*;

use super::deletion::DeletionSystem;
use super::inverse::{LocalInverse, PlsInverse};
use super::leverage::{row_leverage, Leverage};
use super::measures::{measures, Measures, SpdFactor};
use super::rows::{rows_by_level, Coord, Rows};
use crate::error::{Error, Result};
use crate::linalg;
use crate::model::LinearMixedModel;

/// Above this many coordinates (random effects and fixed effects) a set is
/// refactored instead of solved locally.
pub const LOCAL_MAX: usize = 400;

/// Influence of each observation and its leverages.
#[derive(Debug, Clone)]
pub struct ObservationDiagnostics {
    pub measures: Vec<Measures>,
    pub leverage: Vec<Leverage>,
}

/// The rows of a set on the local coordinates: K (|A| x dim, row-major) and r_A.
struct LocalRows {
    k: Vec<f64>,
    resid: Vec<f64>,
    dim: usize,
}

fn local_rows(rows: &Rows, local: &LocalInverse, members: &[usize]) -> LocalRows {
    let p = rows.p();
    let r = local.coords.len();
    let dim = r + p;
    let mut k = vec![0.0; members.len() * dim];
    let mut m: Vec<Coord> = Vec::new();
    for (a, &i) in members.iter().enumerate() {
        let row = &mut k[a * dim..(a + 1) * dim];
        rows.random_coords(i, &mut m);
        for &(coord, v) in &m {
            let at = local.index(coord).expect("a row's coordinates are local to its levels");
            row[at] += v;
        }
        rows.x_row(i, &mut row[r..]);
    }
    LocalRows { k, resid: members.iter().map(|&i| rows.resid[i]).collect(), dim }
}

/// Observation-level measures and leverages, one first-term level at a
/// time (in parallel): its rows share one local inverse.
pub fn observations(inv: &PlsInverse, rows: &Rows, sigma: f64) -> Result<ObservationDiagnostics> {
    let model = inv.model;
    let (n, p) = (rows.n(), rows.p());
    let q = rows.q();
    let vcov: Vec<f64> = inv.c.iter().map(|v| v * sigma * sigma).collect();
    let v_factor = SpdFactor::new(&vcov, p).ok_or_else(|| not_pd("vcov(beta)"))?;
    let by_level = rows_by_level(&model.terms[0].refs, model.cp.l0);
    let per_level: Vec<Result<Vec<(usize, Measures, Leverage)>>> = by_level
        .par_iter()
        .enumerate()
        .filter(|(_, members)| !members.is_empty())
        .map(|(j, members)| {
            let local = inv.local(&[j]).ok_or_else(|| not_pd("the selected inverse"))?;
            let gamma = inv.gamma(&local);
            let lr = local_rows(rows, &local, members);
            let dim = lr.dim;
            let mut m: Vec<Coord> = Vec::new();
            let mut x = vec![0.0; p];
            let mut w = vec![0.0; dim];
            Ok(members
                .iter()
                .enumerate()
                .map(|(a, &i)| {
                    let k = &lr.k[a * dim..(a + 1) * dim];
                    linalg::gemm_nn(&mut w, &gamma, k, dim, dim, 1, 1.0, false);
                    let kgk = linalg::dot(k, &w);
                    rows.random_coords(i, &mut m);
                    rows.x_row(i, &mut x);
                    let leverage = row_leverage(kgk, &x, &m, &inv.u, q, &inv.c);
                    // P = 1 - k'Gamma k (one row); C_(A) = C + w w' / P, delta = w r / P.
                    let pa = 1.0 - kgk;
                    let wx = &w[dim - p..];
                    let deleted: Vec<f64> =
                        (0..p * p).map(|e| sigma * sigma * (inv.c[e] + wx[e % p] * wx[e / p] / pa)).collect();
                    let delta: Vec<f64> = wx.iter().map(|v| v * lr.resid[a] / pa).collect();
                    (i, measures(&v_factor, &deleted, &delta), leverage)
                })
                .collect())
        })
        .collect();
    let mut out = ObservationDiagnostics {
        measures: vec![Measures::NAN; n],
        leverage: vec![Leverage { overall: f64::NAN, fixef: f64::NAN, ranef: f64::NAN, ranef_uc: f64::NAN }; n],
    };
    for level in per_level {
        for (i, me, le) in level? {
            out.measures[i] = me;
            out.leverage[i] = le;
        }
    }
    Ok(out)
}

/// One-step measures for deleting each set of rows (e.g. the levels of a
/// grouping factor); sets of more than `local_max` coordinates are refactored.
pub fn sets(inv: &PlsInverse, rows: &Rows, sigma: f64, sets: &[Vec<usize>], local_max: usize) -> Result<Vec<Measures>> {
    let model = inv.model;
    let p = rows.p();
    let vcov: Vec<f64> = inv.c.iter().map(|v| v * sigma * sigma).collect();
    let v_factor = SpdFactor::new(&vcov, p).ok_or_else(|| not_pd("vcov(beta)"))?;
    let local: Vec<Option<Measures>> = sets
        .par_iter()
        .map(|members| {
            let levels = first_levels(rows, members);
            if local_size_bound(inv, &levels) > local_max {
                return None;
            }
            let local = inv.local(&levels)?;
            let gamma = inv.gamma(&local);
            let lr = local_rows(rows, &local, members);
            let (c_deleted, delta) = downdate_local(&gamma, &lr, p)?;
            let deleted: Vec<f64> = c_deleted.iter().map(|v| v * sigma * sigma).collect();
            Some(measures(&v_factor, &deleted, &delta))
        })
        .collect();
    // The others: refactor the downdated system at the full theta.
    let rest: Vec<Vec<usize>> = sets.iter().zip(&local).filter(|(_, l)| l.is_none()).map(|(s, _)| s.clone()).collect();
    let mut by_refactoring = if rest.is_empty() {
        vec![]
    } else {
        let system = DeletionSystem::new(model);
        let theta = model.theta.clone();
        let beta = model.beta();
        system.par_map(&rest, |work| refactored(work, &theta, &beta, sigma, &v_factor))
    }
    .into_iter();
    Ok(local.into_iter().map(|l| l.unwrap_or_else(|| by_refactoring.next().expect("one result a set"))).collect())
}

/// The one-step measures of a downdated `work` refactored at the full
/// data's `theta` (exact GLS with V fixed): `beta` and `v_factor` are the
/// full fit's fixed effects and vcov.
pub fn refactored(
    work: &mut LinearMixedModel,
    theta: &[f64],
    beta: &[f64],
    sigma: f64,
    v_factor: &SpdFactor,
) -> Measures {
    work.set_theta(theta);
    if !work.factor.ok {
        return Measures::NAN;
    }
    let deleted: Vec<f64> = work.unscaled_vcov().iter().map(|v| v * sigma * sigma).collect();
    let delta: Vec<f64> = beta.iter().zip(work.beta()).map(|(a, b)| a - b).collect();
    measures(v_factor, &deleted, &delta)
}

/// The first-term levels a set's rows belong to, sorted.
fn first_levels(rows: &Rows, members: &[usize]) -> Vec<usize> {
    let mut levels: Vec<usize> = members.iter().map(|&i| rows.first_level(i)).collect();
    levels.sort_unstable();
    levels.dedup();
    levels
}

/// An upper bound on the local coordinates of some first-term levels.
fn local_size_bound(inv: &PlsInverse, levels: &[usize]) -> usize {
    let cp = &inv.model.cp;
    let rest: usize =
        levels.iter().map(|&j| cp.level_cross(j).iter().map(|e| cp.rest_blocks[e.block()].q).sum::<usize>()).sum();
    levels.len() * cp.q0 + rest.min(cp.m) + cp.p
}

/// C_(A) (unscaled) and beta - beta_(A) from Gamma and the set's rows, by
/// the cheaper of the two forms; None if the downdated system is not
/// positive definite.
fn downdate_local(gamma: &[f64], lr: &LocalRows, p: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let (dim, na) = (lr.dim, lr.resid.len());
    let r = dim - p;
    if na <= dim {
        // W = Gamma K' (dim x na; K is stored row-major, i.e. K' column-major), P = I - K W.
        let mut w = vec![0.0; dim * na];
        linalg::gemm_nn(&mut w, gamma, &lr.k, dim, dim, na, 1.0, false);
        let mut pm = vec![0.0; na * na];
        for b in 0..na {
            for a in 0..na {
                pm[b * na + a] =
                    f64::from(a == b) - linalg::dot(&lr.k[a * dim..(a + 1) * dim], &w[b * dim..(b + 1) * dim]);
            }
        }
        let pinv = linalg::inverse_spd(&pm, na)?;
        // W_beta (p x na) = the last p rows of W.
        let wb = |row: usize, col: usize| w[col * dim + r + row];
        let mut c = gamma_block(gamma, dim, r, p);
        let mut delta = vec![0.0; p];
        for a in 0..na {
            for b in 0..na {
                let pab = pinv[b * na + a];
                for i in 0..p {
                    delta[i] += wb(i, a) * pab * lr.resid[b];
                    for jj in 0..p {
                        c[jj * p + i] += wb(i, a) * pab * wb(jj, b);
                    }
                }
            }
        }
        Some((c, delta))
    } else {
        // (Gamma^{-1} - K'K)^{-1}.
        let mut m = linalg::inverse_spd(gamma, dim)?;
        let mut kr = vec![0.0; dim];
        for a in 0..na {
            let k = &lr.k[a * dim..(a + 1) * dim];
            for c in 0..dim {
                kr[c] += k[c] * lr.resid[a];
                for rr in 0..dim {
                    m[c * dim + rr] -= k[rr] * k[c];
                }
            }
        }
        let g = linalg::inverse_spd(&m, dim)?;
        let delta = (0..p).map(|i| (0..dim).map(|c| g[c * dim + r + i] * kr[c]).sum()).collect();
        Some((gamma_block(&g, dim, r, p), delta))
    }
}

/// The trailing p x p block of a dim x dim matrix.
fn gamma_block(g: &[f64], dim: usize, r: usize, p: usize) -> Vec<f64> {
    (0..p * p).map(|e| g[(r + e / p) * dim + r + e % p]).collect()
}

fn not_pd(what: &str) -> Error {
    Error::Numerical(format!("{what} is not positive definite at the fitted parameters"))
}
