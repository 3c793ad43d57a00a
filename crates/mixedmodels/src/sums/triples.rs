//! The triple pieces: what deleting a level of factor F needs when two or
//! more random-effects terms belong to other factors.
//!
//! Deleting level g of F removes the rows R_g. For two terms b and c of
//! other factors than F, the block Z_b'W Z_c of the cross-products loses, at
//! each pair of their levels (l_b, l_c), the sum over the rows of R_g in
//! (l_b, l_c): sum w z_b z_c' over the rows of the triple (g, l_b, l_c).
//! These are neither per-level nor per-pair sums of the fit, so the pass
//! forms them in tables of their own: one a set of three factors, keyed by
//! their grouping columns together (each column once), holding the sums of
//! every (factor F, pair of bars b < c of the other two) of those factors
//! (the triples of levels present are the same rows whichever is deleted:
//! for `(1 | g1) + (1 | g2) + (1 | g3)` one table serves the three
//! deletions). When b and c belong to the same factor (`(x || g2)`)
//! their levels coincide: the triples are the pairs (level of F, level of
//! b), the rows of the pair table of F's bar and b, which "hosts" them (its
//! rows also sum w z_b z_c', after the cell pieces) instead of a table.
//!
//! F is represented by its first bar (formula order): every bar of F has
//! the same grouping columns and levels. Engines compute these tables as
//! they compute any table of the plan; they come only with the per-group
//! pieces ([`super::pieces`]).

use super::pieces::split_rows;
use super::plan::{SumsPlan, TableSpec};

/// A triple: the first bar `f` of the deleted factor and two bars `b < c`
/// of other factors (not necessarily different from each other), whose
/// block over the deleted rows is summed per triple of levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triple {
    pub f: usize,
    pub b: usize,
    pub c: usize,
}

/// Sums over the rows of each triple of levels present, like `PairSums`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TripleSums {
    /// (level of f, level of b, level of c), ascending, each once.
    pub levels: Vec<(u32, u32, u32)>,
    /// q_b q_c values each (sum w z_b z_c', column-major), in the order of `levels`.
    pub values: Vec<f64>,
}

impl SumsPlan {
    fn group_of(&self, bar: usize) -> &str {
        &self.spec.formula.bars[bar].group_name
    }

    /// The first bar (formula order) of each grouping factor, in the order of their first bars.
    fn factor_bars(&self) -> Vec<usize> {
        (0..self.nbars()).filter(|&f| (0..f).all(|e| self.group_of(e) != self.group_of(f))).collect()
    }

    /// Every triple a deletion may need (for each factor, each pair of bars
    /// of other factors), whether or not the plan sums them.
    pub fn all_triples(&self) -> Vec<Triple> {
        let mut out = Vec::new();
        for f in self.factor_bars() {
            let other: Vec<usize> = (0..self.nbars()).filter(|&b| self.group_of(b) != self.group_of(f)).collect();
            for (i, &b) in other.iter().enumerate() {
                out.extend(other[i + 1..].iter().map(|&c| Triple { f, b, c }));
            }
        }
        out
    }

    /// The triples the plan sums (none without the per-group pieces), in
    /// the order of `PieceSums::triples`.
    pub fn triples(&self) -> Vec<Triple> {
        if self.layout.group_pieces {
            self.all_triples()
        } else {
            vec![]
        }
    }

    /// Do b and c belong to one factor (the triple is hosted by a pair table)?
    fn hosted(&self, t: Triple) -> bool {
        self.group_of(t.b) == self.group_of(t.c)
    }

    /// The first bar (formula order) of bar `bar`'s factor: its levels are the factor's.
    fn factor_bar(&self, bar: usize) -> usize {
        (0..=bar).find(|&e| self.group_of(e) == self.group_of(bar)).expect("the bar itself")
    }

    /// The three factors (their first bars, ascending) of a triple of bars of three factors.
    pub fn triple_factors(&self, t: Triple) -> [usize; 3] {
        let mut out = [t.f, t.b, t.c].map(|bar| self.factor_bar(bar));
        out.sort_unstable();
        out
    }

    /// The triple tables: the triples (indices into `triples()`) of each
    /// set of three factors, which share the rows and so one table (for
    /// `(1 | g1) + (1 | g2) + (1 | g3)`, the three deletions' triples),
    /// in the order of their tables, which follow the pair tables.
    pub fn triple_tables(&self) -> Vec<Vec<usize>> {
        let all = self.triples();
        let mut tables: Vec<([usize; 3], Vec<usize>)> = Vec::new();
        for i in (0..all.len()).filter(|&i| !self.hosted(all[i])) {
            let factors = self.triple_factors(all[i]);
            match tables.iter_mut().find(|(f, _)| *f == factors) {
                Some((_, members)) => members.push(i),
                None => tables.push((factors, vec![i])),
            }
        }
        tables.into_iter().map(|(_, members)| members).collect()
    }

    /// Index into `tables` of the j-th triple table.
    pub fn triple_table(&self, j: usize) -> usize {
        self.nbars() + self.pairs().len() + j
    }

