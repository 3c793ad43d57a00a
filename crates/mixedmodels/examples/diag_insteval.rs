#[path = "../tests/common/mod.rs"]
mod common;
use mixedmodels::diagnostics;
use mixedmodels::lmer::{Lmer, LmerOptions};
use std::time::Instant;
fn main() {
    let text = std::fs::read_to_string("/work/shared/data/insteval.csv").unwrap();
    let _ = text;
    let df = common::read_csv_path("/work/shared/data/insteval.csv");
    let t = Instant::now();
    let m = Lmer::fit("y ~ service + (1 | s) + (1 | d) + (1 | dept)", &df, &LmerOptions::default()).unwrap();
    let fit = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let d = diagnostics::observation_influence(&m).unwrap();
    let infl = t.elapsed().as_secs_f64();
    let mx = d.measures.iter().map(|x| x.cooksd).fold(0.0f64, f64::max);
    println!("fit {fit:.2}s influence {infl:.2}s max cooksd {mx:.4} lev0 {:?}", d.leverage[0]);
    let st = std::fs::read_to_string("/proc/self/status").unwrap();
    println!("{}", st.lines().find(|l| l.starts_with("VmHWM")).unwrap());
}
