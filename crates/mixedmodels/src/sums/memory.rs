//! How much memory the reduced system of an out-of-core fit takes, from the
//! numbers of levels alone (before the pass that forms it), so that a fit
//! that cannot fit in memory is refused with the figures instead of being
//! killed halfway. The data's rows do not count: they stay in the engine.
//! It counts what is allocated, bounding only what the levels cannot tell
//! (the number of level pairs present, at most min(l_a l_b, n)).
//!
//! Two phases, whose arrays are not alive together (the larger counts):
//!
//! The fit, with l_k levels and q_k random effects a level for term k
//! (lme4's order: term 0 has the most levels), p fixed effects, t threads:
//! - sums by level: sum_k l_k q_k (q_k + p + 3) values (twice);
//! - Z_rest'Z_0 (pairs of a level of term 0 and one of term k >= 1 that some
//!   row has): about 36 bytes an entry for the structure, and q_0 q_k values
//!   for the cross-product and the fit's factor, plus one a thread for the
//!   derivatives when the factor is at most 256 MB (else they share it);
//! - the rest block, m = sum_{k >= 1} l_k q_k rows: dense (m^2 values,
//!   about four copies, and one a thread as above) when the terms are
//!   crossed, sparse (about its pairs) when nested;
//! - the pass's tables of pairs until the system is assembled (not kept for
//!   two scalar terms: their values become the cross-products).
//!
//! The per-group pieces, when the plan sums them ([`super::pieces`]): their
//! own estimate, in both phases.
//!
//! The pass: the sums by level and of pairs (polars' accumulator: a dense
//! array of l_a l_b cells for crossed factors up to 2^26 values, else a
//! hash map of the pairs) and a batch of rows (a million, three copies, and
//! the engine's buffers, about 32 MB).

use super::plan::SumsPlan;

const F64: f64 = 8.0;
/// Bytes of structure an entry of Z_rest'Z_0 takes beside its values.
const CROSS_ENTRY_BYTES: f64 = 36.0;

/// Cells (times their sums) below which polars' accumulator sums pairs densely
/// (`stats::DENSE_PAIR_CELLS`), and the bytes a hash map's slot takes above it.
const DENSE_PAIR_CELLS: f64 = (1u64 << 26) as f64;
const HASH_SLOT_BYTES: f64 = 32.0;
/// Rows a batch of polars' streaming pass holds (`sources.polars_source.BATCH_ROWS`).
const BATCH_ROWS: f64 = 1e6;
/// Copies of a batch's columns alive at once (polars', numpy's, the core's).
const BATCH_COPIES: f64 = 3.0;
/// The engine's own buffers during a pass (polars' streaming engine, measured: tens of MB).
const ENGINE_BYTES: f64 = 32e6;
/// A factor workspace larger than this is not copied for each thread
/// (`inference::derivatives::SHARED_FACTOR_BYTES`).
const SHARED_FACTOR_BYTES: f64 = (256u64 << 20) as f64;

#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// Bytes held while the reduced system is fitted, part by part: (what, bytes).
    pub parts: Vec<(String, f64)>,
    /// Bytes held during the pass that forms the sums; the pass's own
    /// arrays are freed before the fit, so the two phases do not add up.
    pub pass: Vec<(String, f64)>,
}

impl MemoryEstimate {
    /// The larger of the two phases' totals.
    pub fn total(&self) -> f64 {
        let sum = |parts: &[(String, f64)]| parts.iter().map(|(_, b)| b).sum::<f64>();
        sum(&self.parts).max(sum(&self.pass))
    }

    /// The phase that decides the total.
    fn peak_phase(&self) -> &[(String, f64)] {
        let sum = |parts: &[(String, f64)]| parts.iter().map(|(_, b)| b).sum::<f64>();
        if sum(&self.parts) >= sum(&self.pass) {
            &self.parts
        } else {
            &self.pass
        }
    }

    /// "1.3 GB (cross-products of g1 and g2: 1.1 GB, ...)": the larger phase's parts.
    pub fn describe(&self) -> String {
        let mut parts: Vec<&(String, f64)> = self.peak_phase().iter().filter(|(_, b)| *b >= 1e6).collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        let list: Vec<String> = parts.iter().map(|(w, b)| format!("{w}: {}", bytes(*b))).collect();
        format!("{} ({})", bytes(self.total()), list.join(", "))
    }
}

pub fn bytes(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.0} MB", b / 1e6)
    }
}

