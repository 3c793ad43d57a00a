//! The first block row of the factor, level by level of the first term:
//!
//! ```text
//! L11_j = chol(lambda0' B_j lambda0 + I),  L21_j = lambda_R' C_j lambda0 L11_j^{-T},
//! L_{X1,j}' = L11_j^{-1} lambda0' Z_0j'[X y]
//! ```
//!
//! Each level reads and writes only its own blocks (its L21 blocks are
//! contiguous: the cross entries are stored level by level), so many levels
//! are split into chunks factored on the thread pool (rayon); the arithmetic
//! of a level does not depend on the chunks, so neither do the results.

use rayon::prelude::*;

use super::BlockedFactor;
use crate::linalg::small;
use crate::model::crossprod::CrossProducts;

/// Levels a task of the thread pool takes (fewer levels: one task, this thread).
const LEVELS_PER_CHUNK: usize = 4096;

/// A chunk of levels' blocks of the factor.
struct Chunk<'a> {
    levels: std::ops::Range<usize>,
    l11: &'a mut [f64],
    lx1: &'a mut [f64],
    /// The chunk's L21 blocks, from the offset `l21_start` of the whole.
    l21: &'a mut [f64],
    l21_start: usize,
}

/// The first `len` values of `buf`, leaving the rest in `buf`.
fn take_front<'a>(buf: &mut &'a mut [f64], len: usize) -> &'a mut [f64] {
    let (front, rest) = std::mem::take(buf).split_at_mut(len);
    *buf = rest;
    front
}

impl BlockedFactor {
    /// L11, L21 and L_X1' for every level of the first term; false if a
    /// level's block is not positive definite.
    pub(super) fn first_term(&mut self, cp: &CrossProducts) -> bool {
        let (q0, k) = (cp.q0, cp.p + 1);
        // Where level j's L21 blocks start.
        let l21_at = |j: usize| cp.cross.get(cp.cross_ptr[j]).map_or(self.l21.len(), |e| e.values());
        let starts: Vec<usize> = (0..cp.l0).step_by(LEVELS_PER_CHUNK).map(l21_at).collect();
        let (mut l11, mut lx1, mut l21) = (&mut self.l11[..], &mut self.lx1[..], &mut self.l21[..]);
        let mut chunks = Vec::with_capacity(starts.len());
        for (c, &l21_start) in starts.iter().enumerate() {
            let first = c * LEVELS_PER_CHUNK;
            let n = LEVELS_PER_CHUNK.min(cp.l0 - first);
            let l21_end = starts.get(c + 1).copied().unwrap_or(l21.len() + l21_start);
            chunks.push(Chunk {
                levels: first..first + n,
                l11: take_front(&mut l11, n * q0 * q0),
                lx1: take_front(&mut lx1, n * q0 * k),
                l21: take_front(&mut l21, l21_end - l21_start),
                l21_start,
            });
        }
        let lambdas = &self.lambdas;
        let scratch = self.scratch.len();
        if chunks.len() > 1 {
            chunks
                .into_par_iter()
                .map(|c| factor_levels(cp, lambdas, c, scratch))
                .collect::<Vec<bool>>()
                .into_iter()
                .all(|ok| ok)
        } else {
            chunks.into_iter().all(|c| factor_levels(cp, lambdas, c, scratch))
        }
    }
}

/// The first block row of a chunk's levels, with the common block sizes
/// known to the compiler (it unrolls a level's tiny loops; same arithmetic).
fn factor_levels(cp: &CrossProducts, lambdas: &[Vec<f64>], c: Chunk, scratch_len: usize) -> bool {
    match cp.q0 {
        1 => factor_levels_of(cp, lambdas, c, scratch_len, 1),
        2 => factor_levels_of(cp, lambdas, c, scratch_len, 2),
        q0 => factor_levels_of(cp, lambdas, c, scratch_len, q0),
    }
}

