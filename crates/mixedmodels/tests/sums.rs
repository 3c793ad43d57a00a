//! Out-of-core fits in the core: a pass over rows held in memory
//! (`sums::rows`) feeds the same reduced statistics an engine would; the
//! assembled system must be the in-memory fit's, the fit the same.

use mixedmodels::data::DataFrame;
use mixedmodels::lmer::{Lmer, LmerOptions};
use mixedmodels::sums::rows::{basic_columns, distinct_rows, moments};
use mixedmodels::sums::{Accumulator, ReducedStats, SumsPlan, SumsSetup};

/// A crossed design with a slope, a factor, weights, a transform and missing values.
fn data() -> DataFrame<'static> {
    let n = 600;
    let noise = |i: usize, k: usize| (((i * 7919 + k * 104729) % 1000) as f64 / 1000.0) - 0.5;
    let g1: Vec<String> = (0..n).map(|i| format!("a{}", (i * 13) % 23)).collect();
    let g2: Vec<f64> = (0..n).map(|i| ((i * 7) % 9) as f64).collect();
    let f: Vec<String> = (0..n).map(|i| ["lo", "mid", "hi"][(i * 5) % 3].to_string()).collect();
    let g3: Vec<String> = (0..n).map(|i| format!("c{}", (i * 11 + i / 7) % 6)).collect();
    let mut x: Vec<f64> = (0..n).map(|i| noise(i, 1) * 4.0).collect();
    let w: Vec<f64> = (0..n).map(|i| 0.5 + noise(i, 2) + 0.5).collect();
    let mut y: Vec<f64> = (0..n)
        .map(|i| 10.0 + x[i] + ((i * 13) % 23) as f64 * 0.2 + g2[i] * 0.3 + ((i * 5) % 3) as f64 + 2.0 * noise(i, 3))
        .collect();
    y[17] = f64::NAN;
    x[41] = f64::NAN;
    DataFrame::new()
        .with_numeric("y", y)
        .unwrap()
        .with_numeric("x", x)
        .unwrap()
        .with_numeric("w", w)
        .unwrap()
        .with_numeric("g2", g2)
        .unwrap()
        .with_labels("g1", &g1)
        .unwrap()
        .with_labels("f", &f)
        .unwrap()
        .with_labels("g3", &g3)
        .unwrap()
}

fn schema(d: &DataFrame) -> Vec<(String, bool)> {
    d.names().map(|n| (n.to_string(), matches!(d.get(n), Ok(mixedmodels::data::Column::Numeric(_))))).collect()
}

/// The two passes, done over the rows of `d` in memory.
fn plan(formula: &str, d: &DataFrame, weights: Option<&str>) -> (SumsPlan, DataFrame<'static>) {
    let mut used =
        SumsSetup::new(formula, &schema(d), DataFrame::new(), vec![], weights.map(str::to_string)).unwrap().used;
    used.dedup();
    let (complete, _) = d.clone().into_owned().drop_missing(&used).unwrap();
    let setup = SumsSetup::new(formula, &schema(d), complete.clone(), vec![], weights.map(str::to_string)).unwrap();
    let distinct = setup.distinct_requests.iter().map(|cols| distinct_rows(&complete, cols).unwrap()).collect();
    let moments: Vec<_> = setup.moment_requests.iter().map(|m| moments(m, d).unwrap()).collect();
    let plan = setup.learn(distinct, &moments, d.nrows(), complete.nrows()).unwrap();
    (plan, complete)
}

fn accumulate(plan: &SumsPlan, rows: &DataFrame, batches: usize) -> ReducedStats {
    let columns = basic_columns(plan, rows).unwrap();
    let mut acc = Accumulator::new(plan);
    let n = rows.nrows();
    let size = n.div_ceil(batches);
    for start in (0..n).step_by(size) {
        let end = (start + size).min(n);
        let keep: Vec<bool> = (0..n).map(|i| i >= start && i < end).collect();
        let batch = select_rows(rows, &keep);
        let cols: Vec<&[f64]> = columns.iter().map(|c| &c[start..end]).collect();
        acc.add(plan, &batch, &cols).unwrap();
    }
    acc.finish(plan)
}

