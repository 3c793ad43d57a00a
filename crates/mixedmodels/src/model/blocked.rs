//! The blocked Cholesky factor L(theta) of
//!
//! ```text
//!   [ Lambda'Z'Z Lambda + I   Lambda'Z'[X y] ]
//!   [ [X y]'Z Lambda          [X y]'[X y]    ]
//! ```
//!
//! in three block rows: the first term (block diagonal), the rest (dense),
//! and [X y] (dense), as MixedModels.jl's `updateL!`. All buffers are
//! allocated once; `update` allocates nothing.

use super::crossprod::CrossProducts;
use super::rest::{RestFactor, RestPattern};
use super::system::SystemTerms;
use rayon::prelude::*;

use crate::linalg::{self, small, DenseCholesky};

mod first_term;
mod panels;

use panels::SchurPanels;

/// Up to this many columns of [X y], the small-matrix Cholesky is used.
const SMALL_XX: usize = 16;

/// Below this many rows in the rest, its update runs on one thread.
const PARALLEL_MIN_REST: usize = 256;

/// The scalar Schur update gathers pairs of L21 entries one at a time; a
/// dense product (faer's triangular matrix product) does m^2 l0 / 2
/// multiply-adds but about this many times faster per multiply-add.
const DENSE_SCHUR_SPEEDUP: f64 = 25.0;

/// Largest dense copy of L21 (m x l0 values) the dense update keeps,
/// unless it is at most twice the sparse L21's own values (crossed factors
/// whose levels nearly all meet: the copy no more than doubles that memory);
/// beyond it, the dense update runs over panels of L21 of at most this size.
const DENSE_SCHUR_MAX_VALUES: usize = 1 << 23;

pub struct BlockedFactor {
    /// L11: one lower q0 x q0 factor a level of the first term.
    pub l11: Vec<f64>,
    /// L21 blocks, laid out as `CrossProducts::cross_values` (q_b x q0 each).
    pub l21: Vec<f64>,
    /// L_{X,1}': one q0 x (p+1) block a level (the [X y] rows' first-term part, transposed).
    pub lx1: Vec<f64>,
    /// The rest's block S and its factor.
    pub rest: RestFactor,
    /// T = lambda_R' Z_R'[X y] - sum_j L21_j L_{X1,j}' (m x (p+1)); L_{XR}' = L22^{-1} T.
    pub lxr: Vec<f64>,
    /// S^{-1} T, scratch for the [X y] block.
    lxr_solved: Vec<f64>,
    /// The [X y] block, factored in place into L_XX ((p+1) x (p+1)).
    pub lxx: Vec<f64>,
    /// Each term's lambda (q_k x q_k), refreshed from theta.
    lambdas: Vec<Vec<f64>>,
    scratch: Vec<f64>,
    /// The diagonal of Lambda_R when every rest term is scalar.
    rest_scale: Vec<f64>,
    xx_tmp: Vec<f64>,
    /// Schur-update workspace: accumulators over the rest's rows, one a column of a block.
    acc: Vec<f64>,
    /// One accumulator a chunk of columns, for the parallel scalar update.
    acc_pool: Vec<Vec<f64>>,
    /// L21 as a dense m x (l0 q0) matrix, when the Schur update runs as a
    /// dense product (a rest crossed with most levels of the first term).
    pub l21_dense: Option<Vec<f64>>,
    /// L_X1 as a dense (l0 q0) x (p+1) matrix, beside `l21_dense` for vector first terms.
    lx1_dense: Option<Vec<f64>>,
    /// Dense panels of L21 for the Schur update by matrix products, when a
    /// dense copy of the whole L21 is not affordable.
    schur_panels: Option<SchurPanels>,
    chol_xx: DenseCholesky,
    /// False if the last update failed (a non-positive pivot).
    pub ok: bool,
}

/// The pieces of the profiled objective read off the factor's diagonal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pieces {
    /// log det(Lambda'Z'Z Lambda + I).
    pub ld_l2: f64,
    /// log det(R_X' R_X).
    pub ld_rx2: f64,
    /// Penalized weighted residual sum of squares r^2(theta).
    pub pwrss: f64,
}

