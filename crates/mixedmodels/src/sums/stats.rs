//! The reduced statistics of a pass, keyed by level: per level of each bar,
//! per pair of levels of two bars (only the pairs some row has), and the
//! global row. Two ways in: tables an engine grouped by the raw key columns
//! ([`ReducedStats::from_tables`]: Dask, Spark), whose keys are mapped to
//! levels here by the same code as in memory ([`GroupSpec::refs`]); or
//! batches of rows summed here ([`Accumulator`]: polars' streaming engine).
//! Either way the sums end sorted by level, so they do not depend on the
//! order of partitions or batches beyond the rounding of the sums.
//!
//! [`GroupSpec::refs`]: crate::design::GroupSpec::refs

use std::collections::HashMap;

use super::pieces::{split_rows, PieceSums};
use super::plan::SumsPlan;
use super::triples::{split_hosted, split_table, TripleSums};
use crate::data::{DataFrame, MISSING};
use crate::error::{Error, Result};

/// Sums over the rows of each pair of levels present.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairSums {
    /// (level of bar a, level of bar b), ascending, each once.
    pub levels: Vec<(u32, u32)>,
    /// `width` values each, in the order of `levels`.
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReducedStats {
    /// Per bar (formula order): `Layout::term_width` values a level.
    pub terms: Vec<Vec<f64>>,
    /// Per pair of bars, in the order of [`SumsPlan::pairs`].
    pub pairs: Vec<PairSums>,
    pub global: Vec<f64>,
    /// The per-group pieces, when the plan sums them (else empty).
    pub pieces: PieceSums,
}

/// The levels of bar `b` at each row of `keys` (the bar's grouping columns).
fn bar_levels(plan: &SumsPlan, b: usize, keys: &DataFrame) -> Result<Vec<u32>> {
    let codes = plan.spec.groups[b].refs(keys)?;
    if let Some(i) = codes.iter().position(|&c| c == MISSING) {
        return Err(Error::Data(format!(
            "the grouping factor '{}' has a value at row {i} of a pass that the first pass did not see: did the \
             data change between the passes?",
            plan.spec.formula.bars[b].group_name
        )));
    }
    Ok(codes)
}

impl ReducedStats {
    /// From an engine's tables: for each keyed table of the plan, in its
    /// order (bars, pairs, triples), the key columns (a frame) and the sums
    /// (row-major, one row a key); the global row.
    pub fn from_tables(plan: &SumsPlan, tables: &[(DataFrame, Vec<f64>)], global: Vec<f64>) -> Result<ReducedStats> {
        let layout = &plan.layout;
        let nb = plan.nbars();
        if tables.len() != plan.global_table() || global.len() != layout.global_width() {
            return Err(Error::Argument("the tables do not match the plan".into()));
        }
        let (terms, rest) = tables.split_at(nb);
        let (pairs, triples) = rest.split_at(plan.pairs().len());
        let mut term_sums = Vec::with_capacity(nb);
        let mut pieces =
            PieceSums { triples: vec![TripleSums::default(); plan.triples().len()], ..PieceSums::default() };
        for (b, (keys, values)) in terms.iter().enumerate() {
            let width = plan.tables[b].sums.len();
            let nlevels = plan.spec.groups[b].levels.len();
            check_rows(keys, values, width)?;
            let mut out = vec![0.0; nlevels * width];
            for (row, level) in bar_levels(plan, b, keys)?.into_iter().enumerate() {
                let dst = &mut out[level as usize * width..(level as usize + 1) * width];
                dst.iter_mut().zip(&values[row * width..(row + 1) * width]).for_each(|(d, v)| *d += v);
            }
            let (sums, extra) = split_rows(out, layout.term_width(b), layout.level_piece_width());
            term_sums.push(sums);
            pieces.terms.push(extra);
        }
        let mut pair_sums = Vec::with_capacity(pairs.len());
        for (p, ((a, b), (keys, values))) in plan.pairs().into_iter().zip(pairs).enumerate() {
            let width = plan.tables[plan.pair_table(a, b)].sums.len();
            check_rows(keys, values, width)?;
            let la = bar_levels(plan, a, keys)?;
            let lb = bar_levels(plan, b, keys)?;
            let mut order: Vec<usize> = (0..la.len()).collect();
            order.sort_by_key(|&r| (la[r], lb[r]));
            let mut out = PairSums::default();
            for r in order {
                let key = (la[r], lb[r]);
                if out.levels.last() != Some(&key) {
                    out.levels.push(key);
                    out.values.extend(std::iter::repeat_n(0.0, width));
                }
                let start = out.values.len() - width;
                out.values[start..].iter_mut().zip(&values[r * width..(r + 1) * width]).for_each(|(d, v)| *d += v);
            }
            let (sums, extra) = split_rows(out.values, layout.q[a] * layout.q[b], width - layout.q[a] * layout.q[b]);
            pieces.pairs.push(split_hosted(plan, p, &out.levels, extra, &mut pieces.triples));
            pair_sums.push(PairSums { levels: out.levels, values: sums });
        }
        let all = plan.triples();
        for (j, (members, (keys, values))) in plan.triple_tables().into_iter().zip(triples).enumerate() {
            let width = plan.tables[plan.triple_table(j)].sums.len();
            check_rows(keys, values, width)?;
            let [f0, f1, f2] = plan.triple_factors(all[members[0]]);
            let (l0, l1, l2) = (bar_levels(plan, f0, keys)?, bar_levels(plan, f1, keys)?, bar_levels(plan, f2, keys)?);
            let mut acc = TripleStore::default();
            for (r, row) in values.chunks_exact(width).enumerate() {
                acc.add((l0[r], l1[r], l2[r]), row);
            }
            split_table(plan, &members, acc.finish(width), &mut pieces.triples);
        }
        Ok(ReducedStats { terms: term_sums, pairs: pair_sums, global, pieces })
    }
}

