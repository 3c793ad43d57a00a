//! `Lm2`: the two-stage "summary statistics" model (pymer4's `Lm2`; Holmes
//! and Friston 1998, Gelman 2005): one least-squares fit per group, then a
//! one-sample test of each coefficient across groups (an intercept-only
//! linear model, so any covariance estimator applies). With several grouping
//! columns (innermost first) the first level fits each combination of their
//! levels, each further level averages the previous level's coefficients
//! within its groups, and the last level's groups are tested.

use super::correlations::CorrelationKind;
use super::frame::{factor_of, interaction, LmFrame};
use super::groups::{fit_groups, group_correlations, rows_by_group, rsquared_of, GroupFits};
use super::ols::LeastSquares;
use super::resampling::{
    bootstrap_coefficients, percentile_intervals, permutation_pvalue, sign_flipped, t_statistics, FlipStatistic,
};
use super::sandwich::{covariance, standard_errors, SeMethod};
use super::SeChoice;
use crate::data::{DataFrame, Factor, FitRows};
use crate::design::{Contrasts, DesignSpec, WeightRule};
use crate::error::{Error, Result};

/// What the first level estimates in each group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FirstLevel {
    Coefficients,
    /// Semi-partial or partial correlations, Fisher z-transformed (atanh) when `fisher_z`.
    Correlations {
        kind: CorrelationKind,
        fisher_z: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Lm2Options {
    pub contrasts: Vec<(String, Contrasts)>,
    /// Grouping columns, innermost first (at least one).
    pub groups: Vec<String>,
    pub first_level: FirstLevel,
    /// The second level's covariance estimator; clusters must group whole
    /// last-level groups (a column constant within each of them).
    pub se: SeChoice,
}

/// The estimates of one level: a row a group.
#[derive(Debug, Clone)]
pub struct LevelTable {
    /// The grouping columns that define this level's groups, and each
    /// group's label in each of them.
    pub columns: Vec<(String, Vec<String>)>,
    /// ngroups x p, row-major.
    pub values: Vec<f64>,
    pub ngroups: usize,
}

/// The second-level test of one coefficient.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondLevel {
    pub estimate: f64,
    pub se: f64,
    pub df: f64,
    /// The groups with a finite first-level value.
    pub ngroups: usize,
}

pub struct Lm2 {
    pub spec: DesignSpec,
    pub fixed_names: Vec<String>,
    /// Term of each coefficient (0 = intercept), as R's `assign`.
    pub assign: Vec<usize>,
    /// The design on all rows (n x p, column-major), the response minus the
    /// offsets, and the offsets.
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub offset: Option<Vec<f64>>,
    pub intercept: bool,
    pub first_level: FirstLevel,
    /// Level 1 (the per-group fits) first, the tested level last.
    pub levels: Vec<LevelTable>,
    /// Per-group fits (with coefficients as the first level).
    pub group_fits: Option<GroupFits>,
    /// The whole data's R^2 and adjusted R^2 from the per-group fits.
    pub rsquared: f64,
    pub rsquared_adj: f64,
    pub tests: Vec<SecondLevel>,
    se_methods: Vec<SeMethod>,
    pub nobs: usize,
    /// The rows of the data the fit used.
    pub rows: FitRows,
    pub warnings: Vec<String>,
}

