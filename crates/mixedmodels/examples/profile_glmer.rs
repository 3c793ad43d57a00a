//! Time a GLMM fit (Laplace) on a CSV file and report its evaluations:
//!   cargo run --release --example profile_glmer -- DATA.csv "FORMULA" [FAMILY] [REPS]
#[path = "common/csv.rs"]
mod csv;

use std::time::Instant;

use csv::read_csv;

use mixedmodels::glmer::{Glmer, GlmerOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let df = read_csv(&args[1]);
    let family = args.get(3).cloned().unwrap_or_else(|| "binomial".into());
    let reps: usize = args.get(4).map_or(1, |r| r.parse().unwrap());
    if std::env::var("SYRK").is_ok() {
        time_syrk(200, 1000);
        return;
    }
    if std::env::var("FILLS").is_ok() {
        time_fills(&df, &args[2]);
        return;
    }
    let options = GlmerOptions { family, ..GlmerOptions::default() };
    for _ in 0..reps {
        let t = Instant::now();
        let g = if std::env::var_os("INPOOL").is_some() { rayon::scope(|_| Glmer::fit(&args[2], &df, &options).unwrap()) } else { Glmer::fit(&args[2], &df, &options).unwrap() };
        let f = &g.fit;
        println!(
            "fit {:.3} s: stage 1 {} evals, stage 2 {} evals ({} PIRLS iterations), {} derivative evals; deviance {:.6}, theta {:?}, beta {:?}",
            t.elapsed().as_secs_f64(),
            f.stage1.feval,
            f.stage2.feval,
            f.pirls_iterations,
            f.derivative_evaluations,
            f.objective,
            f.theta,
            f.beta
        );
    }
}

/// Time refills of the cross-products alone (the PIRLS inner step).
#[allow(dead_code)]
fn time_fills(df: &mixedmodels::data::DataFrame, formula: &str) {
    use mixedmodels::design::DesignSpec;
    use mixedmodels::formula::ModelFormula;
    use mixedmodels::model::LinearMixedModel;
    let f = ModelFormula::parse(formula).unwrap();
    let (spec, design) = DesignSpec::learn(f, df, &[]).unwrap();
    let y = spec.numeric_response(df).unwrap();
    let p = design.x.ncols();
    let n = y.len();
    let w = vec![0.25; n];
    let mut m = LinearMixedModel::new(design.x.values.clone(), p, y.clone(), design.terms.clone(), Some(w.clone()), false).unwrap();
    m.cp.prepare_refills(&m.terms);
    let terms = m.terms.clone();
    let t = Instant::now();
    for _ in 0..100 {
        m.cp.fill(&design.x.values, &y, Some(&w), &terms);
    }
    println!("fill: {:.3} ms each", t.elapsed().as_secs_f64() * 10.0);
}

#[allow(dead_code)]
fn time_syrk(m: usize, k: usize) {
    let a: Vec<f64> = (0..m * k).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).collect();
    let mut c = vec![0.0; m * m];
    let t = Instant::now();
    for _ in 0..100 {
        mixedmodels::linalg::sub_aat_lower(&mut c, m, &a, k);
    }
    println!("syrk {m} x {k}: {:.3} ms each", t.elapsed().as_secs_f64() * 10.0);
}