/// Where the sums of one triple table accumulate: a slot a triple of levels seen.
#[derive(Debug, Clone, Default)]
struct TripleStore {
    slots: HashMap<(u32, u32, u32), usize>,
    values: Vec<f64>,
}

impl TripleStore {
    fn add(&mut self, key: (u32, u32, u32), values: &[f64]) {
        let next = self.values.len();
        let slot = *self.slots.entry(key).or_insert(next);
        if slot == next {
            self.values.extend(std::iter::repeat_n(0.0, values.len()));
        }
        self.values[slot..slot + values.len()].iter_mut().zip(values).for_each(|(d, v)| *d += v);
    }

    /// The sums sorted by triple.
    fn finish(self, width: usize) -> TripleSums {
        let mut keyed: Vec<((u32, u32, u32), usize)> = self.slots.into_iter().collect();
        keyed.sort_unstable();
        let mut out = TripleSums::default();
        for (key, slot) in keyed {
            out.levels.push(key);
            out.values.extend_from_slice(&self.values[slot..slot + width]);
        }
        out
    }
}

fn check_rows(keys: &DataFrame, values: &[f64], width: usize) -> Result<()> {
    if values.len() != keys.nrows() * width {
        return Err(Error::Argument(format!(
            "a table has {} keys but {} sums ({width} a key expected)",
            keys.nrows(),
            values.len()
        )));
    }
    Ok(())
}

/// Pairs of levels with fewer than this many cells are summed in a dense
/// array (plus a bit a cell for presence); more, in a hash map.
const DENSE_PAIR_CELLS: usize = 1 << 26;

/// Where the sums of one pair of bars accumulate.
#[derive(Debug, Clone)]
enum PairStore {
    /// `la * lb` cells, `width` values each, and which cells some row reached.
    Dense { lb: usize, values: Vec<f64>, present: Vec<u64> },
    /// One slot a pair of levels seen.
    Sparse { slots: HashMap<(u32, u32), usize>, values: Vec<f64> },
}

/// Sums batches of rows (their key columns and basic columns) into the
/// reduced statistics of a plan.
#[derive(Debug, Clone)]
pub struct Accumulator {
    terms: Vec<Vec<f64>>,
    pairs: Vec<PairStore>,
    triples: Vec<TripleStore>,
    global: Vec<f64>,
    rows: usize,
}

impl Accumulator {
    pub fn new(plan: &SumsPlan) -> Accumulator {
        let layout = &plan.layout;
        let nlevels: Vec<usize> = plan.spec.groups.iter().map(|g| g.levels.len()).collect();
        let terms = (0..plan.nbars()).map(|b| vec![0.0; nlevels[b] * plan.tables[b].sums.len()]).collect();
        let pairs = plan
            .pairs()
            .into_iter()
            .map(|(a, b)| {
                let keys_a = &plan.tables[a].keys;
                let keys_b = &plan.tables[b].keys;
                let nested = keys_a.iter().all(|k| keys_b.contains(k)) || keys_b.iter().all(|k| keys_a.contains(k));
                let cells = nlevels[a].saturating_mul(nlevels[b]);
                let width = plan.tables[plan.pair_table(a, b)].sums.len();
                if !nested && cells.saturating_mul(width) <= DENSE_PAIR_CELLS {
                    PairStore::Dense {
                        lb: nlevels[b],
                        values: vec![0.0; cells * width],
                        present: vec![0; cells.div_ceil(64)],
                    }
                } else {
                    PairStore::Sparse { slots: HashMap::new(), values: Vec::new() }
                }
            })
            .collect();
        let triples = vec![TripleStore::default(); plan.triple_tables().len()];
        Accumulator { terms, pairs, triples, global: vec![0.0; layout.global_width()], rows: 0 }
    }

