//! The parametric bootstrap of a fit without rows. A replicate's response is
//! y* = X beta + Z b* + e*, with b* = sigma Lambda u*, u* ~ N(0, I) and
//! e* ~ N(0, sigma^2 W^-1); the refit reads y* only through Z'Wy*, X'Wy* and
//! y*'Wy*. Those are drawn exactly, from the cross-products alone:
//! Z'WZ b* and X'WZ b* are products with known blocks, and the noise's sums
//! s = [Z X]'W e* are jointly N(0, sigma^2 C) with C = [Z X]'W[Z X], while
//! e*'W e* = s'C^+ s + sigma^2 chi^2_{n - rank C} (the part of e* outside
//! C's column space, independent of s).
//!
//! s is drawn by block elimination of C: the first term's blocks A_j
//! (Z_0'WZ_0, one q0 x q0 block a level), then the rest and X given them,
//! whose covariance is the Schur complement S = D - sum_j B_j A_j^+ B_j'
//! ((m + p) x (m + p), dense; B_j: the rest's and X's cross-products with
//! level j). Each replicate is then refitted as the in-memory bootstrap
//! refits (`resample::parametric_bootstrap`), from theta-hat. The draws
//! differ from the in-memory bootstrap's (those are drawn row by row), the
//! distribution is the same.

use rand::rngs::Xoshiro256PlusPlus;
use rand::RngExt;
use rand_distr::{ChiSquared, Distribution, StandardNormal};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fit::optimize;
use crate::linalg;
use crate::lmer::Lmer;
use crate::model::rest::RestPattern;
use crate::model::{CrossProducts, LinearMixedModel};
use crate::resample::{refit_settings, replicate_rng, Replicate};

/// The Schur complement is dense: at most this many rows (rest + fixed effects).
pub const MAX_DENSE_ROWS: usize = 8_000;

/// Eigenvalues below this share of the largest count as zero (C's exact dependencies).
const RANK_TOL: f64 = 1e-10;

/// A square root of a PSD block: `root` (q x r) with root root' = A, and
/// `inverse` (q x r) with inverse inverse' = A^+, both column-major.
#[derive(Debug, Clone)]
struct BlockRoot {
    root: Vec<f64>,
    inverse: Vec<f64>,
    rank: usize,
}

fn block_root(a: &[f64], q: usize) -> BlockRoot {
    if q == 1 {
        return if a[0] > 0.0 {
            BlockRoot { root: vec![a[0].sqrt()], inverse: vec![1.0 / a[0].sqrt()], rank: 1 }
        } else {
            BlockRoot { root: vec![], inverse: vec![], rank: 0 }
        };
    }
    let (values, vectors) = linalg::symmetric_eigen(a, q).unwrap_or((vec![0.0; q], vec![0.0; q * q]));
    let top = values.iter().cloned().fold(0.0, f64::max);
    let (mut root, mut inverse, mut rank) = (Vec::new(), Vec::new(), 0);
    for (i, &v) in values.iter().enumerate() {
        if v > RANK_TOL * top && v > 0.0 {
            root.extend(vectors[i * q..(i + 1) * q].iter().map(|x| x * v.sqrt()));
            inverse.extend(vectors[i * q..(i + 1) * q].iter().map(|x| x / v.sqrt()));
            rank += 1;
        }
    }
    BlockRoot { root, inverse, rank }
}

/// What drawing the noise's sums needs, computed once a fit.
#[derive(Debug, Clone)]
pub struct NoiseSampler {
    levels: Vec<BlockRoot>,
    /// (m + p) x `f_rank`: F F' = S.
    f: Vec<f64>,
    f_rank: usize,
    /// rank of C.
    rank: usize,
    /// (X'WX)^-1, p x p.
    xwx_inverse: Vec<f64>,
}

/// B_j as a dense (m + p) x q0 column-major block: the rest's rows from the
/// level's cross entries, then X's rows from Z_0'WX.
fn level_block(cp: &CrossProducts, j: usize, out: &mut [f64]) {
    let (q0, m, p, k) = (cp.q0, cp.m, cp.p, cp.p + 1);
    let mp = m + p;
    out.iter_mut().for_each(|v| *v = 0.0);
    for e in cp.level_cross(j) {
        let blk = cp.rest_blocks[e.block()];
        for c in 0..q0 {
            for r in 0..blk.q {
                out[c * mp + blk.row + r] = cp.cross_values[e.values() + c * blk.q + r];
            }
        }
    }
    for t in 0..p {
        for c in 0..q0 {
            out[c * mp + m + t] = cp.zxy0[j * q0 * k + t * q0 + c];
        }
    }
}

