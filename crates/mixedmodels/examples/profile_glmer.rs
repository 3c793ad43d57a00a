//! Time a GLMM fit (Laplace) on a CSV file and report its evaluations:
//!   cargo run --release --example profile_glmer -- DATA.csv "FORMULA" [FAMILY] [REPS]
#[path = "common/csv.rs"]
mod csv;

use std::time::Instant;

use csv::read_csv;

use mixedmodels::glmer::{Glmer, GlmerOptions};
use mixedmodels::glmm::Family;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let df = read_csv(&args[1]);
    let family = args.get(3).cloned().unwrap_or_else(|| "binomial".into());
    let reps: usize = args.get(4).map_or(1, |r| r.parse().unwrap());
    let options = GlmerOptions { family: Family::parse(&family, None).unwrap(), ..GlmerOptions::default() };
    for _ in 0..reps {
        let t = Instant::now();
        let g = Glmer::fit(&args[2], &df, &options).unwrap();
        let f = &g.fit;
        println!(
            "fit {:.3} s: stage 1 {} evals, stage 2 {} evals ({} PIRLS iterations), {} derivative evals; \
             deviance {:.6}, theta {:?}, beta {:?}",
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