    /// Add a batch: `keys` holds the grouping columns of every bar, `columns`
    /// the plan's basic columns evaluated on the same rows.
    pub fn add(&mut self, plan: &SumsPlan, keys: &DataFrame, columns: &[&[f64]]) -> Result<()> {
        let layout = &plan.layout;
        let n = keys.nrows();
        if columns.len() != plan.basic.len() || columns.iter().any(|c| c.len() != n) {
            return Err(Error::Argument("a batch's columns do not match the plan".into()));
        }
        let levels = (0..plan.nbars()).map(|b| bar_levels(plan, b, keys)).collect::<Result<Vec<_>>>()?;
        let products = |p: &super::plan::Product, i: usize| -> f64 {
            let mut v = if p.weighted { layout.weight.map_or(1.0, |w| columns[w][i]) } else { 1.0 };
            for &c in &p.columns {
                v *= columns[c][i];
            }
            v
        };
        for (b, sums) in self.terms.iter_mut().enumerate() {
            let products_b = &plan.tables[b].sums;
            let width = products_b.len();
            for (i, &level) in levels[b].iter().enumerate() {
                let dst = &mut sums[level as usize * width..(level as usize + 1) * width];
                for (d, p) in dst.iter_mut().zip(products_b) {
                    *d += products(p, i);
                }
            }
        }
        for (pi, ((a, b), store)) in plan.pairs().into_iter().zip(&mut self.pairs).enumerate() {
            let products_ab = &plan.tables[plan.nbars() + pi].sums;
            let width = products_ab.len();
            for i in 0..n {
                let (la, lb) = (levels[a][i], levels[b][i]);
                let dst = match store {
                    PairStore::Dense { lb: nb, values, present } => {
                        let cell = la as usize * *nb + lb as usize;
                        present[cell / 64] |= 1 << (cell % 64);
                        &mut values[cell * width..(cell + 1) * width]
                    }
                    PairStore::Sparse { slots, values } => {
                        let next = values.len();
                        let slot = *slots.entry((la, lb)).or_insert(next);
                        if slot == next {
                            values.extend(std::iter::repeat_n(0.0, width));
                        }
                        &mut values[slot..slot + width]
                    }
                };
                for (d, p) in dst.iter_mut().zip(products_ab) {
                    *d += products(p, i);
                }
            }
        }
        let all = plan.triples();
        for (j, (members, store)) in plan.triple_tables().into_iter().zip(&mut self.triples).enumerate() {
            let [f0, f1, f2] = plan.triple_factors(all[members[0]]);
            let sums = &plan.tables[plan.triple_table(j)].sums;
            let mut row = vec![0.0; sums.len()];
            for i in 0..n {
                row.iter_mut().zip(sums).for_each(|(d, p)| *d = products(p, i));
                store.add((levels[f0][i], levels[f1][i], levels[f2][i]), &row);
            }
        }
        let global = &plan.tables[plan.global_table()].sums;
        for i in 0..n {
            for (d, p) in self.global.iter_mut().zip(global) {
                *d += products(p, i);
            }
        }
        self.rows += n;
        Ok(())
    }

    /// The rows added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn finish(self, plan: &SumsPlan) -> ReducedStats {
        let layout = &plan.layout;
        let pairs: Vec<PairSums> = plan
            .pairs()
            .into_iter()
            .zip(self.pairs)
            .map(|((a, b), store)| {
                let width = plan.tables[plan.pair_table(a, b)].sums.len();
                match store {
                    PairStore::Dense { lb, values, present } => {
                        let mut out = PairSums::default();
                        for (word, bits) in present.iter().enumerate() {
                            let mut bits = *bits;
                            while bits != 0 {
                                let cell = word * 64 + bits.trailing_zeros() as usize;
                                bits &= bits - 1;
                                out.levels.push(((cell / lb) as u32, (cell % lb) as u32));
                                out.values.extend_from_slice(&values[cell * width..(cell + 1) * width]);
                            }
                        }
                        out
                    }
                    PairStore::Sparse { slots, values } => {
                        let mut keyed: Vec<((u32, u32), usize)> = slots.into_iter().collect();
                        keyed.sort_unstable();
                        let mut out = PairSums::default();
                        for (key, slot) in keyed {
                            out.levels.push(key);
                            out.values.extend_from_slice(&values[slot..slot + width]);
                        }
                        out
                    }
                }
            })
            .collect();
        let all = plan.triples();
        let mut pieces = PieceSums { triples: vec![TripleSums::default(); all.len()], ..PieceSums::default() };
        for (j, (members, store)) in plan.triple_tables().into_iter().zip(self.triples).enumerate() {
            let width = plan.tables[plan.triple_table(j)].sums.len();
            split_table(plan, &members, store.finish(width), &mut pieces.triples);
        }
        let terms = self
            .terms
            .into_iter()
            .enumerate()
            .map(|(b, sums)| {
                let (sums, extra) = split_rows(sums, layout.term_width(b), layout.level_piece_width());
                pieces.terms.push(extra);
                sums
            })
            .collect();
        let pairs = plan
            .pairs()
            .into_iter()
            .zip(pairs)
            .enumerate()
            .map(|(p, ((a, b), pair))| {
                let width = plan.tables[plan.pair_table(a, b)].sums.len();
                let (values, extra) =
                    split_rows(pair.values, layout.q[a] * layout.q[b], width - layout.q[a] * layout.q[b]);
                pieces.pairs.push(split_hosted(plan, p, &pair.levels, extra, &mut pieces.triples));
                PairSums { levels: pair.levels, values }
            })
            .collect();
        ReducedStats { terms, pairs, global: self.global, pieces }
    }
}
