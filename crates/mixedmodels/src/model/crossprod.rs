//! The cross-products of [Z X y], formed once (MixedModels.jl's blocked
//! system). The first term (most levels) keeps its block diagonal: one q0 x q0
//! block a level. The other terms ("the rest", m columns) form a dense block;
//! their cross-product with the first term is stored sparsely, level by level
//! of the first term. X and y form the last, dense, block.

use super::rest::RestPattern;
use super::scatter::RowScatter;
use crate::design::ReTerm;
use crate::linalg::WeightedGram;

/// Where a block of rows of the rest lives: one (term, level) pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestBlock {
    /// First row of the block in the rest's m rows.
    pub row: usize,
    /// Rows (random effects a level of that term).
    pub q: usize,
    /// Index of the term (1-based among all terms, 0 being the first term).
    pub term: usize,
}

/// One nonzero block of Z_rest' Z_0 for one level of the first term. Its
/// indices are u32 (read as usize through the methods): crossed factors with
/// tens of millions of level pairs keep one entry a pair, and the arrays they
/// index would need 32 GB of values to overflow them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntry {
    block: u32,
    values: u32,
}

impl CrossEntry {
    /// An entry for rest block `block`; its values' offset is set by [`CrossProducts::with_structure`].
    pub fn new(block: usize) -> CrossEntry {
        CrossEntry { block: block as u32, values: 0 }
    }

    /// Index into [`CrossProducts::rest_blocks`].
    pub fn block(&self) -> usize {
        self.block as usize
    }

    /// Offset of its q_b x q0 values (column-major) in `cross_values`.
    pub fn values(&self) -> usize {
        self.values as usize
    }
}

#[derive(Debug, Clone)]
pub struct CrossProducts {
    pub n: usize,
    /// Number of fixed-effects columns; [X y] has p + 1.
    pub p: usize,
    pub q0: usize,
    pub l0: usize,
    /// Z_0'Z_0: one q0 x q0 block a level.
    pub zz0: Vec<f64>,
    /// Z_0'[X y]: one q0 x (p+1) block a level.
    pub zxy0: Vec<f64>,
    pub rest_blocks: Vec<RestBlock>,
    /// Index of each term's first block in `rest_blocks` (terms 1..).
    pub term_first_block: Vec<usize>,
    /// Rows of the rest (sum over terms 1.. of q_k * levels_k).
    pub m: usize,
    /// `cross[cross_ptr[j]..cross_ptr[j+1]]` are level j's blocks of Z_rest'Z_0.
    pub cross_ptr: Vec<usize>,
    pub cross: Vec<CrossEntry>,
    pub cross_values: Vec<f64>,
    /// The transpose of the cross structure: for each rest block, the
    /// (level j, entry index into `cross`) pairs that touch it, ascending in j.
    pub block_ptr: Vec<usize>,
    pub block_entries: Vec<(u32, u32)>,
    /// True when the first term and every rest term have one random effect a level.
    pub all_scalar: bool,
    /// The first rest row of each cross entry's block.
    pub entry_row: Vec<u32>,
    /// Z_rest'Z_rest's lower triangle, laid out as `pattern` stores S.
    pub zz_rest: Vec<f64>,
    /// Where S's entries live (dense or sparse), fixed for every theta.
    pub pattern: RestPattern,
    /// Z_rest'[X y], m x (p+1).
    pub zxy_rest: Vec<f64>,
    /// [X y]'[X y], (p+1) x (p+1).
    pub xyxy: Vec<f64>,
    /// Workspace of its refills.
    pub xy_gram: WeightedGram,
    /// Sum of log prior weights (lme4's ldW), 0 without weights.
    pub log_weights: f64,
    /// The rows' scatter positions, kept when the values will be refilled.
    pub scatter: Option<RowScatter>,
}

impl CrossProducts {
    /// `x` is n x p column-major; `terms` in lme4 order, at least one.
    pub fn new(x: &[f64], p: usize, y: &[f64], weights: Option<&[f64]>, terms: &[ReTerm]) -> CrossProducts {
        let (rest_blocks, term_first_block, _) = rest_layout(terms);
        let (cross_ptr, cross) = cross_structure(terms, &rest_blocks, &term_first_block);
        let mut cp = CrossProducts::with_structure(y.len(), p, terms, cross_ptr, cross);
        cp.fill(x, y, weights, terms);
        cp.log_weights = weights.map_or(0.0, |w| w.iter().map(|v| v.ln()).sum());
        cp
    }