fn select_rows(d: &DataFrame, keep: &[bool]) -> DataFrame<'static> {
    // Rows are dropped by marking them missing in a helper column.
    let marker: Vec<f64> = keep.iter().map(|k| if *k { 0.0 } else { f64::NAN }).collect();
    let with = d.clone().into_owned().with_numeric("\u{1}keep", marker).unwrap();
    with.drop_missing(&["\u{1}keep".to_string()]).unwrap().0.into_owned()
}

fn close(a: &[f64], b: &[f64], rtol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    let diff = a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    assert!(diff <= rtol * scale, "{what}: {diff:e} relative to {scale:e}");
}

#[test]
fn sums_assemble_the_in_memory_cross_products_and_fit() {
    let d = data();
    for (formula, weights) in [
        ("y ~ x + f + (1 | g1) + (1 | g2)", None),
        ("y ~ x * f + (x | g1) + (1 | g2)", Some("w")),
        ("y ~ scale(x) + I(x^2) + log(w) + (1 | g1/g2)", None),
    ] {
        let options = LmerOptions { weights: weights.map(str::to_string), ..LmerOptions::default() };
        let mem = Lmer::fit(formula, &d, &options).unwrap();
        let (plan, rows) = plan(formula, &d, weights);
        let stats = accumulate(&plan, &rows, 3);
        let ooc = Lmer::fit_sums(&plan, stats, &options).unwrap();
        assert!(!ooc.holds_rows() && mem.holds_rows());
        let (a, b) = (&mem.model.cp, &ooc.model.cp);
        assert_eq!((a.n, a.p, a.q0, a.l0, a.m), (b.n, b.p, b.q0, b.l0, b.m), "{formula}: shapes");
        assert_eq!(a.cross_ptr, b.cross_ptr, "{formula}: the cross structure");
        close(&a.zz0, &b.zz0, 1e-13, "zz0");
        close(&a.cross_values, &b.cross_values, 1e-13, "cross");
        close(&a.zz_rest, &b.zz_rest, 1e-13, "zz_rest");
        close(&a.zxy0, &b.zxy0, 1e-10, "zxy0");
        close(&a.zxy_rest, &b.zxy_rest, 1e-10, "zxy_rest");
        close(&a.xyxy, &b.xyxy, 1e-10, "xyxy");
        assert!((a.log_weights - b.log_weights).abs() <= 1e-12 * a.log_weights.abs().max(1.0));
        // The criterion at a fixed theta: the same function.
        let theta = mem.fit.theta.clone();
        let (fa, fb) = (mem.model.replicate().objective_at(&theta), ooc.model.replicate().objective_at(&theta));
        assert!((fa - fb).abs() <= 1e-12 * fa.abs(), "{formula}: {fa} vs {fb}");
        close(&mem.model.start, &ooc.model.start, 1e-9, "start");
        close(&mem.fit.beta, &ooc.fit.beta, 1e-7, "beta");
        close(&mem.fit.theta, &ooc.fit.theta, 1e-6, "theta");
        assert_eq!(mem.fixed_names, ooc.fixed_names);
        assert_eq!(mem.fit.warnings, ooc.fit.warnings);
    }
}

#[test]
fn tables_keyed_by_raw_values_give_the_accumulator_sums() {
    let d = data();
    let formula = "y ~ x + (1 | g1) + (1 | g2)";
    let (plan, rows) = plan(formula, &d, None);
    let whole = accumulate(&plan, &rows, 1);
    assert_eq!(accumulate(&plan, &rows, 7).pairs[0].levels, whole.pairs[0].levels);
    // An engine's tables: one row per row of the data (keys repeat), summed by level here.
    let columns = basic_columns(&plan, &rows).unwrap();
    let n = rows.nrows();
    let table = |t: usize| -> (DataFrame, Vec<f64>) {
        let mut frame = DataFrame::with_rows(n);
        for k in &plan.tables[t].keys {
            frame.push(k.clone(), rows.get(k).unwrap().clone()).unwrap();
        }
        let mut values = Vec::with_capacity(n * plan.tables[t].sums.len());
        for i in 0..n {
            for p in &plan.tables[t].sums {
                values.push(p.columns.iter().map(|&c| columns[c][i]).product::<f64>());
            }
        }
        (frame, values)
    };
    let keyed: Vec<_> = (0..plan.global_table()).map(table).collect();
    let from_tables = ReducedStats::from_tables(&plan, &keyed, whole.global.clone()).unwrap();
    for (a, b) in whole.terms.iter().zip(&from_tables.terms) {
        close(a, b, 1e-12, "terms");
    }
    assert_eq!(whole.pairs[0].levels, from_tables.pairs[0].levels);
    close(&whole.pairs[0].values, &from_tables.pairs[0].values, 1e-12, "pairs");
}