impl BlockedFactor {
    pub fn new(cp: &CrossProducts, par: &SystemTerms) -> Self {
        let k = cp.p + 1;
        let qmax = par.terms.iter().map(|t| t.q).max().unwrap_or(1);
        let schur = schur_update(cp);
        BlockedFactor {
            l11: vec![0.0; cp.zz0.len()],
            l21: vec![0.0; cp.cross_values.len()],
            lx1: vec![0.0; cp.zxy0.len()],
            rest: RestFactor::new(&cp.pattern, k),
            lxr: vec![0.0; cp.m * k],
            lxr_solved: vec![0.0; cp.m * k],
            lxx: vec![0.0; k * k],
            lambdas: par.terms.iter().map(|t| vec![0.0; t.q * t.q]).collect(),
            scratch: vec![0.0; qmax * qmax.max(k)],
            rest_scale: vec![0.0; cp.m],
            xx_tmp: vec![0.0; k * k],
            acc: vec![0.0; cp.m * qmax],
            acc_pool: (0..if cp.all_scalar && cp.m >= PARALLEL_MIN_REST && cp.pattern.is_dense() {
                8 * rayon::current_num_threads()
            } else {
                1
            })
                .map(|_| vec![0.0; cp.m])
                .collect(),
            l21_dense: (schur == SchurUpdate::Whole).then(|| vec![0.0; cp.m * cp.l0 * cp.q0]),
            lx1_dense: (schur == SchurUpdate::Whole && cp.q0 > 1).then(|| vec![0.0; cp.l0 * cp.q0 * k]),
            schur_panels: match schur {
                SchurUpdate::Panels { levels } => Some(SchurPanels::new(cp, levels)),
                _ => None,
            },
            chol_xx: DenseCholesky::new(k),
            ok: false,
        }
    }

    /// Values held by dense copies of L21 (the whole, or the Schur panels).
    pub fn dense_l21_values(&self) -> usize {
        self.l21_dense.as_ref().map_or(0, Vec::len) + self.schur_panels.as_ref().map_or(0, SchurPanels::len)
    }

    /// Refactor for a new theta.
    pub fn update(&mut self, cp: &CrossProducts, par: &SystemTerms, theta: &[f64]) {
        for (kk, l) in self.lambdas.iter_mut().enumerate() {
            par.fill_lambda(theta, kk, l);
        }
        self.ok = self.first_term(cp) && self.rest(cp, par) && self.fixed_block(cp);
    }

    /// S = L22 L22' = lambda_R' Z_R'Z_R lambda_R + I - sum_j L21_j L21_j', and
    /// T = lambda_R' Z_R'[X y] - sum_j L21_j L_{X1,j}' (so L_{XR}' = L22^{-1} T).
    fn rest(&mut self, cp: &CrossProducts, _par: &SystemTerms) -> bool {
        let (m, q0, k) = (cp.m, cp.q0, cp.p + 1);
        if m == 0 {
            return true;
        }
        if cp.all_scalar {
            self.scalar_rest(cp);
        } else if self.schur_panels.is_some() {
            self.scale_rest(cp);
        } else if self.l21_dense.is_some() {
            self.scale_rest(cp);
            self.subtract_schur_dense(cp);
            return self.rest.factor();
        } else {
            self.scale_rest(cp);
            self.subtract_schur_blocks(cp);
        }
        if let Some(panels) = self.schur_panels.as_mut() {
            panels.subtract(cp, &self.l21, &self.lx1, self.rest.values_mut(), &mut self.lxr);
            return self.rest.factor();
        }
        if let Some(a) = &self.l21_dense {
            // T -= A L_X1' with A the dense L21 (m x l0) and L_X1' stored k x l0.
            linalg::gemm_nt(&mut self.lxr, a, &self.lx1, m, cp.l0, k, -1.0, true);
            return self.rest.factor();
        }
        // T[a rows, :] -= L21_j[a] L_{X1,j}' for every level j and its blocks a.
        for j in 0..cp.l0 {
            let lx1 = &self.lx1[j * q0 * k..(j + 1) * q0 * k];
            for ea in cp.level_cross(j) {
                let ba = cp.rest_blocks[ea.block()];
                let la = &self.l21[ea.values()..ea.values() + ba.q * q0];
                for c in 0..k {
                    let col = &mut self.lxr[c * m..(c + 1) * m];
                    for ca in 0..ba.q {
                        let mut s = 0.0;
                        for t in 0..q0 {
                            s += la[t * ba.q + ca] * lx1[c * q0 + t];
                        }
                        col[ba.row + ca] -= s;
                    }
                }
            }
        }
        self.rest.factor()
    }

