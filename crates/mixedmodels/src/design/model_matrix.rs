//! R's `model.matrix`: columns of a term list, with R's rule for when a factor
//! is coded by contrasts and when by a full set of indicators, and R's column
//! names (`(Intercept)`, `EvitEvit100`, `Time:EvitEvit100`).

use super::variable::{Values, VarSpec};
use crate::data::MISSING;
use crate::error::{Error, Result};
use crate::formula::{Term, TermList};

/// A dense model matrix, column-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMatrix {
    pub nrows: usize,
    pub values: Vec<f64>,
    pub names: Vec<String>,
    /// For each column the term it belongs to: 0 for the intercept, i + 1 for `terms[i]`.
    pub assign: Vec<usize>,
}

impl ModelMatrix {
    pub fn ncols(&self) -> usize {
        self.names.len()
    }

    pub fn column(&self, j: usize) -> &[f64] {
        &self.values[j * self.nrows..(j + 1) * self.nrows]
    }

    /// Keep only the listed columns (in the given order).
    pub fn select(&self, keep: &[usize]) -> ModelMatrix {
        let mut values = Vec::with_capacity(keep.len() * self.nrows);
        for &j in keep {
            values.extend_from_slice(self.column(j));
        }
        ModelMatrix {
            nrows: self.nrows,
            values,
            names: keep.iter().map(|&j| self.names[j].clone()).collect(),
            assign: keep.iter().map(|&j| self.assign[j]).collect(),
        }
    }
}

/// The variables a model matrix reads: learned specs, their values on the
/// rows at hand, and their names.
pub struct VariableTable<'a> {
    pub specs: &'a [VarSpec],
    pub values: &'a [Values],
    pub names: &'a [String],
}

/// How one variable enters a term's columns.
enum Coding<'a> {
    Numeric(&'a [Vec<f64>], &'a [String]),
    /// Codes, a levels x k matrix (column-major) and its column labels.
    Factor {
        codes: &'a [u32],
        matrix: Vec<f64>,
        nlevels: usize,
        labels: Vec<String>,
    },
}

impl Coding<'_> {
    fn width(&self) -> usize {
        match self {
            Coding::Numeric(cols, _) => cols.len(),
            Coding::Factor { labels, .. } => labels.len(),
        }
    }

    fn label(&self, c: usize) -> &str {
        match self {
            Coding::Numeric(_, suffixes) => &suffixes[c],
            Coding::Factor { labels, .. } => &labels[c],
        }
    }

    fn value(&self, row: usize, c: usize) -> f64 {
        match self {
            Coding::Numeric(cols, _) => cols[c][row],
            Coding::Factor { codes, matrix, nlevels, .. } => matrix[c * nlevels + codes[row] as usize],
        }
    }
}

pub fn model_matrix(terms: &TermList, vars: &VariableTable, nrows: usize) -> Result<ModelMatrix> {
    let mut m = ModelMatrix { nrows, values: Vec::new(), names: Vec::new(), assign: Vec::new() };
    if terms.intercept {
        m.values.extend(std::iter::repeat_n(1.0, nrows));
        m.names.push("(Intercept)".into());
        m.assign.push(0);
    }
    for (ti, term) in terms.terms.iter().enumerate() {
        let codings =
            term.0.iter().map(|&v| coding(v, contrasts_apply(terms, ti, v), vars)).collect::<Result<Vec<_>>>()?;
        append_term(&mut m, term, &codings, vars, ti + 1);
    }
    check_finite(&m)?;
    Ok(m)
}

/// R refuses NA/NaN/Inf in a model matrix; name the column and the row.
fn check_finite(m: &ModelMatrix) -> Result<()> {
    for j in 0..m.ncols() {
        if let Some(i) = m.column(j).iter().position(|v| !v.is_finite()) {
            return Err(Error::column(
                &m.names[j],
                format!(
                    "has a non-finite value ({}) at row {i}; transform the data so the term is finite",
                    m.column(j)[i]
                ),
            ));
        }
    }
    Ok(())
}

/// R's rule (`TermCode` in stats/src/model.c): factor `v` of term `t` is
/// coded by contrasts when the term `t` without `v` appears earlier in the
/// model (the empty term standing for the intercept); otherwise by indicators
/// for all its levels.
fn contrasts_apply(terms: &TermList, ti: usize, v: usize) -> bool {
    let reduced = terms.terms[ti].without(v);
    if reduced.order() == 0 {
        return terms.intercept;
    }
    terms.terms[..ti].contains(&reduced)
}

fn coding<'a>(v: usize, use_contrasts: bool, vars: &'a VariableTable) -> Result<Coding<'a>> {
    match (&vars.specs[v], &vars.values[v]) {
        (_, Values::Numeric { columns, suffixes }) => Ok(Coding::Numeric(columns, suffixes)),
        (VarSpec::Factor { levels, contrasts, .. }, Values::Factor { codes }) => {
            if let Some(row) = codes.iter().position(|&c| c == MISSING) {
                return Err(Error::column(
                    &vars.names[v],
                    format!("row {row} has a level the model was not fitted with (levels: {})", levels.join(", ")),
                ));
            }
            let k = levels.len();
            let (matrix, labels) = if use_contrasts {
                if k < 2 {
                    return Err(Error::column(
                        &vars.names[v],
                        format!("a factor needs at least 2 levels for contrasts; it has {k}"),
                    ));
                }
                contrasts.matrix(levels)?
            } else {
                let mut eye = vec![0.0; k * k];
                for i in 0..k {
                    eye[i * k + i] = 1.0;
                }
                (eye, levels.clone())
            };
            Ok(Coding::Factor { codes, matrix, nlevels: k, labels })
        }
        _ => Err(Error::column(&vars.names[v], "internal: factor spec without factor values")),
    }
}

/// Append the columns of one term: products of its variables' columns, the
/// first variable varying fastest, as R orders them.
fn append_term(m: &mut ModelMatrix, term: &Term, codings: &[Coding], vars: &VariableTable, assign: usize) {
    let widths: Vec<usize> = codings.iter().map(Coding::width).collect();
    let total: usize = widths.iter().product();
    let mut idx = vec![0usize; codings.len()];
    for _ in 0..total {
        let name = term
            .0
            .iter()
            .zip(codings)
            .zip(&idx)
            .map(|((&v, c), &i)| format!("{}{}", vars.names[v], c.label(i)))
            .collect::<Vec<_>>()
            .join(":");
        m.names.push(name);
        m.assign.push(assign);
        for row in 0..m.nrows {
            let val = codings.iter().zip(&idx).map(|(c, &i)| c.value(row, i)).product();
            m.values.push(val);
        }
        // Advance the mixed-radix counter, first digit fastest.
        for (d, w) in idx.iter_mut().zip(&widths) {
            *d += 1;
            if *d < *w {
                break;
            }
            *d = 0;
        }
    }
}
