//! Time the stages of a fit on a CSV file (R's write.csv layout):
//!   cargo run --release --example profile_fit -- DATA.csv "FORMULA"
#[path = "common/csv.rs"]
mod csv;

use std::time::Instant;

use csv::read_csv;

use mixedmodels::design::DesignSpec;
use mixedmodels::fit::{fit, FitOptions};
use mixedmodels::formula::ModelFormula;
use mixedmodels::model::LinearMixedModel;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "chol" {
        chol_bench(args[2].parse().unwrap());
        return;
    }
    let t = Instant::now();
    let df = read_csv(&args[1]);
    println!("read      {:8.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let f = ModelFormula::parse(&args[2]).unwrap();
    let (spec, design) = DesignSpec::learn(f, &df, &[]).unwrap();
    let y = spec.numeric_response(&df).unwrap();
    println!("design    {:8.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let p = design.x.ncols();
    let mut m = LinearMixedModel::new(design.x.values, p, y, design.terms, None, true).unwrap();
    println!("setup     {:8.3} s  (m = {}, first term {} levels)", t.elapsed().as_secs_f64(), m.cp.m, m.cp.l0);
    let theta = m.theta.clone();
    println!("rest      {} storage", if m.cp.pattern.is_dense() { "dense" } else { "sparse" });
    let t = Instant::now();
    let reps = 10;
    for _ in 0..reps {
        m.objective_at(&theta);
    }
    println!("per eval  {:8.4} s", t.elapsed().as_secs_f64() / reps as f64);
    let t = Instant::now();
    for _ in 0..reps {
        m.objective_at(&theta);
        m.gradient();
    }
    println!("per f+g   {:8.4} s", t.elapsed().as_secs_f64() / reps as f64);
    let t = Instant::now();
    let mut opts = FitOptions { derivatives: false, ..Default::default() };
    if let Ok(v) = std::env::var("RHO_END") {
        opts.optimizer.rho_end = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("RHO_BEGIN") {
        opts.optimizer.rho_begin = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("OPTIMIZER") {
        opts.optimizer.method = mixedmodels::optim::Method::parse(&v).expect("bfgs or bobyqa");
    }
    if let Ok(v) = std::env::var("START") {
        opts.start = Some(v.split(',').map(|x| x.parse().unwrap()).collect());
    }
    let r = fit(&mut m, &opts, None).unwrap();
    println!(
        "optimize  {:8.3} s  ({} evaluations, {} gradients) theta {:?} obj {:.8}",
        t.elapsed().as_secs_f64(),
        r.opt.feval,
        r.opt.geval,
        r.theta,
        r.objective
    );
    let t = Instant::now();
    let _ = mixedmodels::inference::derivatives(&mut m);
    println!("derivs    {:8.3} s", t.elapsed().as_secs_f64());
}

#[allow(dead_code)]
fn chol_bench(n: usize) {
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[j * n + i] = if i == j { n as f64 } else { ((i * 7 + j * 13) % 17) as f64 / 17.0 };
        }
    }
    let mut c = mixedmodels::linalg::DenseCholesky::new(n);
    let t = Instant::now();
    for _ in 0..10 {
        let mut b = a.clone();
        c.factor(&mut b).unwrap();
    }
    println!("chol {n}: {:.4} s", t.elapsed().as_secs_f64() / 10.0);
}