impl Lm2 {
    pub fn fit(formula: &str, data: &DataFrame, options: &Lm2Options) -> Result<Lm2> {
        if options.groups.is_empty() {
            return Err(Error::Argument("Lm2 needs at least one grouping column".into()));
        }
        let mut extra: Vec<&str> = options.groups.iter().map(String::as_str).collect();
        if let SeChoice::ClusterBy(c) = &options.se {
            extra.push(c);
        }
        let frame = LmFrame::new(formula, data, &options.contrasts, None, WeightRule::Positive, &extra)?;
        let mut y = frame.spec.numeric_response(&frame.data)?;
        // As lm: the formula's offsets are subtracted, then added to the fitted values.
        if let Some(o) = &frame.offset {
            y.iter_mut().zip(o).for_each(|(v, ov)| *v -= ov);
        }
        let factors = options.groups.iter().map(|g| frame.factor(g)).collect::<Result<Vec<Factor>>>()?;
        // units[k]: the groups of level k, the combinations of groups[k..].
        let units: Vec<Factor> = (0..factors.len()).map(|k| interaction(&factors[k..])).collect();
        let (n, p) = (frame.x.nrows, frame.x.ncols());
        let rows = rows_by_group(&units[0].codes, units[0].levels.len());
        let intercept = frame.intercept();
        let mut warnings = frame.warnings();
        let (first, group_fits) = match options.first_level {
            FirstLevel::Coefficients => {
                let mut fits = fit_groups(&frame.x.values, n, p, &y, &rows, intercept);
                if let Some(o) = &frame.offset {
                    fits.fitted.iter_mut().zip(o).for_each(|(f, ov)| *f += ov);
                }
                warnings.extend(aliased_warning(&fits, &units[0], &frame.x.names));
                (fits.coefficients.clone(), Some(fits))
            }
            FirstLevel::Correlations { kind, fisher_z } => {
                let icpt = frame.x.names.iter().position(|n| n == "(Intercept)");
                let mut c = group_correlations(&frame.x.values, n, p, &y, &rows, icpt, kind);
                if fisher_z {
                    c.iter_mut().for_each(|v| *v = v.atanh());
                }
                (c, None)
            }
        };
        let levels = level_tables(&factors, &units, first, p, &options.groups);
        let last = levels.last().expect("at least one level");
        let se_method = second_level_method(&options.se, &frame, units.last().expect("a level"), last.ngroups)?;
        let (tests, se_methods) = second_level_tests(&last.values, last.ngroups, p, &se_method);
        let (rsquared, rsquared_adj) = match &group_fits {
            Some(f) => rsquared_of(&y, &f.residuals, p, intercept),
            None => (f64::NAN, f64::NAN),
        };
        Ok(Lm2 {
            fixed_names: frame.x.names.clone(),
            assign: frame.x.assign.clone(),
            y,
            offset: frame.offset.clone(),
            spec: frame.spec,
            intercept,
            first_level: options.first_level,
            levels,
            group_fits,
            rsquared,
            rsquared_adj,
            tests,
            se_methods,
            nobs: n,
            x: frame.x.values,
            rows: frame.rows,
            warnings,
        })
    }

    /// The response as given (offsets added back).
    pub fn response(&self) -> Vec<f64> {
        match &self.offset {
            Some(o) => self.y.iter().zip(o).map(|(v, ov)| v + ov).collect(),
            None => self.y.clone(),
        }
    }

    /// The last level's values of coefficient j that are finite.
    fn finite_values(&self, j: usize) -> Vec<f64> {
        let last = self.levels.last().expect("a level");
        let p = self.fixed_names.len();
        (0..last.ngroups).map(|g| last.values[g * p + j]).filter(|v| v.is_finite()).collect()
    }

    /// Sign-flip permutation p-values of each coefficient's second-level
    /// statistic (the t statistic by the second level's estimator, or the mean).
    pub fn permutation_test(&self, n_perm: usize, stat: FlipStatistic, seed: u64) -> Vec<f64> {
        (0..self.fixed_names.len())
            .map(|j| {
                let v = self.finite_values(j);
                if v.len() < 2 {
                    return f64::NAN;
                }
                let method = &self.se_methods[j];
                let observed = match stat {
                    FlipStatistic::Mean => v.iter().sum::<f64>() / v.len() as f64,
                    FlipStatistic::TStat => {
                        t_statistics(&LeastSquares::new(&vec![1.0; v.len()], v.len(), 1, None), &v, method)[0]
                    }
                };
                let reps = sign_flipped(&v, method, stat, n_perm, seed.wrapping_add(j as u64));
                permutation_pvalue(observed, reps.into_iter())
            })
            .collect()
    }

    /// Percentile intervals of each coefficient's second-level mean over
    /// `n_boot` resamples of the groups.
    pub fn bootstrap_intervals(&self, n_boot: usize, seed: u64) -> Vec<[f64; 2]> {
        (0..self.fixed_names.len())
            .map(|j| {
                let v = self.finite_values(j);
                if v.len() < 2 {
                    return [f64::NAN, f64::NAN];
                }
                let m = v.len();
                let reps = bootstrap_coefficients(&vec![1.0; m], m, 1, &v, None, n_boot, seed.wrapping_add(j as u64));
                let ci = percentile_intervals(&reps, 1, &[0.025, 0.975]);
                [ci[0][0], ci[0][1]]
            })
            .collect()
    }
}