    /// The rest when every term is scalar: S = lambda_R Z_R'Z_R lambda_R + I
    /// minus the sum over j of L21_j L21_j' (lower triangle), column by
    /// column. For column a the sum over the levels j touching a of L21[b, j] L21[a, j] (rows
    /// b >= a) gathers into a dense buffer over the rows, which stays in L1
    /// cache; the column of S is then written in one sequential sweep.
    /// Scattering each level's outer product straight into S instead is bound
    /// by cache misses. Columns are independent, so chunks of them run in
    /// parallel, each chunk with its own buffer.
    fn scalar_rest(&mut self, cp: &CrossProducts) {
        let m = cp.m;
        for (s, b) in self.rest_scale.iter_mut().zip(&cp.rest_blocks) {
            *s = self.lambdas[b.term][0];
        }
        let (scale, l21) = (&self.rest_scale, &self.l21);
        let pattern = &cp.pattern;
        let accumulate = |a: usize, acc: &mut [f64]| {
            for &(j, ea) in &cp.block_entries[cp.block_ptr[a]..cp.block_ptr[a + 1]] {
                let (ea, end) = (ea as usize, cp.cross_ptr[j as usize + 1]);
                let la = l21[ea];
                for (row, lb) in cp.entry_row[ea..end].iter().zip(&l21[ea..end]) {
                    acc[*row as usize] += la * lb;
                }
            }
        };
        match pattern {
            RestPattern::Dense { .. } if self.schur_panels.is_some() => {
                // S = scale Z_R'Z_R scale + I here; `rest` subtracts L21 L21' panel by panel.
                let values = self.rest.values_mut();
                for c in 0..m {
                    let zz = &cp.zz_rest[c * m..(c + 1) * m];
                    for r in c..m {
                        values[c * m + r] = zz[r] * scale[r] * scale[c];
                    }
                    values[c * m + c] += 1.0;
                }
            }
            RestPattern::Dense { .. } if self.l21_dense.is_some() => {
                // S = scale Z_R'Z_R scale + I - A A' with A[b, j] = L21 of level j, rest row b.
                // Every update writes the same positions (the structure is
                // fixed), so the zeros elsewhere, set at allocation, stay.
                let a = self.l21_dense.as_mut().expect("checked");
                for j in 0..cp.l0 {
                    let column = &mut a[j * m..(j + 1) * m];
                    for e in cp.cross_ptr[j]..cp.cross_ptr[j + 1] {
                        column[cp.entry_row[e] as usize] = l21[e];
                    }
                }
                let values = self.rest.values_mut();
                for c in 0..m {
                    let zz = &cp.zz_rest[c * m..(c + 1) * m];
                    for r in c..m {
                        values[c * m + r] = zz[r] * scale[r] * scale[c];
                    }
                    values[c * m + c] += 1.0;
                }
                linalg::sub_aat_lower(values, m, a, cp.l0);
            }
            RestPattern::Dense { .. } => {
                let cols_per_chunk = m.div_ceil(self.acc_pool.len());
                let column = |a: usize, col: &mut [f64], acc: &mut [f64]| {
                    accumulate(a, acc);
                    let zz = &cp.zz_rest[a * m..(a + 1) * m];
                    let sa = scale[a];
                    for r in a..m {
                        col[r] = zz[r] * scale[r] * sa - acc[r];
                        acc[r] = 0.0;
                    }
                    col[a] += 1.0;
                };
                let work = |(chunk, (cols, acc)): (usize, (&mut [f64], &mut Vec<f64>))| {
                    for (i, col) in cols.chunks_mut(m).enumerate() {
                        column(chunk * cols_per_chunk + i, col, acc);
                    }
                };
                let values = self.rest.values_mut();
                if m >= PARALLEL_MIN_REST {
                    values
                        .par_chunks_mut(cols_per_chunk * m)
                        .zip(self.acc_pool.par_iter_mut())
                        .enumerate()
                        .for_each(work);
                } else {
                    values.chunks_mut(cols_per_chunk * m).zip(self.acc_pool.iter_mut()).enumerate().for_each(work);
                }
            }
            RestPattern::Sparse { col_ptr, row_idx, .. } => {
                let acc = &mut self.acc_pool[0];
                let values = self.rest.values_mut();
                for a in 0..m {
                    accumulate(a, acc);
                    let sa = scale[a];
                    for pos in col_ptr[a]..col_ptr[a + 1] {
                        let r = row_idx[pos];
                        values[pos] = cp.zz_rest[pos] * scale[r] * sa - acc[r] + if r == a { 1.0 } else { 0.0 };
                        acc[r] = 0.0;
                    }
                }
            }
        }
        for c in 0..cp.p + 1 {
            for r in 0..m {
                self.lxr[c * m + r] = cp.zxy_rest[c * m + r] * scale[r];
            }
        }
    }