/// The estimate for a plan, `n` complete rows, `threads` worker threads.
pub fn estimate(plan: &SumsPlan, n: usize, threads: usize) -> MemoryEstimate {
    let layout = &plan.layout;
    let spec = &plan.spec;
    let levels: Vec<f64> = spec.groups.iter().map(|g| g.levels.len() as f64).collect();
    let q: Vec<f64> = layout.q.iter().map(|&v| v as f64).collect();
    let name = |b: usize| spec.formula.bars[b].group_name.clone();
    let p = layout.nx as f64;
    let n = n as f64;
    let nested = |a: usize, b: usize| {
        let (ka, kb) = (&plan.tables[a].keys, &plan.tables[b].keys);
        ka.iter().all(|k| kb.contains(k)) || kb.iter().all(|k| ka.contains(k))
    };
    let pairs = |a: usize, b: usize| {
        if nested(a, b) {
            levels[a].max(levels[b])
        } else {
            (levels[a] * levels[b]).min(n)
        }
    };
    let mut parts = Vec::new();
    let mut pass = Vec::new();
    let by_level: f64 = (0..q.len()).map(|b| levels[b] * q[b] * (q[b] + p + 3.0)).sum::<f64>() * F64;
    parts.push(("sums by level".to_string(), 2.0 * by_level));
    pass.push(("sums by level".to_string(), 2.0 * by_level));
    let order = &spec.bar_order;
    let Some((&first, rest)) = order.split_first() else { return MemoryEstimate { parts, pass } };
    let m: f64 = rest.iter().map(|&b| levels[b] * q[b]).sum();
    let crossed = rest.iter().any(|&b| !nested(first, b));
    // The factor workspace: L21's values and the rest's; each thread copies it
    // for the derivatives only when it is small (`SHARED_FACTOR_BYTES`).
    let cross_values: f64 = rest.iter().map(|&b| pairs(first, b) * q[first] * q[b]).sum::<f64>() * F64;
    let rest_values = if crossed { m * m * F64 } else { 0.0 };
    let copies = if cross_values + rest_values <= SHARED_FACTOR_BYTES { threads.max(1) as f64 } else { 0.0 };
    for &b in rest {
        let entries = pairs(first, b);
        parts.push((
            format!("cross-products of {} and {}", name(first), name(b)),
            entries * (CROSS_ENTRY_BYTES + (2.0 + copies) * q[first] * q[b] * F64),
        ));
    }
    let rest_bytes = if crossed {
        (4.0 + copies) * m * m * F64
    } else {
        let within: f64 = rest.iter().map(|&b| levels[b] * q[b] * q[b]).sum();
        (within + rest.iter().map(|&b| pairs(first, b)).sum::<f64>()) * 4.0 * F64
    };
    parts.push(("the rest block".to_string(), rest_bytes));
    // The pass's tables of pairs stay until the system is assembled, except
    // the one table of two scalar terms, whose values become the cross-products.
    let single_scalar = order.len() == 2 && q.iter().all(|&v| v == 1.0);
    let width = |b: usize| plan.tables[b].sums.len() as f64;
    for (a, b) in plan.pairs() {
        let table = pairs(a, b) * (F64 + width(plan.pair_table(a, b)) * F64);
        if !single_scalar {
            parts.push((format!("the pass's sums over pairs of {} and {}", name(a), name(b)), table));
        }
        // polars' accumulator: a dense array of every cell, or a hash map of the pairs seen.
        let cells = levels[a] * levels[b] * width(plan.pair_table(a, b));
        let store =
            if !nested(a, b) && cells <= DENSE_PAIR_CELLS { cells * F64 } else { pairs(a, b) * HASH_SLOT_BYTES };
        pass.push((format!("a pass over pairs of {} and {}", name(a), name(b)), store + table));
    }
    if layout.group_pieces {
        // Summed, split and kept: counted whole in both phases (`SumsPlan::group_pieces_bytes`).
        let pieces = plan.group_pieces_bytes(n as usize);
        parts.push(("the per-group pieces".to_string(), pieces));
        pass.push(("the per-group pieces".to_string(), pieces));
    }
    let columns = (plan.basic.len() + plan.tables.iter().map(|t| t.keys.len()).sum::<usize>()) as f64;
    pass.push(("a batch of rows".to_string(), BATCH_ROWS.min(n) * columns * F64 * BATCH_COPIES + ENGINE_BYTES));
    MemoryEstimate { parts, pass }
}
