//! Time the parametric bootstrap on a CSV file:
//!   cargo run --release --example profile_boot -- DATA.csv "FORMULA" NBOOT
use std::time::Instant;

use mixedmodels::data::{Column, DataFrame, Factor, MISSING};
use mixedmodels::lmer::{Lmer, LmerOptions};

fn read_csv(path: &str) -> DataFrame<'static> {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(|s| s.trim_matches('"').to_string()).collect();
    let rows: Vec<Vec<&str>> = lines.filter(|l| !l.is_empty()).map(|l| l.split(',').collect()).collect();
    let mut df = DataFrame::new();
    for (c, name) in header.iter().enumerate() {
        if rows[0][c].starts_with('"') {
            let labels: Vec<&str> = rows.iter().map(|r| r[c].trim_matches('"')).collect();
            let mut levels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
            levels.sort();
            levels.dedup();
            let codes = labels
                .iter()
                .map(|l| levels.binary_search_by(|x| x.as_str().cmp(l)).map_or(MISSING, |i| i as u32))
                .collect();
            df.push(name.clone(), Column::Factor(Factor::new(codes, levels))).unwrap();
        } else {
            let v: Vec<f64> = rows.iter().map(|r| r[c].parse().unwrap_or(f64::NAN)).collect();
            df.push(name.clone(), Column::Numeric(v.into())).unwrap();
        }
    }
    df
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let df = read_csv(&args[1]);
    let m = Lmer::fit(&args[2], &df, &LmerOptions::default()).unwrap();
    let n: usize = args[3].parse().unwrap();
    let t = Instant::now();
    let reps = mixedmodels::resample::parametric_bootstrap(&m, 0, n, 1);
    let fe: f64 = reps.iter().flatten().map(|r| r.feval as f64).sum::<f64>() / n as f64;
    println!("{n} refits: {:.3} s, {:.1} evaluations a refit", t.elapsed().as_secs_f64(), fe);
}