/// The first block row of a chunk's levels, one after the other (see the module notes).
#[inline(always)]
fn factor_levels_of(cp: &CrossProducts, lambdas: &[Vec<f64>], c: Chunk, scratch_len: usize, q0: usize) -> bool {
    let k = cp.p + 1;
    let lam0 = &lambdas[0];
    let mut scratch = vec![0.0; scratch_len];
    for (i, j) in c.levels.clone().enumerate() {
        let l = &mut c.l11[i * q0 * q0..(i + 1) * q0 * q0];
        let b = &cp.zz0[j * q0 * q0..(j + 1) * q0 * q0];
        if q0 == 1 {
            l[0] = (lam0[0] * lam0[0] * b[0] + 1.0).sqrt();
        } else if q0 == 2 {
            // An intercept and a slope, the most common vector term: closed forms.
            if !small::factor_2x2(lam0, b, l) {
                return false;
            }
        } else {
            small::at_m_b(lam0, b, lam0, q0, q0, q0, q0, &mut scratch, l);
            for d in 0..q0 {
                l[d * q0 + d] += 1.0;
            }
            if !small::cholesky(l, q0) {
                return false;
            }
        }
        let l = &c.l11[i * q0 * q0..(i + 1) * q0 * q0];
        for e in cp.level_cross(j) {
            let blk = cp.rest_blocks[e.block()];
            let qb = blk.q;
            let src = &cp.cross_values[e.values()..e.values() + qb * q0];
            let at = e.values() - c.l21_start;
            let dst = &mut c.l21[at..at + qb * q0];
            let lam_b = &lambdas[blk.term];
            if q0 == 1 && qb == 1 {
                dst[0] = lam_b[0] * src[0] * lam0[0] / l[0];
            } else {
                small::at_m_b(lam_b, src, lam0, qb, qb, q0, q0, &mut scratch, dst);
                small::solve_right_lower_transpose(l, q0, dst, qb);
            }
        }
        let src = &cp.zxy0[j * q0 * k..(j + 1) * q0 * k];
        let dst = &mut c.lx1[i * q0 * k..(i + 1) * q0 * k];
        if q0 == 2 {
            small::lambda_solve_2x2(lam0, l, src, dst, k);
        } else {
            small::at_m(lam0, src, q0, q0, k, dst);
            small::solve_lower(l, q0, dst, k);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{factor_levels, Chunk};
    use crate::data::DataFrame;
    use crate::design::DesignSpec;
    use crate::formula::ModelFormula;
    use crate::model::LinearMixedModel;

    /// `levels` levels of g (three rows each) crossed with 7 levels of h.
    fn model(formula: &str, levels: usize) -> LinearMixedModel {
        let n = 3 * levels;
        let wave = |i: usize, a: f64| ((i as f64) * a).sin();
        let g: Vec<String> = (0..n).map(|i| format!("g{}", i % levels)).collect();
        let h: Vec<String> = (0..n).map(|i| format!("h{}", (i * 5 + i / 3) % 7)).collect();
        let x: Vec<f64> = (0..n).map(|i| wave(i, 0.7)).collect();
        let y: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * x[i] + wave(i % levels, 1.3) + 0.8 * wave(i, 2.3)).collect();
        let df = DataFrame::new().with_numeric("y", y).unwrap().with_numeric("x", x).unwrap();
        let df = df.with_labels("g", &g).unwrap().with_labels("h", &h).unwrap();
        let (spec, design) = DesignSpec::learn(ModelFormula::parse(formula).unwrap(), &df, &[]).unwrap();
        let y = spec.numeric_response(&df).unwrap();
        let p = design.x.ncols();
        LinearMixedModel::new(design.x.values, p, y, design.terms, None, true).unwrap()
    }

    /// The factor's first block row computed in chunks on the thread pool
    /// equals the one computed in one pass over all levels, to the last bit.
    #[test]
    fn chunked_levels_match_one_pass() {
        for (formula, theta) in [
            ("y ~ x + (1 | g) + (1 | h)", vec![0.9, 0.4]),
            ("y ~ x + (x | g) + (x | h)", vec![0.8, -0.2, 0.5, 0.6, 0.1, 0.3]),
        ] {
            let mut m = model(formula, 9_000);
            assert!(m.cp.m > 0 && m.cp.l0 > super::LEVELS_PER_CHUNK, "{formula}: several chunks and a rest");
            m.objective_at(&theta);
            let f = &m.factor;
            let (mut l11, mut lx1, mut l21) = (vec![0.0; f.l11.len()], vec![0.0; f.lx1.len()], vec![0.0; f.l21.len()]);
            let chunk = Chunk { levels: 0..m.cp.l0, l11: &mut l11, lx1: &mut lx1, l21: &mut l21, l21_start: 0 };
            assert!(factor_levels(&m.cp, &f.lambdas, chunk, f.scratch.len()), "{formula}");
            assert_eq!((&l11, &lx1, &l21), (&f.l11, &f.lx1, &f.l21), "{formula}");
            assert!(l21.iter().any(|v| *v != 0.0), "{formula}: L21 filled");
        }
    }
}