    /// The triples (indices into `triples()`) that pair `p` (index into
    /// `pairs()`) hosts: those of two bars of one factor whose bar b pairs
    /// with the deleted factor's first bar, in the order of their sums.
    pub fn hosted_by(&self, p: usize) -> Vec<usize> {
        let pair = self.pairs()[p];
        let all = self.triples();
        (0..all.len())
            .filter(|&i| self.hosted(all[i]) && (all[i].f.min(all[i].b), all[i].f.max(all[i].b)) == pair)
            .collect()
    }

    /// Values a triple of levels takes: sum w z_b z_c', q_b x q_c.
    pub fn triple_width(&self, t: Triple) -> usize {
        self.layout.q[t.b] * self.layout.q[t.c]
    }

    /// A triple table: its three factors' grouping columns, each once, and
    /// for each member triple the products of b's and c's random-effects columns.
    pub(crate) fn triple_spec(&self, members: &[usize]) -> TableSpec {
        let all = self.triples();
        let mut keys: Vec<String> = Vec::new();
        for bar in self.triple_factors(all[members[0]]) {
            for k in &self.tables[bar].keys {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let sums = members.iter().flat_map(|&i| self.layout.pair_products(all[i].b, all[i].c)).collect();
        TableSpec { keys, sums }
    }

    /// At most how many triples of levels a triple table has, for `n` rows:
    /// the product of the levels of its distinct factors, at most n (a safe
    /// bound: the first pass counts each factor's levels, not the triples present).
    pub fn triple_bound(&self, t: Triple, n: usize) -> f64 {
        let levels = |bar: usize| self.spec.groups[bar].levels.len() as f64;
        let mut cells = levels(t.f) * levels(t.b);
        if self.group_of(t.c) != self.group_of(t.b) {
            cells *= levels(t.c);
        }
        cells.min(n as f64)
    }
}

/// The per-group part of pair `p`'s rows (`extra`: the cell pieces, then
/// the sums of the triples it hosts), split: the cell pieces are returned,
/// each hosted triple's sums stored in `triples` (indexed as
/// `SumsPlan::triples`), keyed (level of f, level of b, level of b).
pub fn split_hosted(
    plan: &SumsPlan,
    p: usize,
    levels: &[(u32, u32)],
    extra: Vec<f64>,
    triples: &mut [TripleSums],
) -> Vec<f64> {
    let hosted = plan.hosted_by(p);
    if hosted.is_empty() {
        return extra;
    }
    let (a, b) = plan.pairs()[p];
    let all = plan.triples();
    let widths: Vec<usize> = hosted.iter().map(|&i| plan.triple_width(all[i])).collect();
    let row = widths.iter().sum::<usize>();
    let (cells, sums) = split_rows(extra, plan.layout.cell_piece_width(a, b), row);
    let mut offset = 0;
    for (&i, &width) in hosted.iter().zip(&widths) {
        let t = all[i];
        // The pair's levels are (level of its first bar, of its second): f's first when f < b.
        let mut keyed: Vec<((u32, u32, u32), usize)> = levels
            .iter()
            .enumerate()
            .map(|(e, &(la, lb))| {
                let (lf, l) = if t.f < t.b { (la, lb) } else { (lb, la) };
                ((lf, l, l), e)
            })
            .collect();
        keyed.sort_unstable();
        let out = &mut triples[i];
        for (key, e) in keyed {
            out.levels.push(key);
            out.values.extend_from_slice(&sums[e * row + offset..e * row + offset + width]);
        }
        offset += width;
    }
    cells
}

/// A triple table's sums (`sums`: keyed by the levels of its three factors,
/// ascending as `SumsPlan::triple_factors`, every member's values a row)
/// split into its member triples' sums, stored in `triples` (indexed as
/// `SumsPlan::triples`), keyed (level of f, level of b, level of c).
pub fn split_table(plan: &SumsPlan, members: &[usize], sums: TripleSums, triples: &mut [TripleSums]) {
    let all = plan.triples();
    let factors = plan.triple_factors(all[members[0]]);
    let widths: Vec<usize> = members.iter().map(|&i| plan.triple_width(all[i])).collect();
    let row = widths.iter().sum::<usize>();
    let mut offset = 0;
    for (&i, &width) in members.iter().zip(&widths) {
        let t = all[i];
        let at = [t.f, t.b, t.c].map(|bar| factors.iter().position(|&f| f == plan.factor_bar(bar)).expect("a factor"));
        let mut keyed: Vec<((u32, u32, u32), usize)> = sums
            .levels
            .iter()
            .enumerate()
            .map(|(e, &(l0, l1, l2))| {
                let l = [l0, l1, l2];
                ((l[at[0]], l[at[1]], l[at[2]]), e)
            })
            .collect();
        keyed.sort_unstable();
        let out = &mut triples[i];
        for (key, e) in keyed {
            out.levels.push(key);
            out.values.extend_from_slice(&sums.values[e * row + offset..e * row + offset + width]);
        }
        offset += width;
    }
}
