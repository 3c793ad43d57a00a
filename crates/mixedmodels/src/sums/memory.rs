//! How much memory the reduced system of an out-of-core fit takes, from the
//! numbers of levels alone (before the pass that forms it), so that a fit
//! that cannot fit in memory is refused with the figures instead of being
//! killed halfway. The data's rows do not count: they stay in the engine.
//!
//! With l_k levels and q_k random effects a level for term k (lme4's order:
//! term 0 has the most levels), p fixed effects and t threads:
//! - sums by level: sum_k l_k q_k (q_k + p + 3) values;
//! - Z_rest'Z_0 (pairs of a level of term 0 and one of term k >= 1 that some
//!   row has, at most min(l_0 l_k, n)): about 36 bytes an entry for the
//!   structure, and q_0 q_k values for the cross-product and for each
//!   factor (the fit's own and one a thread for the derivatives);
//! - the rest block, m = sum_{k >= 1} l_k q_k rows: dense (m^2 values,
//!   about four copies: the cross-products, the factor, a solve's scratch
//!   and an inverse) when the terms are crossed, sparse (about its pairs)
//!   when nested;
//! - a dense pass over pairs of crossed levels accumulates l_a l_b q_a q_b
//!   values (polars' streaming pass).

use super::plan::SumsPlan;

const F64: f64 = 8.0;
/// Bytes of structure an entry of Z_rest'Z_0 takes beside its values.
const CROSS_ENTRY_BYTES: f64 = 36.0;

#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// Bytes, part by part: (what, bytes).
    pub parts: Vec<(String, f64)>,
}

impl MemoryEstimate {
    pub fn total(&self) -> f64 {
        self.parts.iter().map(|(_, b)| b).sum()
    }

    /// "1.3 GB (cross-products of g1 and g2: 1.1 GB, ...)".
    pub fn describe(&self) -> String {
        let mut parts: Vec<&(String, f64)> = self.parts.iter().filter(|(_, b)| *b >= 1e6).collect();
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
    let by_level: f64 = (0..q.len()).map(|b| levels[b] * q[b] * (q[b] + p + 3.0)).sum::<f64>() * F64;
    parts.push(("sums by level".to_string(), 2.0 * by_level));
    let order = &spec.bar_order;
    let Some((&first, rest)) = order.split_first() else { return MemoryEstimate { parts } };
    for &b in rest {
        let entries = pairs(first, b);
        let factors = 2.0 + threads.max(1) as f64;
        parts.push((
            format!("cross-products of {} and {}", name(first), name(b)),
            entries * (CROSS_ENTRY_BYTES + factors * q[first] * q[b] * F64),
        ));
    }
    let m: f64 = rest.iter().map(|&b| levels[b] * q[b]).sum();
    let crossed = rest.iter().any(|&b| !nested(first, b));
    let rest_bytes = if crossed {
        (4.0 + threads.max(1) as f64) * m * m * F64
    } else {
        let within: f64 = rest.iter().map(|&b| levels[b] * q[b] * q[b]).sum();
        (within + rest.iter().map(|&b| pairs(first, b)).sum::<f64>()) * 4.0 * F64
    };
    parts.push(("the rest block".to_string(), rest_bytes));
    for (a, b) in plan.pairs() {
        if !nested(a, b) {
            parts.push((
                format!("a pass over pairs of {} and {}", name(a), name(b)),
                levels[a] * levels[b] * q[a] * q[b] * F64 + pairs(a, b) * (q[a] * q[b] + 1.0) * F64,
            ));
        }
    }
    MemoryEstimate { parts }
}
