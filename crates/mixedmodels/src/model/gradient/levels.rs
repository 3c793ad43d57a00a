//! The gradient's per-level passes when the first grouping factor's block is
//! the whole system (no further random-effects term: `(1 | g)`, `(x | g)`,
//! `(x || g)`). Every level's pieces are then independent of the others', so
//! the levels are split into chunks computed on the thread pool (rayon). Each
//! level's arithmetic is that of the general passes (`solutions`,
//! `residual_cross_products`, `combine_columns`, `diagonal_blocks`) with no
//! rest block, operation for operation: the results are the same to the
//! last bit, whatever the path or the number of threads.

use rayon::prelude::*;

use super::{lambda_times, shifted_beta, GradientWorkspace};
use crate::linalg::small;
use crate::model::blocked::BlockedFactor;
use crate::model::crossprod::CrossProducts;

/// Levels a task of the thread pool takes (fewer levels: one task, this thread).
const LEVELS_PER_CHUNK: usize = 4096;

/// A chunk of levels' outputs, each in the workspace's layout.
struct Chunk<'a> {
    first: usize,
    q1: &'a mut [f64],
    v1: &'a mut [f64],
    p1: &'a mut [f64],
    rx1: &'a mut [f64],
    u_hat: &'a mut [f64],
    resid: &'a mut [f64],
    h1: &'a mut [f64],
}

/// What every level reads: the cross-products, the factor, lambda_0, and for
/// the residual columns beta and (REML) K_XX^{-1}.
struct Shared<'a> {
    cp: &'a CrossProducts,
    factor: &'a BlockedFactor,
    lam0: &'a [f64],
    beta: Vec<f64>,
    vxx: Option<Vec<f64>>,
}

/// The first `len` values of `buf`, leaving the rest in `buf`.
fn take_front<'a>(buf: &mut &'a mut [f64], len: usize) -> &'a mut [f64] {
    let (front, rest) = std::mem::take(buf).split_at_mut(len);
    *buf = rest;
    front
}

impl GradientWorkspace {
    /// Q, V = Lambda Q, P, u-hat, P e, P_X K_XX^{-1} and H for every level of
    /// the first term, when it is the only block (`cp.m == 0`).
    pub(super) fn first_block_levels(&mut self, cp: &CrossProducts, factor: &BlockedFactor, reml: bool) {
        let (q0, p, k) = (cp.q0, cp.p, cp.p + 1);
        let shared = Shared {
            cp,
            factor,
            lam0: &self.lambdas[0],
            beta: shifted_beta(&factor.lxx, p),
            vxx: (reml && p > 0).then(|| factor.unscaled_vcov(p)),
        };
        let (mut q1, mut v1, mut p1) = (&mut self.q1[..], &mut self.v1[..], &mut self.p1[..]);
        let (mut rx1, mut u_hat, mut resid, mut h1) =
            (&mut self.rx1[..], &mut self.u_hat[..], &mut self.resid[..], &mut self.h1[..]);
        let mut chunks = Vec::with_capacity(cp.l0.div_ceil(LEVELS_PER_CHUNK));
        for first in (0..cp.l0).step_by(LEVELS_PER_CHUNK) {
            let n = LEVELS_PER_CHUNK.min(cp.l0 - first);
            chunks.push(Chunk {
                first,
                q1: take_front(&mut q1, n * q0 * k),
                v1: take_front(&mut v1, n * q0 * k),
                p1: take_front(&mut p1, n * q0 * k),
                rx1: take_front(&mut rx1, n * q0 * p),
                u_hat: take_front(&mut u_hat, n * q0),
                resid: take_front(&mut resid, n * q0),
                h1: take_front(&mut h1, n * q0 * q0),
            });
        }
        if chunks.len() > 1 {
            chunks.into_par_iter().for_each(|c| chunk_levels(&shared, c));
        } else {
            chunks.into_iter().for_each(|c| chunk_levels(&shared, c));
        }
    }
}

/// The levels of one chunk, with the common block sizes known to the
/// compiler (it unrolls a level's tiny loops; the arithmetic is the same).
fn chunk_levels(s: &Shared, c: Chunk) {
    match s.cp.q0 {
        1 => chunk_levels_of(s, c, 1),
        2 => chunk_levels_of(s, c, 2),
        3 => chunk_levels_of(s, c, 3),
        q0 => chunk_levels_of(s, c, q0),
    }
}

