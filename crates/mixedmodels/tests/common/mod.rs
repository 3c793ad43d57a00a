//! Test helpers: the project's lme4 reference fixtures and a CSV reader
//! with R's `read.csv(stringsAsFactors = TRUE)` typing (quoted -> factor).
#![allow(dead_code)]

use std::path::PathBuf;

use mixedmodels::data::{Column, DataFrame, Factor, MISSING};
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

pub fn reference(case: &str) -> Value {
    let path = fixtures().join("lme4").join(format!("{case}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json")
}

/// Read a CSV as R's write.csv wrote it: quoted fields are factor labels, the rest numbers (NA missing).
pub fn read_csv(name: &str) -> DataFrame<'static> {
    read_csv_path(fixtures().join("data").join(name))
}

/// [`read_csv`] of a file anywhere.
pub fn read_csv_path(path: impl AsRef<std::path::Path>) -> DataFrame<'static> {
    read_csv_rows_path(path, &|_| true)
}

/// [`read_csv`] of the rows `keep` accepts (0-based data rows; factor levels
/// are those of the kept rows).
pub fn read_csv_rows(name: &str, keep: &dyn Fn(usize) -> bool) -> DataFrame<'static> {
    read_csv_rows_path(fixtures().join("data").join(name), keep)
}

fn read_csv_rows_path(path: impl AsRef<std::path::Path>, keep: &dyn Fn(usize) -> bool) -> DataFrame<'static> {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.lines();
    let header: Vec<String> = split(lines.next().unwrap()).into_iter().map(|(s, _)| s).collect();
    let rows: Vec<Vec<(String, bool)>> =
        lines.filter(|l| !l.is_empty()).map(split).enumerate().filter(|(i, _)| keep(*i)).map(|(_, r)| r).collect();
    let mut df = DataFrame::new();
    for (c, name) in header.iter().enumerate() {
        let quoted = rows.iter().any(|r| r[c].1);
        if quoted {
            let labels: Vec<&str> = rows.iter().map(|r| r[c].0.as_str()).collect();
            let mut levels: Vec<String> = labels.iter().filter(|l| **l != "NA").map(|s| s.to_string()).collect();
            levels.sort();
            levels.dedup();
            let codes =
                labels.iter().map(|l| levels.iter().position(|x| x == l).map_or(MISSING, |i| i as u32)).collect();
            df.push(name.clone(), Column::Factor(Factor::new(codes, levels))).unwrap();
        } else {
            let v: Vec<f64> = rows.iter().map(|r| r[c].0.parse().unwrap_or(f64::NAN)).collect();
            df.push(name.clone(), Column::Numeric(v.into())).unwrap();
        }
    }
    df
}

fn split(line: &str) -> Vec<(String, bool)> {
    line.split(',')
        .map(|f| {
            let q = f.starts_with('"');
            (f.trim_matches('"').to_string(), q)
        })
        .collect()
}

pub fn num(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

/// A JSON number or list of numbers as a vector (jsonlite unboxes length-1 vectors).
pub fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(num).collect(),
        other => vec![num(other)],
    }
}

pub fn assert_rel(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-300);
    assert!(err <= tol, "{what}: got {got}, want {want} (rel err {err:.2e} > {tol:.0e})");
}

pub fn assert_abs(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (abs err {:.2e} > {tol:.0e})",
        (got - want).abs()
    );
}
