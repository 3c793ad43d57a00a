//! Parts of the inverse of the penalized system, read off the blocked
//! Cholesky factor without forming anything n x n or q x q in full.
//!
//! With A = Lambda'Z'Z Lambda + I = L L', L = [L11 0; L21 L22] (L11 block
//! diagonal over the first term's levels j, S = L22 L22' the rest):
//!
//! ```text
//!   (A^{-1})_{jj'} = delta_jj' L11_j^{-T} L11_j^{-1} + N_j' S^{-1} N_j'   N_j = L21_j L11_j^{-1}
//!   (A^{-1})_{R j} = -S^{-1} N_j
//!   (A^{-1})_{RR}  = S^{-1}
//! ```
//!
//! N_j lives on the rest blocks level j touches, so the entries of A^{-1}
//! that one level's rows need come from S^{-1} on pairs of those blocks:
//! exactly the pattern of S (a selected inverse). For the joint system of
//! (u, beta), [A, Lambda'Z'X; X'Z Lambda, X'X], the inverse restricted to
//! some coordinates R of u and to beta is (the Schur complement)
//!
//! ```text
//!   Gamma = [ A^{-1}_RR + U_R C U_R'   -U_R C ]     U = A^{-1} Lambda'Z'X (q x p)
//!           [ -C U_R'                    C    ]     C = (X'V0^{-1}X)^{-1}
//! ```

use rayon::prelude::*;

use crate::linalg::{self, small};
use crate::model::rest::RestPattern;
use crate::model::LinearMixedModel;

/// S^{-1}: in full when S is stored dense, on S's pattern when sparse.
pub enum RestInverse {
    None,
    Dense { m: usize, values: Vec<f64> },
    Pattern { pattern: RestPattern, values: Vec<f64> },
}

/// Right-hand sides solved at once for the sparse selected inverse.
const SOLVE_BATCH: usize = 64;

impl RestInverse {
    pub fn new(model: &LinearMixedModel) -> RestInverse {
        let rest = &model.factor.rest;
        let m = model.cp.m;
        if m == 0 {
            return RestInverse::None;
        }
        if let Some(values) = rest.dense_inverse() {
            return RestInverse::Dense { m, values };
        }
        let pattern = rest.pattern().clone();
        let RestPattern::Sparse { col_ptr, row_idx, .. } = &pattern else { unreachable!("dense handled above") };
        // Columns of S^{-1} in batches (in parallel), keeping the entries on
        // the pattern of S's lower triangle.
        let starts: Vec<usize> = (0..m).step_by(SOLVE_BATCH).collect();
        let pieces: Vec<Vec<f64>> = starts
            .par_iter()
            .map(|&c0| {
                let cols = SOLVE_BATCH.min(m - c0);
                let mut rhs = vec![0.0; m * cols];
                for c in 0..cols {
                    rhs[c * m + c0 + c] = 1.0;
                }
                rest.solve_fresh(&mut rhs, cols);
                let mut out = Vec::new();
                for c in 0..cols {
                    let col = c0 + c;
                    out.extend(row_idx[col_ptr[col]..col_ptr[col + 1]].iter().map(|&r| rhs[c * m + r]));
                }
                out
            })
            .collect();
        RestInverse::Pattern { values: pieces.concat(), pattern }
    }

    /// S^{-1}[r, c], if known (always for dense storage; on the pattern otherwise).
    pub fn get(&self, r: usize, c: usize) -> Option<f64> {
        let (r, c) = if r >= c { (r, c) } else { (c, r) };
        match self {
            RestInverse::None => None,
            RestInverse::Dense { m, values } => Some(values[c * m + r]),
            RestInverse::Pattern { pattern, values } => pattern.position(r, c).map(|pos| values[pos]),
        }
    }
}

/// The pieces of A^{-1} and of the joint inverse shared by every deletion set.
pub struct PlsInverse<'a> {
    pub model: &'a LinearMixedModel,
    pub sinv: RestInverse,
    /// N_j = L21_j L11_j^{-1}, laid out as the cross values (q_b x q0 an entry).
    n: Vec<f64>,
    /// L11_j^{-T} L11_j^{-1}, q0 x q0 a level.
    l11_inv: Vec<f64>,
    /// U = A^{-1} Lambda'Z'X, q x p column-major.
    pub u: Vec<f64>,
    /// C = (X'V0^{-1}X)^{-1}, p x p.
    pub c: Vec<f64>,
}