/// Level 1's values per group, then each further level's group means.
fn level_tables(factors: &[Factor], units: &[Factor], first: Vec<f64>, p: usize, names: &[String]) -> Vec<LevelTable> {
    let mut out = Vec::with_capacity(units.len());
    let mut values = first;
    for k in 0..units.len() {
        if k > 0 {
            values = group_means(&values, p, &units[k - 1].codes, &units[k].codes, units[k].levels.len());
        }
        let ngroups = units[k].levels.len();
        let columns =
            (k..factors.len()).map(|c| (names[c].clone(), unit_labels(&units[k], &factors[c], ngroups))).collect();
        out.push(LevelTable { columns, values: values.clone(), ngroups });
    }
    out
}

/// Each unit's label in one of the factors it combines.
fn unit_labels(unit: &Factor, factor: &Factor, ngroups: usize) -> Vec<String> {
    let mut labels = vec![String::new(); ngroups];
    for (u, f) in unit.codes.iter().zip(&factor.codes) {
        labels[*u as usize] = factor.levels[*f as usize].clone();
    }
    labels
}

/// The means, over the child units within each parent unit, of the finite
/// child values (child and parent codes read row by row).
fn group_means(child: &[f64], p: usize, child_codes: &[u32], parent_codes: &[u32], nparents: usize) -> Vec<f64> {
    let nchildren = child.len() / p.max(1);
    let mut parent_of = vec![0usize; nchildren];
    for (c, pa) in child_codes.iter().zip(parent_codes) {
        parent_of[*c as usize] = *pa as usize;
    }
    let mut sum = vec![0.0; nparents * p];
    let mut count = vec![0usize; nparents * p];
    for c in 0..nchildren {
        for j in 0..p {
            let v = child[c * p + j];
            if v.is_finite() {
                sum[parent_of[c] * p + j] += v;
                count[parent_of[c] * p + j] += 1;
            }
        }
    }
    sum.iter().zip(&count).map(|(s, &k)| if k > 0 { s / k as f64 } else { f64::NAN }).collect()
}

/// The second level's estimator; clusters are read per last-level group.
fn second_level_method(se: &SeChoice, frame: &LmFrame, top: &Factor, ngroups: usize) -> Result<SeMethod> {
    let column = match se {
        SeChoice::Method(m) => return Ok(m.clone()),
        SeChoice::ClusterBy(c) => c,
    };
    let clusters = factor_of(&frame.data, column)?;
    let mut of_group = vec![u32::MAX; ngroups];
    for (g, c) in top.codes.iter().zip(&clusters.codes) {
        let slot = &mut of_group[*g as usize];
        if *slot != u32::MAX && *slot != *c {
            return Err(Error::column(
                column,
                format!(
                    "clusters must contain whole groups; group '{}' spans several clusters",
                    top.levels[*g as usize]
                ),
            ));
        }
        *slot = *c;
    }
    Ok(SeMethod::Cluster { codes: of_group, ngroups: clusters.levels.len() })
}

/// One-sample tests of each coefficient over the groups (NaN values left
/// out), with the estimator each coefficient's groups need.
fn second_level_tests(
    values: &[f64],
    ngroups: usize,
    p: usize,
    method: &SeMethod,
) -> (Vec<SecondLevel>, Vec<SeMethod>) {
    (0..p)
        .map(|j| {
            let present: Vec<usize> = (0..ngroups).filter(|&g| values[g * p + j].is_finite()).collect();
            let v: Vec<f64> = present.iter().map(|&g| values[g * p + j]).collect();
            let method = restrict_method(method, &present);
            let m = v.len();
            if m == 0 {
                let empty = SecondLevel { estimate: f64::NAN, se: f64::NAN, df: f64::NAN, ngroups: 0 };
                return (empty, method);
            }
            let ls = LeastSquares::new(&vec![1.0; m], m, 1, None);
            let fit = ls.solve(&v);
            let se = standard_errors(&covariance(&ls, &fit, &method), 1)[0];
            let test = SecondLevel { estimate: fit.beta[0], se, df: method.df(m, 1), ngroups: m };
            (test, method)
        })
        .unzip()
}