#[test]
fn triple_tables_keyed_by_raw_values_give_the_accumulator_sums() {
    let d = data();
    let (plan, rows) = plan("y ~ x + (1 | g1) + (1 | g2) + (x || g3)", &d, None);
    let plan = plan.with_group_pieces();
    // Per factor, the pairs of bars of the other factors: g1 (3 pairs), g2 (3), g3 (1).
    assert_eq!(plan.triples().len(), 7);
    // The two of the g3 terms (for g1 and for g2) ride on pair tables; the other five share one
    // table (their rows are those of the three factors): 4 bars, 6 pairs, 1 triple table, the global row.
    assert_eq!(plan.tables.len(), 12);
    let whole = accumulate(&plan, &rows, 1);
    let columns = basic_columns(&plan, &rows).unwrap();
    let n = rows.nrows();
    let table = |t: usize| -> (DataFrame, Vec<f64>) {
        let mut frame = DataFrame::with_rows(n);
        for k in &plan.tables[t].keys {
            frame.push(k.clone(), rows.get(k).unwrap().clone()).unwrap();
        }
        let mut values = Vec::with_capacity(n * plan.tables[t].sums.len());
        for i in 0..n {
            for p in &plan.tables[t].sums {
                values.push(p.columns.iter().map(|&c| columns[c][i]).product::<f64>());
            }
        }
        (frame, values)
    };
    let keyed: Vec<_> = (0..plan.global_table()).map(table).collect();
    let from_tables = ReducedStats::from_tables(&plan, &keyed, whole.global.clone()).unwrap();
    assert_eq!(whole.pieces.triples.len(), 7);
    for (a, b) in whole.pieces.triples.iter().zip(&from_tables.pieces.triples) {
        assert_eq!(a.levels, b.levels);
        close(&a.values, &b.values, 1e-12, "triples");
    }
}

#[test]
fn rank_deficient_columns_are_dropped_as_in_memory() {
    let d = data();
    let x: Vec<f64> = match d.get("x").unwrap() {
        mixedmodels::data::Column::Numeric(v) => v.to_vec(),
        _ => unreachable!(),
    };
    let d = d.with_numeric("x2", x.iter().map(|v| 2.0 * v + 1.0).collect::<Vec<_>>()).unwrap();
    let formula = "y ~ x + x2 + f + (1 | g1)";
    let mem = Lmer::fit(formula, &d, &LmerOptions::default()).unwrap();
    let (plan, rows) = plan(formula, &d, None);
    let ooc = Lmer::fit_sums(&plan, accumulate(&plan, &rows, 2), &LmerOptions::default()).unwrap();
    assert_eq!(ooc.spec.fixed_dropped, ["x2"]);
    assert_eq!(mem.spec.fixed_dropped, ooc.spec.fixed_dropped);
    assert_eq!(mem.fit.warnings, ooc.fit.warnings);
}