/// D: the rest's and X's cross-products ((m + p) x (m + p), full).
fn rest_and_x(cp: &CrossProducts) -> Vec<f64> {
    let (m, p, k) = (cp.m, cp.p, cp.p + 1);
    let mp = m + p;
    let mut d = vec![0.0; mp * mp];
    for_each_rest_entry(cp, |row, col, v| {
        d[col * mp + row] = v;
        d[row * mp + col] = v;
    });
    for t in 0..p {
        for r in 0..m {
            let v = cp.zxy_rest[t * m + r];
            d[(m + t) * mp + r] = v;
            d[r * mp + m + t] = v;
        }
        for s in 0..p {
            d[(m + s) * mp + m + t] = cp.xyxy[s * k + t];
        }
    }
    d
}

/// Every stored entry (row >= col) of Z_rest'WZ_rest.
fn for_each_rest_entry(cp: &CrossProducts, mut f: impl FnMut(usize, usize, f64)) {
    match &cp.pattern {
        RestPattern::Dense { m } => {
            for col in 0..*m {
                for row in col..*m {
                    f(row, col, cp.zz_rest[col * m + row]);
                }
            }
        }
        RestPattern::Sparse { col_ptr, row_idx, .. } => {
            for col in 0..col_ptr.len() - 1 {
                for at in col_ptr[col]..col_ptr[col + 1] {
                    f(row_idx[at], col, cp.zz_rest[at]);
                }
            }
        }
    }
}

impl NoiseSampler {
    pub fn new(cp: &CrossProducts) -> Result<NoiseSampler> {
        let (q0, m, p) = (cp.q0, cp.m, cp.p);
        let mp = m + p;
        if mp > MAX_DENSE_ROWS {
            return Err(Error::Data(format!(
                "the parametric bootstrap of an out-of-core fit draws the sums of each replicate exactly, which \
                 takes a dense matrix of the random effects after the first term and the fixed effects ({mp} rows, \
                 at most {MAX_DENSE_ROWS}): fit the data in memory to bootstrap this model"
            )));
        }
        let levels: Vec<BlockRoot> =
            (0..cp.l0).map(|j| block_root(&cp.zz0[j * q0 * q0..(j + 1) * q0 * q0], q0)).collect();
        let mut s = rest_and_x(cp);
        // S -= sum_j (B_j Q_j)(B_j Q_j)', a chunk of levels at a time.
        const CHUNK: usize = 512;
        let mut b = vec![0.0; mp * q0];
        for start in (0..cp.l0).step_by(CHUNK) {
            let end = (start + CHUNK).min(cp.l0);
            let width: usize = levels[start..end].iter().map(|l| l.rank).sum();
            let mut g = vec![0.0; mp * width];
            let mut col = 0;
            for j in start..end {
                level_block(cp, j, &mut b);
                let l = &levels[j];
                // G's columns: B_j Q_j.
                linalg::gemm_nn(&mut g[col * mp..(col + l.rank) * mp], &b, &l.inverse, mp, q0, l.rank, 1.0, false);
                col += l.rank;
            }
            linalg::gemm_nt(&mut s, &g, &g, mp, width, mp, -1.0, true);
        }
        let (values, vectors) = linalg::symmetric_eigen(&s, mp)
            .ok_or_else(|| Error::Numerical("the bootstrap's covariance could not be decomposed".into()))?;
        let top = values.iter().cloned().fold(0.0, f64::max);
        let mut f = Vec::new();
        let mut f_rank = 0;
        for (i, &v) in values.iter().enumerate() {
            if v > RANK_TOL * top && v > 0.0 {
                f.extend(vectors[i * mp..(i + 1) * mp].iter().map(|x| x * v.sqrt()));
                f_rank += 1;
            }
        }
        let rank = levels.iter().map(|l| l.rank).sum::<usize>() + f_rank;
        let k = p + 1;
        let xwx: Vec<f64> = (0..p * p).map(|i| cp.xyxy[(i / p) * k + i % p]).collect();
        let xwx_inverse = linalg::inverse_spd(&xwx, p)
            .ok_or_else(|| Error::Numerical("X'WX is singular: the bootstrap cannot shift the responses".into()))?;
        Ok(NoiseSampler { levels, f, f_rank, rank, xwx_inverse })
    }
}