    /// The cross-products' structure for `n` rows and p fixed effects, all
    /// values zero, given which blocks of Z_rest'Z_0 some row reaches:
    /// `cross[cross_ptr[j]..cross_ptr[j + 1]]` are level j's blocks (`block`
    /// set, ascending; `values` is assigned here). Only the terms' shapes are
    /// read (q and levels), so a fit from sums shares it ([`crate::sums`]).
    pub fn with_structure(
        n: usize,
        p: usize,
        terms: &[ReTerm],
        cross_ptr: Vec<usize>,
        mut cross: Vec<CrossEntry>,
    ) -> CrossProducts {
        let t0 = &terms[0];
        let (q0, l0) = (t0.q(), t0.nlevels());
        let k = p + 1;
        let (rest_blocks, term_first_block, m) = rest_layout(terms);
        let mut nvalues = 0;
        for e in &mut cross {
            e.values = nvalues as u32;
            nvalues += rest_blocks[e.block()].q * q0;
        }
        let (block_ptr, block_entries) = transpose_cross(&cross_ptr, &cross, rest_blocks.len());
        let pattern = rest_pattern(m, &rest_blocks, &cross_ptr, &cross, &block_ptr, &block_entries);
        let all_scalar = q0 == 1 && rest_blocks.iter().all(|b| b.q == 1);
        let entry_row = cross.iter().map(|e| rest_blocks[e.block()].row as u32).collect();
        CrossProducts {
            n,
            p,
            q0,
            l0,
            zz0: vec![0.0; l0 * q0 * q0],
            zxy0: vec![0.0; l0 * q0 * k],
            rest_blocks,
            term_first_block,
            m,
            cross_ptr,
            cross,
            cross_values: vec![0.0; nvalues],
            block_ptr,
            block_entries,
            all_scalar,
            entry_row,
            zz_rest: vec![0.0; pattern.len()],
            pattern,
            zxy_rest: vec![0.0; m * k],
            xyxy: vec![0.0; k * k],
            xy_gram: WeightedGram::default(),
            log_weights: 0.0,
            scatter: None,
        }
    }

    /// Replace the response: only the [X y] columns that involve y change
    /// (the parametric bootstrap refits many responses on one design).
    pub fn set_response(&mut self, x: &[f64], y: &[f64], weights: Option<&[f64]>, terms: &[ReTerm]) {
        let (n, p, q0, k, m) = (self.n, self.p, self.q0, self.p + 1, self.m);
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        for j in 0..self.l0 {
            self.zxy0[j * q0 * k + p * q0..j * q0 * k + k * q0].iter_mut().for_each(|v| *v = 0.0);
        }
        self.zxy_rest[p * m..k * m].iter_mut().for_each(|v| *v = 0.0);
        let t0 = &terms[0];
        let mut first_block = vec![0; terms.len()];
        let mut b = 0;
        for (kk, t) in terms.iter().enumerate().skip(1) {
            first_block[kk] = b;
            b += t.nlevels();
        }
        for i in 0..n {
            let v = w(i) * y[i];
            let j = t0.refs[i] as usize;
            for (r, z) in t0.z_row(i).iter().enumerate() {
                self.zxy0[j * q0 * k + p * q0 + r] += z * v;
            }
            for (kk, t) in terms.iter().enumerate().skip(1) {
                let row = self.rest_blocks[first_block[kk] + t.refs[i] as usize].row;
                for (r, z) in t.z_row(i).iter().enumerate() {
                    self.zxy_rest[p * m + row + r] += z * v;
                }
            }
        }
        for c in 0..k {
            let s: f64 = (0..n).map(|i| w(i) * y[i] * if c < p { x[c * n + i] } else { y[i] }).sum();
            self.xyxy[p * k + c] = s;
            self.xyxy[c * k + p] = s;
        }
    }

    pub fn level_cross(&self, j: usize) -> &[CrossEntry] {
        &self.cross[self.cross_ptr[j]..self.cross_ptr[j + 1]]
    }
}

/// For each rest block, the (level, entry) pairs of the cross structure touching it.
fn transpose_cross(cross_ptr: &[usize], cross: &[CrossEntry], nblocks: usize) -> (Vec<usize>, Vec<(u32, u32)>) {
    let mut ptr = vec![0usize; nblocks + 1];
    for e in cross {
        ptr[e.block() + 1] += 1;
    }
    for b in 0..nblocks {
        ptr[b + 1] += ptr[b];
    }
    let mut fill = ptr.clone();
    let mut entries = vec![(0u32, 0u32); cross.len()];
    for j in 0..cross_ptr.len() - 1 {
        for (e, entry) in cross.iter().enumerate().take(cross_ptr[j + 1]).skip(cross_ptr[j]) {
            entries[fill[entry.block()]] = (j as u32, e as u32);
            fill[entry.block()] += 1;
        }
    }
    (ptr, entries)
}