#[test]
fn the_bootstrap_draws_the_sums_with_their_covariance() {
    // Replicates drawn from the sums scatter as the fit's Wald intervals say.
    let d = data();
    let formula = "y ~ x + (1 | g1) + (1 | g2)";
    let (plan, rows) = plan(formula, &d, None);
    let ooc = Lmer::fit_sums(&plan, accumulate(&plan, &rows, 1), &LmerOptions::default()).unwrap();
    let reps = ooc.parametric_bootstrap(0, 400, 11).unwrap();
    let ok: Vec<_> = reps.iter().flatten().collect();
    assert!(ok.len() >= 395);
    let se: Vec<f64> = (0..2).map(|j| (ooc.fit.vcov_beta[j * 2 + j]).sqrt()).collect();
    for j in 0..2 {
        let v: Vec<f64> = ok.iter().map(|r| r.beta[j]).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let sd = (v.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
        assert!((mean - ooc.fit.beta[j]).abs() < 4.0 * se[j] / (v.len() as f64).sqrt(), "beta {j}: mean {mean}");
        assert!(sd > 0.8 * se[j] && sd < 1.25 * se[j], "beta {j}: sd {sd} against se {}", se[j]);
    }
    let sigma: Vec<f64> = ok.iter().map(|r| r.sigma).collect();
    let mean = sigma.iter().sum::<f64>() / sigma.len() as f64;
    assert!((mean / ooc.fit.sigma - 1.0).abs() < 0.02, "sigma {mean} against {}", ooc.fit.sigma);
    // Reproducible, and chunks give the same replicates as one run.
    let first = ooc.parametric_bootstrap(0, 10, 11).unwrap();
    let second = ooc.parametric_bootstrap(10, 10, 11).unwrap();
    let joined: Vec<_> = first.into_iter().chain(second).collect();
    assert_eq!(joined, reps[..20].to_vec());
}

#[test]
fn group_shares_from_the_pieces_are_the_rows_shares() {
    use mixedmodels::diagnostics::deletion::DeletionSystem;
    let d = data();
    for (formula, weights) in [
        ("y ~ x + f + (1 | g1) + (1 | g2)", None),
        ("y ~ x * f + (x | g1) + (1 | g2)", Some("w")),
        ("y ~ x + (1 | g1/g2)", None),
        // Two or more terms of other factors: the triple pieces.
        ("y ~ x + (1 | g1) + (1 | g2) + (1 | g3)", Some("w")),
        ("y ~ x + (1 | g1) + (x || g2)", None),
        ("y ~ x + (x | g1) + (1 | g2) + (1 | g3) + (1 | f)", None),
        ("y ~ x + (1 | g2/g3) + (1 | g1)", None),
    ] {
        let options = LmerOptions { weights: weights.map(str::to_string), ..LmerOptions::default() };
        let mem = Lmer::fit(formula, &d, &options).unwrap();
        let (plan, rows) = plan(formula, &d, weights);
        let plan = plan.with_group_pieces();
        let ooc = Lmer::fit_sums(&plan, accumulate(&plan, &rows, 2), &options).unwrap();
        let pieces = ooc.group_pieces.as_ref().expect("the plan summed the pieces");
        let system = DeletionSystem::new(&mem.model);
        for term in mem.terms() {
            let deletion = pieces.deletion(&term.group).unwrap();
            assert_eq!(deletion.nlevels(), term.nlevels(), "{formula}: {}", term.group);
            for g in [0, term.nlevels() / 2, term.nlevels() - 1] {
                let members: Vec<usize> = (0..term.refs.len()).filter(|&i| term.refs[i] as usize == g).collect();
                let (mut a, mut b) = (mem.model.cp.clone(), ooc.model.cp.clone());
                a.set_downdated(&mem.model.cp, &system.share(&members));
                b.set_downdated(&ooc.model.cp, &deletion.share(&ooc.model.cp, &[g]));
                let what = format!("{formula}: level {g} of {}", term.group);
                assert_eq!((a.n, b.n), (mem.model.cp.n - members.len(), a.n), "{what}");
                close(&a.zz0, &b.zz0, 1e-12, &what);
                close(&a.zxy0, &b.zxy0, 1e-9, &what);
                close(&a.cross_values, &b.cross_values, 1e-12, &what);
                close(&a.zz_rest, &b.zz_rest, 1e-12, &what);
                close(&a.zxy_rest, &b.zxy_rest, 1e-9, &what);
                close(&a.xyxy, &b.xyxy, 1e-9, &what);
                assert!((a.log_weights - b.log_weights).abs() <= 1e-10 * a.log_weights.abs().max(1.0), "{what}");
            }
        }
    }
}