    /// S -= A A' and T -= A L_X1 with A = L21 as a dense m x (l0 q0) matrix,
    /// by two matrix products (vector terms; see [`schur_update`]). Every
    /// update writes the same positions of A, so the zeros set at allocation stay.
    fn subtract_schur_dense(&mut self, cp: &CrossProducts) {
        let (m, q0, k) = (cp.m, cp.q0, cp.p + 1);
        let cols = cp.l0 * q0;
        let a = self.l21_dense.as_mut().expect("allocated");
        for j in 0..cp.l0 {
            for e in cp.level_cross(j) {
                let b = cp.rest_blocks[e.block()];
                for t in 0..q0 {
                    let col = (j * q0 + t) * m + b.row;
                    a[col..col + b.q].copy_from_slice(&self.l21[e.values() + t * b.q..e.values() + (t + 1) * b.q]);
                }
            }
        }
        linalg::sub_aat_lower(self.rest.values_mut(), m, a, cols);
        match self.lx1_dense.as_mut() {
            // L_X1' is stored k x l0 when q0 = 1.
            None => linalg::gemm_nt(&mut self.lxr, a, &self.lx1, m, cols, k, -1.0, true),
            Some(bx) => {
                for j in 0..cp.l0 {
                    for c in 0..k {
                        for t in 0..q0 {
                            bx[c * cols + j * q0 + t] = self.lx1[j * q0 * k + c * q0 + t];
                        }
                    }
                }
                linalg::gemm_nn(&mut self.lxr, a, bx, m, cols, k, -1.0, true);
            }
        }
    }