/// S's lower-triangular pattern: rows of block B in the columns of block A
/// (B at or below A) when some level of the first term touches both (the fill
/// of eliminating the first term, which contains Z_rest'Z_rest's pattern since
/// every row belongs to a level of the first term), plus the diagonal blocks.
fn rest_pattern(
    m: usize,
    rest_blocks: &[RestBlock],
    cross_ptr: &[usize],
    cross: &[CrossEntry],
    block_ptr: &[usize],
    block_entries: &[(u32, u32)],
) -> RestPattern {
    if m <= 64 {
        return RestPattern::choose(m, vec![]);
    }
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); m];
    let mut seen = vec![usize::MAX; rest_blocks.len()];
    for (a, ba) in rest_blocks.iter().enumerate() {
        let mut touched = vec![a];
        seen[a] = a;
        // Blocks at or after a are all it can reach: once every one is
        // touched, the other levels add nothing (crossed factors fill in
        // after a few levels, where scanning them all cost minutes).
        let reachable = rest_blocks.len() - a;
        for &(j, ea) in &block_entries[block_ptr[a]..block_ptr[a + 1]] {
            if touched.len() == reachable {
                break;
            }
            for eb in &cross[ea as usize..cross_ptr[j as usize + 1]] {
                if seen[eb.block()] != a {
                    seen[eb.block()] = a;
                    touched.push(eb.block());
                }
            }
        }
        for ca in 0..ba.q {
            let col = ba.row + ca;
            for &b in &touched {
                let bb = rest_blocks[b];
                columns[col].extend((bb.row..bb.row + bb.q).filter(|r| *r >= col));
            }
        }
    }
    RestPattern::choose(m, columns)
}

/// Blocks of the rest: one per (term, level) of terms 1.., in column order.
pub fn rest_layout(terms: &[ReTerm]) -> (Vec<RestBlock>, Vec<usize>, usize) {
    let mut blocks = Vec::new();
    let mut first = vec![0; terms.len()];
    let mut row = 0;
    for (k, t) in terms.iter().enumerate().skip(1) {
        first[k] = blocks.len();
        for _ in 0..t.nlevels() {
            blocks.push(RestBlock { row, q: t.q(), term: k });
            row += t.q();
        }
    }
    (blocks, first, row)
}

/// The blocks of Z_rest'Z_0, level by level of the first term: rows grouped
/// by that level (a counting sort), blocks located with a marker array over
/// the rest blocks, each level's blocks sorted by row (the Schur update and
/// [`CrossProducts::fill`] rely on it). Returns (level pointers, entries).
fn cross_structure(
    terms: &[ReTerm],
    rest_blocks: &[RestBlock],
    term_first_block: &[usize],
) -> (Vec<usize>, Vec<CrossEntry>) {
    let t0 = &terms[0];
    let (l0, n) = (t0.nlevels(), t0.nrows());
    if terms.len() == 1 {
        // No rest: no block of Z_rest'Z_0 (and no pass over the rows to find them).
        return (vec![0; l0 + 1], vec![]);
    }
    let mut start = vec![0usize; l0 + 1];
    for &r in &t0.refs {
        start[r as usize + 1] += 1;
    }
    for j in 0..l0 {
        start[j + 1] += start[j];
    }
    let mut order = vec![0usize; n];
    let mut fill = start.clone();
    for (i, &r) in t0.refs.iter().enumerate() {
        order[fill[r as usize]] = i;
        fill[r as usize] += 1;
    }
    let mut marker = vec![usize::MAX; rest_blocks.len()];
    let mut ptr = vec![0usize; l0 + 1];
    let mut entries: Vec<CrossEntry> = Vec::new();
    for j in 0..l0 {
        for &i in &order[start[j]..start[j + 1]] {
            for (k, t) in terms.iter().enumerate().skip(1) {
                let b = term_first_block[k] + t.refs[i] as usize;
                if marker[b] == usize::MAX || marker[b] < ptr[j] {
                    marker[b] = entries.len();
                    entries.push(CrossEntry::new(b));
                }
            }
        }
        entries[ptr[j]..].sort_unstable_by_key(CrossEntry::block);
        ptr[j + 1] = entries.len();
    }
    (ptr, entries)
}
