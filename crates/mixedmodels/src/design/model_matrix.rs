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

    /// [`ModelMatrix::select`] taking the matrix: when every column is kept,
    /// in order (a full-rank design), it is returned as it is, without a copy.
    pub fn into_selected(self, keep: &[usize]) -> ModelMatrix {
        if keep.iter().copied().eq(0..self.ncols()) {
            return self;
        }
        self.select(keep)
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

/// How one column of a model matrix is made, from the learned variables
/// alone: the product of one part a variable of its term (none for the
/// intercept). A recipe evaluates on rows ([`model_matrix`]) or becomes an
/// expression an engine evaluates (out-of-core fits, [`crate::sums`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRecipe {
    pub name: String,
    /// 0 for the intercept, i + 1 for `terms[i]`.
    pub assign: usize,
    pub parts: Vec<Part>,
}

/// One variable's share of a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Column `column` of a numeric variable (several for `poly`).
    Numeric { var: usize, column: usize },
    /// A factor's contrast (or indicator) column: its value at each level.
    Factor { var: usize, by_level: Vec<f64> },
}

/// How one variable enters a term's columns: its width, labels and parts.
struct Coding {
    labels: Vec<String>,
    parts: Vec<Part>,
}

/// The recipes of R's model matrix of a term list, learned variables given.
pub fn column_recipes(terms: &TermList, specs: &[VarSpec], names: &[String]) -> Result<Vec<ColumnRecipe>> {
    let mut out = Vec::new();
    if terms.intercept {
        out.push(ColumnRecipe { name: "(Intercept)".into(), assign: 0, parts: vec![] });
    }
    for (ti, term) in terms.terms.iter().enumerate() {
        let codings = term
            .0
            .iter()
            .map(|&v| coding(v, contrasts_apply(terms, ti, v), specs, names))
            .collect::<Result<Vec<_>>>()?;
        append_term(&mut out, term, &codings, names, ti + 1);
    }
    Ok(out)
}

pub fn model_matrix(terms: &TermList, vars: &VariableTable, nrows: usize) -> Result<ModelMatrix> {
    let recipes = column_recipes(terms, vars.specs, vars.names)?;
    let mut m =
        ModelMatrix { nrows, values: Vec::with_capacity(recipes.len() * nrows), names: Vec::new(), assign: Vec::new() };
    for r in recipes {
        let start = m.values.len();
        m.values.extend(std::iter::repeat_n(1.0, nrows));
        let column = &mut m.values[start..];
        for part in &r.parts {
            multiply_by_part(column, part, vars)?;
        }
        m.names.push(r.name);
        m.assign.push(r.assign);
    }
    check_finite(&m)?;
    Ok(m)
}

/// `column *= part` on the rows of `vars`.
fn multiply_by_part(column: &mut [f64], part: &Part, vars: &VariableTable) -> Result<()> {
    match (part, &vars.values[part_var(part)]) {
        (Part::Numeric { column: c, .. }, Values::Numeric { columns, .. }) => {
            column.iter_mut().zip(&columns[*c]).for_each(|(v, x)| *v *= x);
        }
        (Part::Factor { var, by_level }, Values::Factor { codes }) => {
            if let Some(row) = codes.iter().position(|&c| c == MISSING) {
                let VarSpec::Factor { levels, .. } = &vars.specs[*var] else { unreachable!() };
                return Err(Error::column(
                    &vars.names[*var],
                    format!("row {row} has a level the model was not fitted with (levels: {})", levels.join(", ")),
                ));
            }
            column.iter_mut().zip(codes).for_each(|(v, &c)| *v *= by_level[c as usize]);
        }
        _ => return Err(Error::column(&vars.names[part_var(part)], "internal: factor spec without factor values")),
    }
    Ok(())
}

fn part_var(part: &Part) -> usize {
    match part {
        Part::Numeric { var, .. } | Part::Factor { var, .. } => *var,
    }
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

fn coding(v: usize, use_contrasts: bool, specs: &[VarSpec], names: &[String]) -> Result<Coding> {
    match &specs[v] {
        VarSpec::Numeric { .. } => {
            Ok(Coding { labels: vec![String::new()], parts: vec![Part::Numeric { var: v, column: 0 }] })
        }
        VarSpec::Basis { suffixes, .. } => Ok(Coding {
            labels: suffixes.clone(),
            parts: (0..suffixes.len()).map(|column| Part::Numeric { var: v, column }).collect(),
        }),
        VarSpec::Factor { levels, contrasts, .. } => {
            let k = levels.len();
            let (matrix, labels) = if use_contrasts {
                if k < 2 {
                    return Err(Error::column(
                        &names[v],
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
            let parts = (0..labels.len())
                .map(|c| Part::Factor { var: v, by_level: matrix[c * k..(c + 1) * k].to_vec() })
                .collect();
            Ok(Coding { labels, parts })
        }
    }
}

/// Append the columns of one term: products of its variables' columns, the
/// first variable varying fastest, as R orders them.
fn append_term(out: &mut Vec<ColumnRecipe>, term: &Term, codings: &[Coding], names: &[String], assign: usize) {
    let widths: Vec<usize> = codings.iter().map(|c| c.labels.len()).collect();
    let total: usize = widths.iter().product();
    let mut idx = vec![0usize; codings.len()];
    for _ in 0..total {
        let name = term
            .0
            .iter()
            .zip(codings)
            .zip(&idx)
            .map(|((&v, c), &i)| format!("{}{}", names[v], c.labels[i]))
            .collect::<Vec<_>>()
            .join(":");
        let parts = codings.iter().zip(&idx).map(|(c, &i)| c.parts[i].clone()).collect();
        out.push(ColumnRecipe { name, assign, parts });
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