/// The levels of one chunk, one after the other.
#[inline(always)]
fn chunk_levels_of(s: &Shared, c: Chunk, q0: usize) {
    let (p, k) = (s.cp.p, s.cp.p + 1);
    let mut m1 = vec![0.0; q0 * q0];
    let mut g = vec![0.0; q0 * q0];
    let n = c.u_hat.len() / q0;
    for i in 0..n {
        let j = c.first + i;
        let l11 = &s.factor.l11[j * q0 * q0..(j + 1) * q0 * q0];
        let zz = &s.cp.zz0[j * q0 * q0..(j + 1) * q0 * q0];
        let (qj, vj, pj) = (
            &mut c.q1[i * q0 * k..(i + 1) * q0 * k],
            &mut c.v1[i * q0 * k..(i + 1) * q0 * k],
            &mut c.p1[i * q0 * k..(i + 1) * q0 * k],
        );
        // Q_j = L11_j^{-T} L_{X1,j}'.
        qj.copy_from_slice(&s.factor.lx1[j * q0 * k..(j + 1) * q0 * k]);
        small::solve_lower_transpose(l11, q0, qj, k);
        // V_j = lambda0 Q_j, P_j = Z_j'[X y] - Z_j'Z_j V_j.
        lambda_times(s.lam0, q0, qj, vj, k);
        pj.copy_from_slice(&s.cp.zxy0[j * q0 * k..(j + 1) * q0 * k]);
        for col in 0..k {
            for x in 0..q0 {
                pj[col * q0 + x] -= (0..q0).map(|y| zz[y * q0 + x] * vj[col * q0 + y]).sum::<f64>();
            }
        }
        // u-hat = Q e, P e with e = (-beta, 1).
        let combine = |src: &[f64], row: usize| -> f64 {
            src[p * q0 + row] - (0..p).map(|col| src[col * q0 + row] * s.beta[col]).sum::<f64>()
        };
        for x in 0..q0 {
            c.u_hat[i * q0 + x] = combine(qj, x);
            c.resid[i * q0 + x] = combine(pj, x);
        }
        if let Some(vxx) = &s.vxx {
            let rx = &mut c.rx1[i * q0 * p..(i + 1) * q0 * p];
            for col in 0..p {
                for x in 0..q0 {
                    rx[col * q0 + x] = (0..p).map(|d| pj[d * q0 + x] * vxx[col * p + d]).sum();
                }
            }
        }
        // H_j = L11^{-T} (I) L11^{-1} lambda0' Z_j'Z_j (no rest block).
        small::at_m(s.lam0, zz, q0, q0, q0, &mut m1);
        small::solve_lower(l11, q0, &mut m1, q0);
        for t in 0..q0 {
            for u in 0..q0 {
                g[t * q0 + u] = if u == t { 1.0 } else { 0.0 };
            }
        }
        let h = &mut c.h1[i * q0 * q0..(i + 1) * q0 * q0];
        for t in 0..q0 {
            for u in 0..q0 {
                h[t * q0 + u] = (0..q0).map(|v| g[v * q0 + u] * m1[t * q0 + v]).sum();
            }
        }
        small::solve_lower_transpose(l11, q0, h, q0);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{GradientPieces, GradientWorkspace};
    use crate::data::DataFrame;
    use crate::design::DesignSpec;
    use crate::formula::ModelFormula;
    use crate::model::LinearMixedModel;

    /// One grouping factor of `levels` levels (three rows each), a slope, weights.
    fn model(formula: &str, levels: usize, reml: bool) -> LinearMixedModel {
        let n = 3 * levels;
        let wave = |i: usize, a: f64| ((i as f64) * a).sin();
        let g: Vec<String> = (0..n).map(|i| format!("g{}", i % levels)).collect();
        let x: Vec<f64> = (0..n).map(|i| wave(i, 0.7) + 0.1 * wave(i, 3.1)).collect();
        let y: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * x[i] + wave(i % levels, 1.3) + 0.8 * wave(i, 2.3)).collect();
        let df =
            DataFrame::new().with_numeric("y", y).unwrap().with_numeric("x", x).unwrap().with_labels("g", &g).unwrap();
        let (spec, design) = DesignSpec::learn(ModelFormula::parse(formula).unwrap(), &df, &[]).unwrap();
        let y = spec.numeric_response(&df).unwrap();
        let weights = Some((0..n).map(|i| 0.5 + (i % 4) as f64 * 0.25).collect());
        let p = design.x.ncols();
        LinearMixedModel::new(design.x.values, p, y, design.terms, weights, reml).unwrap()
    }

    /// The first block's own path (in chunks on the thread pool when the
    /// levels are many) gives the general passes' gradient to the last bit.
    #[test]
    fn first_block_path_matches_the_general_passes_exactly() {
        for (formula, theta) in [
            ("y ~ x + (x || g)", vec![0.7, 0.4]),
            ("y ~ x + (x | g)", vec![0.8, -0.3, 0.5]),
            ("y ~ x + (1 | g)", vec![1.1]),
        ] {
            for (levels, reml) in [(40, true), (9_000, true), (9_000, false)] {
                let mut m = model(formula, levels, reml);
                assert_eq!(m.cp.m, 0, "{formula}: one block");
                m.objective_at(&theta);
                let k = theta.len();
                let (mut fast, mut general) = (GradientPieces::zeros(k), GradientPieces::zeros(k));
                let mut ws = GradientWorkspace::new(&m.cp, &m.system, false);
                ws.compute(&m.cp, &m.system, &mut m.factor, &theta, reml, &mut fast);
                let mut ws = GradientWorkspace::new(&m.cp, &m.system, false);
                ws.compute_general(&m.cp, &m.system, &mut m.factor, &theta, reml, &mut general);
                assert_eq!(fast, general, "{formula}, {levels} levels, REML {reml}");
                assert!(fast.pwrss.iter().all(|v| v.is_finite() && *v != 0.0), "{formula}: {fast:?}");
            }
        }
    }
}