/// A cluster method restricted to some groups, clusters renumbered.
fn restrict_method(method: &SeMethod, present: &[usize]) -> SeMethod {
    let SeMethod::Cluster { codes, .. } = method else { return method.clone() };
    let mut seen: Vec<u32> = present.iter().map(|&g| codes[g]).collect();
    seen.sort_unstable();
    seen.dedup();
    let codes = present.iter().map(|&g| seen.binary_search(&codes[g]).expect("present") as u32).collect();
    SeMethod::Cluster { codes, ngroups: seen.len() }
}

/// One warning naming the groups whose fit aliased columns.
fn aliased_warning(fits: &GroupFits, units: &Factor, names: &[String]) -> Option<String> {
    if fits.aliased.is_empty() {
        return None;
    }
    let shown: Vec<String> = fits
        .aliased
        .iter()
        .take(5)
        .map(|(g, cols)| {
            let cols: Vec<&str> = cols.iter().map(|&j| names[j].as_str()).collect();
            format!("'{}' ({})", units.levels[*g], cols.join(", "))
        })
        .collect();
    let more = if fits.aliased.len() > 5 { format!(" and {} more", fits.aliased.len() - 5) } else { String::new() };
    Some(format!(
        "{} group(s) cannot estimate every coefficient (a column constant or dependent within the group): {}{}; those coefficients are NaN for them and left out of the second level",
        fits.aliased.len(),
        shown.join(", "),
        more
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six subjects in two schools; y = a_s + b_s x.
    fn data() -> DataFrame<'static> {
        let mut y = Vec::new();
        let mut x = Vec::new();
        let mut subject = Vec::new();
        let mut school = Vec::new();
        for s in 0..6 {
            for i in 0..5 {
                let xv = i as f64;
                x.push(xv);
                y.push(s as f64 + (1.0 + 0.1 * s as f64) * xv + [0.1, -0.1, 0.05, 0.0, -0.05][i]);
                subject.push(format!("s{s}"));
                school.push(if s < 3 { "A" } else { "B" });
            }
        }
        DataFrame::new()
            .with_numeric("y", y)
            .unwrap()
            .with_numeric("x", x)
            .unwrap()
            .with_labels("subject", &subject)
            .unwrap()
            .with_labels("school", &school)
            .unwrap()
    }

    fn options(groups: &[&str]) -> Lm2Options {
        Lm2Options {
            contrasts: vec![],
            groups: groups.iter().map(|s| s.to_string()).collect(),
            first_level: FirstLevel::Coefficients,
            se: SeChoice::default(),
        }
    }

    #[test]
    fn second_level_is_a_one_sample_t_test() {
        let m = Lm2::fit("y ~ x", &data(), &options(&["subject"])).unwrap();
        let slopes: Vec<f64> = (0..6).map(|g| m.levels[0].values[g * 2 + 1]).collect();
        let mean = slopes.iter().sum::<f64>() / 6.0;
        let sd = (slopes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
        assert!((m.tests[1].estimate - mean).abs() < 1e-12);
        assert!((m.tests[1].se - sd / 6f64.sqrt()).abs() < 1e-12);
        assert_eq!(m.tests[1].df, 5.0);
        assert_eq!(m.levels[0].columns[0].1, ["s0", "s1", "s2", "s3", "s4", "s5"]);
        let p = m.permutation_test(63, FlipStatistic::TStat, 1);
        // Six positive slopes: only the all-positive and all-negative flips
        // reach |t|, about 2 in 64.
        assert!(p[1] < 0.2, "{p:?}");
        let ci = m.bootstrap_intervals(100, 2);
        assert!(ci[1][0] <= mean && mean <= ci[1][1]);
    }

    #[test]
    fn nested_groups_average_then_test() {
        let m = Lm2::fit("y ~ x", &data(), &options(&["subject", "school"])).unwrap();
        assert_eq!(m.levels.len(), 2);
        assert_eq!(m.levels[1].ngroups, 2);
        assert_eq!(m.levels[1].columns[0].1, ["A", "B"]);
        let a: f64 = (0..3).map(|g| m.levels[0].values[g * 2 + 1]).sum::<f64>() / 3.0;
        assert!((m.levels[1].values[1] - a).abs() < 1e-12);
        assert_eq!(m.tests[1].df, 1.0);
        // Clusters must hold whole groups.
        let bad = Lm2Options { se: SeChoice::ClusterBy("subject".into()), ..options(&["school"]) };
        assert!(Lm2::fit("y ~ x", &data(), &bad).err().unwrap().to_string().contains("spans"));
    }
}