    fn subtract_schur_blocks(&mut self, cp: &CrossProducts) {
        let (m, q0) = (cp.m, cp.q0);
        for (a, ba) in cp.rest_blocks.iter().enumerate() {
            let qa = ba.q;
            let touching = &cp.block_entries[cp.block_ptr[a]..cp.block_ptr[a + 1]];
            for &(j, ea) in touching {
                let (ea, end) = (ea as usize, cp.cross_ptr[j as usize + 1]);
                let la = &self.l21[cp.cross[ea].values()..cp.cross[ea].values() + qa * q0];
                for eb in &cp.cross[ea..end] {
                    let bb = cp.rest_blocks[eb.block()];
                    let lb = &self.l21[eb.values()..eb.values() + bb.q * q0];
                    for ca in 0..qa {
                        for cb in 0..bb.q {
                            let mut v = 0.0;
                            for t in 0..q0 {
                                v += lb[t * bb.q + cb] * la[t * qa + ca];
                            }
                            self.acc[ca * m + bb.row + cb] += v;
                        }
                    }
                }
            }
            let values = self.rest.values_mut();
            for ca in 0..qa {
                let col = ba.row + ca;
                let acc = &mut self.acc[ca * m..(ca + 1) * m];
                match &cp.pattern {
                    RestPattern::Dense { .. } => {
                        let dst = &mut values[col * m..(col + 1) * m];
                        for (c, v) in dst[col..].iter_mut().zip(&mut acc[col..]) {
                            *c -= *v;
                            *v = 0.0;
                        }
                    }
                    RestPattern::Sparse { col_ptr, row_idx, .. } => {
                        for pos in col_ptr[col]..col_ptr[col + 1] {
                            values[pos] -= std::mem::take(&mut acc[row_idx[pos]]);
                        }
                    }
                }
                // Rows of this block above the diagonal were accumulated too; clear them.
                acc[ba.row..col].iter_mut().for_each(|v| *v = 0.0);
            }
        }
    }

    fn scale_rest(&mut self, cp: &CrossProducts) {
        let (m, k) = (cp.m, cp.p + 1);
        let pattern = &cp.pattern;
        let zz = |row: usize, col: usize| {
            let (r, c) = if row >= col { (row, col) } else { (col, row) };
            pattern.position(r, c).map_or(0.0, |pos| cp.zz_rest[pos])
        };
        let values = self.rest.values_mut();
        values.iter_mut().for_each(|v| *v = 0.0);
        // Blocks (a, b) of the pattern become lambda_a' Z_a'Z_b lambda_b.
        for bb in &cp.rest_blocks {
            for ba in cp.rest_blocks.iter().filter(|ba| ba.row >= bb.row) {
                if pattern.position(ba.row + ba.q - 1, bb.row).is_none() {
                    continue;
                }
                let (la, lb) = (&self.lambdas[ba.term], &self.lambdas[bb.term]);
                for cb in 0..bb.q {
                    for ca in 0..ba.q {
                        let (row, col) = (ba.row + ca, bb.row + cb);
                        if row < col {
                            continue;
                        }
                        // sum_{r,s} la[r, ca] Z[ra + r, rb + s] lb[s, cb]
                        let mut v = 0.0;
                        for s in cb..bb.q {
                            let lbs = lb[cb * bb.q + s];
                            for r in ca..ba.q {
                                v += la[ca * ba.q + r] * zz(ba.row + r, bb.row + s) * lbs;
                            }
                        }
                        if let Some(pos) = pattern.position(row, col) {
                            values[pos] = v + if row == col { 1.0 } else { 0.0 };
                        }
                    }
                }
            }
        }
        for ba in &cp.rest_blocks {
            let la = &self.lambdas[ba.term];
            for c in 0..k {
                for ca in 0..ba.q {
                    let mut v = 0.0;
                    for r in ca..ba.q {
                        v += la[ca * ba.q + r] * cp.zxy_rest[c * m + ba.row + r];
                    }
                    self.lxr[c * m + ba.row + ca] = v;
                }
            }
        }
    }

    /// L_XX L_XX' = [X y]'[X y] - sum_j L_{X1,j} L_{X1,j}' - T' S^{-1} T.
    fn fixed_block(&mut self, cp: &CrossProducts) -> bool {
        let (q0, k, m) = (cp.q0, cp.p + 1, cp.m);
        self.lxx.copy_from_slice(&cp.xyxy);
        for j in 0..cp.l0 {
            let a = &self.lx1[j * q0 * k..(j + 1) * q0 * k];
            for c in 0..k {
                for r in c..k {
                    let mut s = 0.0;
                    for t in 0..q0 {
                        s += a[r * q0 + t] * a[c * q0 + t];
                    }
                    self.lxx[c * k + r] -= s;
                }
            }
        }
        if m > 0 {
            // lxx -= T' S^{-1} T (= L_XR L_XR')
            self.rest.quadratic_form(&self.lxr, k, &mut self.lxr_solved, &mut self.xx_tmp);
            for c in 0..k {
                for r in c..k {
                    self.lxx[c * k + r] -= self.xx_tmp[c * k + r];
                }
            }
        }
        // A few fixed effects: the hand-written kernel beats a library call.
        if k <= SMALL_XX {
            small::cholesky(&mut self.lxx, k)
        } else {
            self.chol_xx.factor(&mut self.lxx).is_ok()
        }
    }