/// Z'WZ b (the first term's levels, then the rest's rows) and X'WZ b.
fn z_products(cp: &CrossProducts, b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (q0, m, p, k) = (cp.q0, cp.m, cp.p, cp.p + 1);
    let n0 = cp.l0 * q0;
    let (b0, br) = b.split_at(n0);
    let mut out = vec![0.0; n0 + m];
    let mut xz = vec![0.0; p];
    for j in 0..cp.l0 {
        let bj = &b0[j * q0..(j + 1) * q0];
        for r in 0..q0 {
            out[j * q0 + r] += (0..q0).map(|c| cp.zz0[j * q0 * q0 + c * q0 + r] * bj[c]).sum::<f64>();
        }
        for e in cp.level_cross(j) {
            let blk = cp.rest_blocks[e.block()];
            let v = &cp.cross_values[e.values()..e.values() + blk.q * q0];
            for c in 0..q0 {
                for r in 0..blk.q {
                    // (Z_rest'WZ_0)[row + r, c] = v[c q_b + r]
                    out[n0 + blk.row + r] += v[c * blk.q + r] * bj[c];
                    out[j * q0 + c] += v[c * blk.q + r] * br[blk.row + r];
                }
            }
        }
        for t in 0..p {
            xz[t] += (0..q0).map(|c| cp.zxy0[j * q0 * k + t * q0 + c] * bj[c]).sum::<f64>();
        }
    }
    for_each_rest_entry(cp, |row, col, v| {
        out[n0 + row] += v * br[col];
        if row != col {
            out[n0 + col] += v * br[row];
        }
    });
    for t in 0..p {
        xz[t] += (0..m).map(|r| cp.zxy_rest[t * m + r] * br[r]).sum::<f64>();
    }
    (out, xz)
}

/// b* = sigma Lambda u*, u* ~ N(0, I), in the layout of u (the blocked
/// system's terms: first term, then the rest's rows).
fn draw_modes(model: &LinearMixedModel, theta: &[f64], sigma: f64, rng: &mut Xoshiro256PlusPlus) -> Vec<f64> {
    let mut b = Vec::new();
    for (k, t) in model.system.terms.iter().enumerate() {
        let q = t.q;
        let mut lam = vec![0.0; q * q];
        model.system.fill_lambda(theta, k, &mut lam);
        for _ in 0..t.nlevels {
            let u: Vec<f64> = (0..q).map(|_| rng.sample::<f64, _>(StandardNormal)).collect();
            b.extend((0..q).map(|r| sigma * (0..q).map(|c| lam[c * q + r] * u[c]).sum::<f64>()));
        }
    }
    b
}

