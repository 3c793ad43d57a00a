//! Time the parametric bootstrap on a CSV file:
//!   cargo run --release --example profile_boot -- DATA.csv "FORMULA" NBOOT
#[path = "common/csv.rs"]
mod csv;

use std::time::Instant;

use csv::read_csv;

use mixedmodels::lmer::{Lmer, LmerOptions};

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