    /// The objective's pieces from the diagonals.
    pub fn pieces(&self, cp: &CrossProducts) -> Pieces {
        let (q0, k, p) = (cp.q0, cp.p + 1, cp.p);
        let mut ld_l2 = 0.0;
        for j in 0..cp.l0 {
            for d in 0..q0 {
                ld_l2 += self.l11[j * q0 * q0 + d * q0 + d].ln();
            }
        }
        let ld_rest = if cp.m > 0 { self.rest.logdet() } else { 0.0 };
        let ld_rx2: f64 = (0..p).map(|d| self.lxx[d * k + d].ln()).sum();
        let r = self.lxx[p * k + p];
        Pieces { ld_l2: 2.0 * ld_l2 + ld_rest, ld_rx2: 2.0 * ld_rx2, pwrss: r * r }
    }

    /// (R_X' R_X)^{-1} from the leading p x p block of L_XX: the covariance of
    /// beta-hat in units of sigma^2.
    pub fn unscaled_vcov(&self, p: usize) -> Vec<f64> {
        let k = p + 1;
        let mut rx = vec![0.0; p * p];
        for c in 0..p {
            for r in c..p {
                rx[c * p + r] = self.lxx[c * k + r];
            }
        }
        linalg::invert_lower_in_place(&mut rx, p);
        // (L L')^{-1} = L^{-T} L^{-1}
        let mut v = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                v[j * p + i] = (i.max(j)..p).map(|t| rx[i * p + t] * rx[j * p + t]).sum();
            }
        }
        v
    }
}

/// How the Schur update S -= sum_j L21_j L21_j' runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchurUpdate {
    /// Level by level, over the pairs of blocks each level touches.
    Pairwise,
    /// One dense product with a dense copy of the whole L21 (kept between
    /// updates; the gradient uses it too).
    Whole,
    /// Dense products over panels of `levels` levels of the first term.
    Panels { levels: usize },
}

/// Does the dense Schur update beat the pairwise one? Only with a dense
/// rest, when m^2 l0 q0 / 2 dense multiply-adds cost less than the sum over
/// levels of the pairwise ones (see [`DENSE_SCHUR_SPEEDUP`]). The whole of
/// L21 is copied when affordable, else it goes in panels of at most
/// [`DENSE_SCHUR_MAX_VALUES`] values.
fn schur_update(cp: &CrossProducts) -> SchurUpdate {
    let cols = cp.l0 * cp.q0;
    if !cp.pattern.is_dense() || cp.m == 0 || cols == 0 {
        return SchurUpdate::Pairwise;
    }
    let pairs: f64 = (0..cp.l0)
        .map(|j| {
            let rows: usize = cp.level_cross(j).iter().map(|e| cp.rest_blocks[e.block()].q).sum();
            (rows as f64).powi(2) * cp.q0 as f64
        })
        .sum();
    let dense = (cp.m as f64).powi(2) * cols as f64;
    if dense >= DENSE_SCHUR_SPEEDUP * pairs {
        return SchurUpdate::Pairwise;
    }
    let affordable = DENSE_SCHUR_MAX_VALUES.max(2 * cp.cross_values.len());
    if cp.m * cols <= affordable {
        SchurUpdate::Whole
    } else {
        SchurUpdate::Panels { levels: (DENSE_SCHUR_MAX_VALUES / (cp.m * cp.q0)).max(1) }
    }
}