/// The noise's sums s = [Z X]'W e* (first term, rest, X) and e*'W e*.
fn draw_noise(
    cp: &CrossProducts,
    sampler: &NoiseSampler,
    sigma: f64,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<(Vec<f64>, f64)> {
    let (q0, m, p) = (cp.q0, cp.m, cp.p);
    let (n0, mp) = (cp.l0 * q0, m + p);
    let mut s = vec![0.0; n0 + mp];
    let mut squares = 0.0;
    let mut b = vec![0.0; mp * q0];
    let mut conditional = vec![0.0; mp];
    for (j, l) in sampler.levels.iter().enumerate() {
        let xi: Vec<f64> = (0..l.rank).map(|_| rng.sample::<f64, _>(StandardNormal)).collect();
        squares += xi.iter().map(|x| x * x).sum::<f64>();
        for r in 0..q0 {
            s[j * q0 + r] = sigma * (0..l.rank).map(|c| l.root[c * q0 + r] * xi[c]).sum::<f64>();
        }
        // The rest's and X's mean given s_0: B_j A_j^+ s_0 = B_j Q_j xi.
        let qxi: Vec<f64> = (0..q0).map(|r| (0..l.rank).map(|c| l.inverse[c * q0 + r] * xi[c]).sum()).collect();
        if qxi.iter().any(|v| *v != 0.0) {
            level_block(cp, j, &mut b);
            for (c, v) in qxi.iter().enumerate() {
                conditional.iter_mut().zip(&b[c * mp..(c + 1) * mp]).for_each(|(o, bv)| *o += bv * v);
            }
        }
    }
    let xi: Vec<f64> = (0..sampler.f_rank).map(|_| rng.sample::<f64, _>(StandardNormal)).collect();
    squares += xi.iter().map(|x| x * x).sum::<f64>();
    for (i, o) in conditional.iter_mut().enumerate() {
        *o += (0..sampler.f_rank).map(|c| sampler.f[c * mp + i] * xi[c]).sum::<f64>();
    }
    s[n0..].iter_mut().zip(&conditional).for_each(|(d, v)| *d = sigma * v);
    let residual_df = cp.n.saturating_sub(sampler.rank);
    let chi2 = if residual_df > 0 {
        ChiSquared::new(residual_df as f64).map_err(|e| Error::Numerical(e.to_string()))?.sample(rng)
    } else {
        0.0
    };
    Ok((s, sigma * sigma * (squares + chi2)))
}

/// Set `model`'s response cross-products to a replicate's: e* = Z b* + noise,
/// shifted by its least-squares fit on X; returns that fit (gamma).
fn set_replicate_response(
    model: &mut LinearMixedModel,
    sampler: &NoiseSampler,
    b: &[f64],
    s: &[f64],
    ee: f64,
) -> Vec<f64> {
    let cp = &mut model.cp;
    let (q0, m, p, k) = (cp.q0, cp.m, cp.p, cp.p + 1);
    let n0 = cp.l0 * q0;
    let (zb, xzb) = z_products(cp, b);
    // Z'We, X'We, e'We.
    let ze: Vec<f64> = zb.iter().zip(&s[..n0 + m]).map(|(a, c)| a + c).collect();
    let xe: Vec<f64> = xzb.iter().zip(&s[n0 + m..]).map(|(a, c)| a + c).collect();
    let bz: f64 = b.iter().zip(&zb).map(|(x, y)| x * y).sum();
    let bs: f64 = b.iter().zip(&s[..n0 + m]).map(|(x, y)| x * y).sum();
    let e_e = bz + 2.0 * bs + ee;
    let gamma: Vec<f64> = (0..p).map(|r| (0..p).map(|c| sampler.xwx_inverse[c * p + r] * xe[c]).sum()).collect();
    for j in 0..cp.l0 {
        for r in 0..q0 {
            let zx: f64 = (0..p).map(|t| cp.zxy0[j * q0 * k + t * q0 + r] * gamma[t]).sum();
            cp.zxy0[j * q0 * k + p * q0 + r] = ze[j * q0 + r] - zx;
        }
    }
    for row in 0..m {
        let zx: f64 = (0..p).map(|t| cp.zxy_rest[t * m + row] * gamma[t]).sum();
        cp.zxy_rest[p * m + row] = ze[n0 + row] - zx;
    }
    for t in 0..p {
        cp.xyxy[p * k + t] = 0.0;
        cp.xyxy[t * k + p] = 0.0;
    }
    cp.xyxy[p * k + p] = e_e - gamma.iter().zip(&xe).map(|(g, x)| g * x).sum::<f64>();
    gamma
}

fn refit(m: &Lmer, sampler: &NoiseSampler, model: &mut LinearMixedModel, i: u64, seed: u64) -> Option<Replicate> {
    let mut rng = replicate_rng(seed, i);
    let (theta, sigma) = (&m.fit.theta, m.fit.sigma);
    let b = draw_modes(model, theta, sigma, &mut rng);
    let (s, ee) = draw_noise(&model.cp, sampler, sigma, &mut rng).ok()?;
    let gamma = set_replicate_response(model, sampler, &b, &s, ee);
    model.beta_ols = m.fit.beta.iter().zip(&gamma).map(|(a, g)| a + g).collect();
    let opt = optimize(model, theta, refit_settings(m)).ok()?;
    if !model.factor.ok {
        return None;
    }
    let sigma = model.sigma();
    Some(Replicate {
        sd_cor: model.par.sd_cor(&opt.final_theta, sigma),
        theta: opt.final_theta,
        sigma,
        beta: model.beta(),
        objective: opt.fmin,
        feval: opt.feval,
    })
}

/// Replicates `first..first + count` of the bootstrap of a fit without rows.
pub fn parametric_bootstrap(
    m: &Lmer,
    sampler: &NoiseSampler,
    first: u64,
    count: usize,
    seed: u64,
) -> Vec<Option<Replicate>> {
    let threads = rayon::current_num_threads().max(1);
    let indices: Vec<u64> = (first..first + count as u64).collect();
    let chunk = indices.len().div_ceil(threads).max(1);
    indices
        .par_chunks(chunk)
        .flat_map_iter(|idx| {
            let mut model = m.model.replicate();
            idx.iter().map(|&i| refit(m, sampler, &mut model, i, seed)).collect::<Vec<_>>()
        })
        .collect()
}
