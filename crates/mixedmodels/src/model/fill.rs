//! Forming the weighted cross-products of [Z X y] from the rows: one pass of
//! multiply-adds through the rows' scatter positions. For refills (a GLMM's
//! PIRLS) large data are split into row chunks summed on separate threads
//! (rayon), each into its own buffers kept for the next refill, then added
//! in chunk order. The chunks depend on the number of rows only, so the sums
//! (to the last bit) do not depend on the number of threads.

use rayon::prelude::*;

use super::crossprod::CrossProducts;
use super::scatter::{RowScatter, NOT_STORED};
use crate::design::ReTerm;
use crate::linalg;

/// Rows a chunk must have before the pass is split across threads.
const MIN_ROWS_PER_CHUNK: usize = 40_000;

/// At most this many chunks (each holds a copy of the sums).
const MAX_CHUNKS: usize = 4;

/// The sums a pass over rows produces (the value arrays of [`CrossProducts`]
/// other than [X y]'[X y]).
#[derive(Debug, Clone, Default)]
pub struct RowSums {
    zz0: Vec<f64>,
    zxy0: Vec<f64>,
    cross_values: Vec<f64>,
    zz_rest: Vec<f64>,
    zxy_rest: Vec<f64>,
}

impl RowSums {
    fn zeros_like(cp: &CrossProducts) -> RowSums {
        RowSums {
            zz0: vec![0.0; cp.zz0.len()],
            zxy0: vec![0.0; cp.zxy0.len()],
            cross_values: vec![0.0; cp.cross_values.len()],
            zz_rest: vec![0.0; cp.zz_rest.len()],
            zxy_rest: vec![0.0; cp.zxy_rest.len()],
        }
    }

    fn arrays(&mut self) -> [&mut Vec<f64>; 5] {
        [&mut self.zz0, &mut self.zxy0, &mut self.cross_values, &mut self.zz_rest, &mut self.zxy_rest]
    }

    fn add(&mut self, other: &mut RowSums) {
        for (a, b) in self.arrays().into_iter().zip(other.arrays()) {
            a.iter_mut().zip(b.iter()).for_each(|(x, y)| *x += y);
        }
    }
}

/// The data of one pass: [X y] column-major and the weights.
#[derive(Clone, Copy)]
struct Rows<'a> {
    x: &'a [f64],
    y: &'a [f64],
    weights: Option<&'a [f64]>,
}

impl Rows<'_> {
    fn xy(&self, n: usize, p: usize, i: usize, c: usize) -> f64 {
        if c < p {
            self.x[c * n + i]
        } else {
            self.y[i]
        }
    }
}

impl CrossProducts {
    /// Keep the rows' scatter positions (and per-thread buffers) for later
    /// refills: a GLMM refills at every PIRLS iteration. Without this, each
    /// `fill` computes the positions afresh.
    pub fn prepare_refills(&mut self, terms: &[ReTerm]) {
        if self.scatter.is_none() {
            self.scatter = Some(RowScatter::new(self, terms));
        }
    }

    /// (Re)compute every value on the fixed structure: the weighted
    /// cross-products of [Z X y]. A GLMM's penalized iteratively reweighted
    /// least squares calls this with new working weights and response.
    pub fn fill(&mut self, x: &[f64], y: &[f64], weights: Option<&[f64]>, terms: &[ReTerm]) {
        let kept = self.scatter.is_some();
        let mut scatter = self.scatter.take().unwrap_or_else(|| RowScatter::new(self, terms));
        let rows = Rows { x, y, weights };
        let chunks = if kept { (self.n / MIN_ROWS_PER_CHUNK).clamp(1, MAX_CHUNKS) } else { 1 };
        if scatter.sums.len() != chunks {
            scatter.sums = vec![RowSums::default(); chunks];
        }
        let mut sums = std::mem::take(&mut scatter.sums);
        let per_chunk = self.n.div_ceil(chunks);
        let pass = |(c, s): (usize, &mut RowSums)| {
            if s.zz0.len() != self.zz0.len() {
                *s = RowSums::zeros_like(self);
            } else {
                s.arrays().into_iter().for_each(|a| a.iter_mut().for_each(|v| *v = 0.0));
            }
            let range = c * per_chunk..((c + 1) * per_chunk).min(self.n);
            if self.all_scalar {
                add_rows_scalar(self, &scatter, terms, rows, range, s);
            } else {
                add_rows(self, &scatter, terms, rows, range, s);
            }
        };
        if chunks > 1 {
            sums.par_iter_mut().enumerate().for_each(pass);
        } else {
            sums.iter_mut().enumerate().for_each(pass);
        }

        let (first, others) = sums.split_first_mut().expect("at least one chunk");
        for other in others {
            first.add(other);
        }
        // The totals become the values; the old values become the next scratch.
        std::mem::swap(&mut self.zz0, &mut first.zz0);
        std::mem::swap(&mut self.zxy0, &mut first.zxy0);
        std::mem::swap(&mut self.cross_values, &mut first.cross_values);
        std::mem::swap(&mut self.zz_rest, &mut first.zz_rest);
        std::mem::swap(&mut self.zxy_rest, &mut first.zxy_rest);
        self.fill_xyxy(rows);
        if kept {
            scatter.sums = sums;
            self.scatter = Some(scatter);
        }
    }

    /// [X y]'W[X y]: X'WX by one matrix product, then the response's row.
    fn fill_xyxy(&mut self, rows: Rows) {
        let (n, p, k) = (self.n, self.p, self.p + 1);
        let g = &mut self.xy_gram;
        g.compute_gram(rows.x, n, p, rows.weights);
        g.compute_xty(rows.x, n, p, rows.weights, rows.y);
        for c in 0..p {
            self.xyxy[c * k..c * k + p].copy_from_slice(&g.gram[c * p..(c + 1) * p]);
            self.xyxy[c * k + p] = g.xty[c];
            self.xyxy[p * k + c] = g.xty[c];
        }
        self.xyxy[p * k + p] = linalg::weighted_dot(rows.y, rows.y, rows.weights);
    }
}

