//! A pass over rows held in memory: what an engine computes for a plan,
//! done here (distinct rows, moments, the basic columns). Rust programs
//! whose data come in chunks feed [`super::Accumulator`] with it, and the
//! tests compare the engines against it.

use std::collections::HashMap;

use super::expr::ColumnExpr;
use super::plan::SumsPlan;
use super::setup::MomentRequest;
use crate::data::{Column, DataFrame, Factor, MISSING};
use crate::error::Result;

/// A row's value of a column as a key: the label of a factor, the bits of a number.
fn key(column: &Column, i: usize) -> String {
    match column {
        Column::Numeric(v) => format!("{:?}", v[i]),
        Column::Factor(f) if f.codes[i] == MISSING => "\u{0}NA".into(),
        Column::Factor(f) => f.levels[f.codes[i] as usize].clone(),
    }
}

/// The distinct rows of `columns` (first occurrences, in row order).
pub fn distinct_rows(data: &DataFrame, columns: &[String]) -> Result<DataFrame<'static>> {
    let cols = columns.iter().map(|c| data.get(c)).collect::<Result<Vec<_>>>()?;
    let mut seen = HashMap::new();
    let mut rows = Vec::new();
    for i in 0..data.nrows() {
        let k: Vec<String> = cols.iter().map(|c| key(c, i)).collect();
        if seen.insert(k, ()).is_none() {
            rows.push(i);
        }
    }
    let mut out = DataFrame::with_rows(rows.len());
    for (name, col) in columns.iter().zip(cols) {
        let picked = match col {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&i| v[i]).collect::<Vec<_>>().into()),
            Column::Factor(f) => Column::Factor(Factor {
                codes: rows.iter().map(|&i| f.codes[i]).collect(),
                levels: f.levels.clone(),
                ordered: f.ordered,
            }),
        };
        out.push(name.clone(), picked)?;
    }
    Ok(out)
}

/// n, sum (x - shift) and sum (x - shift)^2 over the rows where x is not missing.
pub fn moments(request: &MomentRequest, data: &DataFrame) -> Result<(f64, f64, f64)> {
    let x = evaluate(&request.expr, data, &[])?;
    let (mut n, mut s1, mut s2) = (0.0, 0.0, 0.0);
    for v in x.into_iter().filter(|v| !v.is_nan()) {
        let d = v - request.shift;
        n += 1.0;
        s1 += d;
        s2 += d * d;
    }
    Ok((n, s1, s2))
}

/// An expression on rows; `distinct[t]` are the tables its lookups refer to.
pub fn evaluate(e: &ColumnExpr, data: &DataFrame, distinct: &[DataFrame]) -> Result<Vec<f64>> {
    let n = data.nrows();
    let column = |name: &str| -> Vec<f64> {
        match data.get(name) {
            Ok(Column::Numeric(v)) => v.to_vec(),
            _ => vec![f64::NAN; n],
        }
    };
    let lookup = |table: usize, values: &[f64]| -> Vec<f64> {
        let Some(t) = distinct.get(table) else { return vec![f64::NAN; n] };
        let name = t.names().next().unwrap_or_default().to_string();
        let (Ok(from), Ok(at)) = (t.get(&name), data.get(&name)) else { return vec![f64::NAN; n] };
        let index: HashMap<String, usize> = (0..t.nrows()).map(|i| (key(from, i), i)).collect();
        (0..n).map(|i| index.get(&key(at, i)).map_or(f64::NAN, |&r| values[r])).collect()
    };
    Ok(e.evaluate(n, &column, &lookup))
}

/// The plan's basic columns on (complete) rows.
pub fn basic_columns(plan: &SumsPlan, data: &DataFrame) -> Result<Vec<Vec<f64>>> {
    plan.basic.iter().map(|(_, e)| evaluate(e, data, &plan.distinct)).collect()
}