impl<'a> PlsInverse<'a> {
    /// The model's factor must be at the theta of interest.
    pub fn new(model: &'a LinearMixedModel) -> PlsInverse<'a> {
        let cp = &model.cp;
        let f = &model.factor;
        let q0 = cp.q0;
        let mut n = f.l21.clone();
        let mut l11_inv = vec![0.0; cp.l0 * q0 * q0];
        for j in 0..cp.l0 {
            let l = &f.l11[j * q0 * q0..(j + 1) * q0 * q0];
            for e in cp.level_cross(j) {
                let qb = cp.rest_blocks[e.block()].q;
                // N L = W row by row: L' n' = w'.
                let blk = &mut n[e.values()..e.values() + qb * q0];
                let mut row = vec![0.0; q0];
                for rb in 0..qb {
                    for (t, v) in row.iter_mut().enumerate() {
                        *v = blk[t * qb + rb];
                    }
                    small::solve_lower_transpose(l, q0, &mut row, 1);
                    for (t, v) in row.iter().enumerate() {
                        blk[t * qb + rb] = *v;
                    }
                }
            }
            let out = &mut l11_inv[j * q0 * q0..(j + 1) * q0 * q0];
            for d in 0..q0 {
                out[d * q0 + d] = 1.0;
            }
            // L^{-T} L^{-1} = L^{-T} (L^{-1} I)
            small::solve_lower(l, q0, out, q0);
            small::solve_lower_transpose(l, q0, out, q0);
        }
        PlsInverse { model, sinv: RestInverse::new(model), n, l11_inv, u: solve_u(model), c: model.unscaled_vcov() }
    }

    pub fn p(&self) -> usize {
        self.model.p()
    }

    /// A^{-1} on the coordinates of the first-term levels `levels` (sorted,
    /// distinct) and of every rest row those levels touch; None when S^{-1}
    /// is not known on all of them (a sparse rest and levels far apart).
    pub fn local(&self, levels: &[usize]) -> Option<LocalInverse> {
        let cp = &self.model.cp;
        let q0 = cp.q0;
        let mut rest_rows: Vec<usize> = Vec::new();
        for &j in levels {
            for e in cp.level_cross(j) {
                let b = cp.rest_blocks[e.block()];
                rest_rows.extend(b.row..b.row + b.q);
            }
        }
        rest_rows.sort_unstable();
        rest_rows.dedup();
        let (nf, nr) = (levels.len() * q0, rest_rows.len());
        let mut sinv = vec![0.0; nr * nr];
        for (c, &rc) in rest_rows.iter().enumerate() {
            for (r, &rr) in rest_rows.iter().enumerate().skip(c) {
                let v = self.sinv.get(rr, rc)?;
                sinv[c * nr + r] = v;
                sinv[r * nr + c] = v;
            }
        }
        // N on the local rest rows, one column a first-term coordinate.
        let mut nloc = vec![0.0; nr * nf];
        for (jj, &j) in levels.iter().enumerate() {
            for e in cp.level_cross(j) {
                let b = cp.rest_blocks[e.block()];
                let at = rest_rows.binary_search(&b.row).expect("the level's rows are local");
                for a in 0..q0 {
                    for rb in 0..b.q {
                        nloc[(jj * q0 + a) * nr + at + rb] = self.n[e.values() + a * b.q + rb];
                    }
                }
            }
        }
        let mut sn = vec![0.0; nr * nf];
        linalg::gemm_nn(&mut sn, &sinv, &nloc, nr, nr, nf, 1.0, false);
        let dim = nf + nr;
        let mut g = vec![0.0; dim * dim];
        // First-term block: blockdiag(L11^{-T} L11^{-1}) + N' S^{-1} N.
        let mut ff = vec![0.0; nf * nf];
        linalg::gemm_tn(&mut ff, &nloc, &sn, nr, nf, nf, 1.0, false);
        for (jj, &j) in levels.iter().enumerate() {
            for a in 0..q0 {
                for b in 0..q0 {
                    ff[(jj * q0 + b) * nf + jj * q0 + a] += self.l11_inv[j * q0 * q0 + b * q0 + a];
                }
            }
        }
        for c in 0..nf {
            g[c * dim..c * dim + nf].copy_from_slice(&ff[c * nf..(c + 1) * nf]);
            for r in 0..nr {
                g[c * dim + nf + r] = -sn[c * nr + r];
                g[(nf + r) * dim + c] = -sn[c * nr + r];
            }
        }
        for c in 0..nr {
            for r in 0..nr {
                g[(nf + c) * dim + nf + r] = sinv[c * nr + r];
            }
        }
        let first = cp.l0 * q0;
        let mut coords: Vec<usize> = levels.iter().flat_map(|&j| (0..q0).map(move |a| j * q0 + a)).collect();
        coords.extend(rest_rows.iter().map(|r| first + r));
        Some(LocalInverse { coords, g })
    }

    /// Gamma: the joint inverse on `local`'s coordinates and beta (the
    /// coordinates first, then the p fixed effects).
    pub fn gamma(&self, local: &LocalInverse) -> Vec<f64> {
        let cp = &self.model.cp;
        let (p, r, q) = (self.p(), local.coords.len(), cp.l0 * cp.q0 + cp.m);
        let dim = r + p;
        // U_R (r x p) and U_R C.
        let mut ur = vec![0.0; r * p];
        for c in 0..p {
            for (i, &coord) in local.coords.iter().enumerate() {
                ur[c * r + i] = self.u[c * q + coord];
            }
        }
        let mut urc = vec![0.0; r * p];
        linalg::gemm_nn(&mut urc, &ur, &self.c, r, p, p, 1.0, false);
        let mut ucu = vec![0.0; r * r];
        linalg::gemm_nt(&mut ucu, &urc, &ur, r, p, r, 1.0, false);
        let mut gamma = vec![0.0; dim * dim];
        for c in 0..r {
            for i in 0..r {
                gamma[c * dim + i] = local.g[c * r + i] + ucu[c * r + i];
            }
        }
        for c in 0..p {
            for i in 0..r {
                gamma[(r + c) * dim + i] = -urc[c * r + i];
                gamma[i * dim + r + c] = -urc[c * r + i];
            }
            for i in 0..p {
                gamma[(r + c) * dim + r + i] = self.c[c * p + i];
            }
        }
        gamma
    }
}

/// A^{-1} restricted to a few coordinates of u.
pub struct LocalInverse {
    /// The coordinates (first-term ones first, then the rest's), ascending in each part.
    pub coords: Vec<usize>,
    /// A^{-1} on them, dense, column-major.
    pub g: Vec<f64>,
}

impl LocalInverse {
    /// Position of a coordinate among `coords`.
    pub fn index(&self, coord: usize) -> Option<usize> {
        self.coords.iter().position(|&c| c == coord)
    }
}

/// U = A^{-1} Lambda'Z'X by back substitution through the factor, the X
/// columns of [X y] as right-hand sides (as `LinearMixedModel::u` does for y).
fn solve_u(model: &LinearMixedModel) -> Vec<f64> {
    let cp = &model.cp;
    let f = &model.factor;
    let (q0, k, m, p) = (cp.q0, cp.p + 1, cp.m, cp.p);
    let q = cp.l0 * q0 + m;
    let mut u = vec![0.0; q * p];
    // Rest: S^{-1} T_X.
    let mut rest = f.lxr[..m * p].to_vec();
    f.rest.solve_fresh(&mut rest, p);
    for c in 0..p {
        u[c * q + cp.l0 * q0..(c + 1) * q].copy_from_slice(&rest[c * m..(c + 1) * m]);
        for j in 0..cp.l0 {
            let lx = &f.lx1[j * q0 * k..(j + 1) * q0 * k];
            let mut uj: Vec<f64> = lx[c * q0..(c + 1) * q0].to_vec();
            for e in cp.level_cross(j) {
                let blk = cp.rest_blocks[e.block()];
                let l21 = &f.l21[e.values()..e.values() + blk.q * q0];
                for (t, v) in uj.iter_mut().enumerate() {
                    for r in 0..blk.q {
                        *v -= l21[t * blk.q + r] * rest[c * m + blk.row + r];
                    }
                }
            }
            small::solve_lower_transpose(&f.l11[j * q0 * q0..(j + 1) * q0 * q0], q0, &mut uj, 1);
            u[c * q + j * q0..c * q + (j + 1) * q0].copy_from_slice(&uj);
        }
    }
    u
}