/// [`add_rows`] when every term has one random effect a level (random
/// intercepts, scalar slopes): the same sums, without the loops over each
/// term's columns that dominate the time of a generic pass on tiny blocks.
fn add_rows_scalar(
    cp: &CrossProducts,
    scatter: &RowScatter,
    terms: &[ReTerm],
    rows: Rows,
    range: std::ops::Range<usize>,
    out: &mut RowSums,
) {
    let (n, p, m, k) = (cp.n, cp.p, cp.m, cp.p + 1);
    let nrest = terms.len() - 1;
    let columns: Vec<&[f64]> = (0..k).map(|c| if c < p { &rows.x[c * n..(c + 1) * n] } else { rows.y }).collect();
    // A scalar term's level l sits in the rest's row (first row of the term) + l.
    let first_row: Vec<usize> = (1..terms.len()).map(|ka| cp.rest_blocks[cp.term_first_block[ka]].row).collect();
    let (t0, rest) = terms.split_first().expect("at least one term");
    for i in range {
        let j = t0.refs[i] as usize;
        let wz0 = rows.weights.map_or(1.0, |w| w[i]) * t0.z[i];
        out.zz0[j] += wz0 * t0.z[i];
        for (sum, column) in out.zxy0[j * k..(j + 1) * k].iter_mut().zip(&columns) {
            *sum += wz0 * column[i];
        }
        let cross_at = &scatter.cross[i * nrest..(i + 1) * nrest];
        let rest_at = &scatter.rest[i * nrest * nrest..(i + 1) * nrest * nrest];
        for (a, ta) in rest.iter().enumerate() {
            // w z_a; wz0 / z0 would be w, but z0 may be 0.
            let wza = rows.weights.map_or(1.0, |w| w[i]) * ta.z[i];
            out.cross_values[cross_at[a] as usize] += wza * t0.z[i];
            for (tb, &pos) in rest.iter().zip(&rest_at[a * nrest..(a + 1) * nrest]) {
                if pos != NOT_STORED {
                    out.zz_rest[pos as usize] += wza * tb.z[i];
                }
            }
            let row = first_row[a] + ta.refs[i] as usize;
            for (c, column) in columns.iter().enumerate() {
                out.zxy_rest[c * m + row] += wza * column[i];
            }
        }
    }
}

/// Add the products of `range`'s rows into `out` (zeroed by the caller),
/// with the common first-term sizes known to the compiler (it unrolls the
/// per-row loops; the arithmetic is the same).
fn add_rows(
    cp: &CrossProducts,
    scatter: &RowScatter,
    terms: &[ReTerm],
    rows: Rows,
    range: std::ops::Range<usize>,
    out: &mut RowSums,
) {
    match cp.q0 {
        2 => add_rows_of(cp, scatter, terms, rows, range, out, 2),
        3 => add_rows_of(cp, scatter, terms, rows, range, out, 3),
        q0 => add_rows_of(cp, scatter, terms, rows, range, out, q0),
    }
}

/// [`add_rows`] for a first term of `q0` columns.
#[inline(always)]
fn add_rows_of(
    cp: &CrossProducts,
    scatter: &RowScatter,
    terms: &[ReTerm],
    rows: Rows,
    range: std::ops::Range<usize>,
    out: &mut RowSums,
    q0: usize,
) {
    let (n, p, m, k) = (cp.n, cp.p, cp.m, cp.p + 1);
    let t0 = &terms[0];
    for i in range {
        let j = t0.refs[i] as usize;
        let z = t0.z_row(i);
        let wi = rows.weights.map_or(1.0, |w| w[i]);
        let b = &mut out.zz0[j * q0 * q0..(j + 1) * q0 * q0];
        for c in 0..q0 {
            for r in 0..q0 {
                b[c * q0 + r] += wi * z[r] * z[c];
            }
        }
        let bx = &mut out.zxy0[j * q0 * k..(j + 1) * q0 * k];
        for c in 0..k {
            let v = wi * rows.xy(n, p, i, c);
            for r in 0..q0 {
                bx[c * q0 + r] += z[r] * v;
            }
        }
        let cross_at = &scatter.cross[i * scatter.nrest..(i + 1) * scatter.nrest];
        let mut rest_at = scatter.rest[i * scatter.rest_per_row..(i + 1) * scatter.rest_per_row].iter();
        for (ka, ta) in terms.iter().enumerate().skip(1) {
            let blk = cp.rest_blocks[cp.term_first_block[ka] + ta.refs[i] as usize];
            let za = ta.z_row(i);
            // Z_rest'Z_0: this row's block of its first-term level's entry.
            let e = cross_at[ka - 1] as usize;
            for c in 0..q0 {
                for r in 0..blk.q {
                    out.cross_values[e + c * blk.q + r] += wi * za[r] * z[c];
                }
            }
            // Z_rest'Z_rest (lower triangle) and Z_rest'[X y].
            for tb in terms.iter().skip(1) {
                for zbv in tb.z_row(i) {
                    for zav in za {
                        let pos = *rest_at.next().expect("the scatter has every product");
                        if pos != NOT_STORED {
                            out.zz_rest[pos as usize] += wi * zav * zbv;
                        }
                    }
                }
            }
            for c in 0..k {
                let v = wi * rows.xy(n, p, i, c);
                for (ca, zav) in za.iter().enumerate() {
                    out.zxy_rest[c * m + blk.row + ca] += zav * v;
                }
            }
        }
    }
}
