//! The data a model reads: named numeric and factor columns of equal length.
//!
//! Numeric columns may borrow the caller's memory (`Cow::Borrowed`), so a
//! numpy array or an Arrow buffer crosses into Rust without a copy. Missing
//! values are `NaN` in numeric columns and [`MISSING`] in factor codes; rows
//! holding them in the columns a model uses are dropped, as R's `na.omit`.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// The code of a missing value in a factor column.
pub const MISSING: u32 = u32::MAX;

/// A categorical column: one code a row, indexing `levels`.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub codes: Vec<u32>,
    pub levels: Vec<String>,
    /// An ordered factor gets polynomial contrasts by default, as in R.
    pub ordered: bool,
}

impl Factor {
    pub fn new(codes: Vec<u32>, levels: Vec<String>) -> Self {
        Factor { codes, levels, ordered: false }
    }

    /// Which levels some row uses.
    fn used(&self) -> Vec<bool> {
        let mut used = vec![false; self.levels.len()];
        for &c in &self.codes {
            if c != MISSING {
                used[c as usize] = true;
            }
        }
        used
    }

    /// The levels some row uses, in level order (the levels of
    /// [`Factor::drop_unused`], without copying the codes).
    pub fn used_levels(&self) -> Vec<String> {
        let used = self.used();
        self.levels.iter().zip(&used).filter(|(_, u)| **u).map(|(l, _)| l.clone()).collect()
    }

    /// Drop levels no row uses (R's `droplevels`), keeping level order.
    pub fn drop_unused(mut self) -> Self {
        let used = self.used();
        if used.iter().all(|u| *u) {
            return self;
        }
        let mut remap = vec![MISSING; self.levels.len()];
        let mut levels = Vec::new();
        for (i, l) in self.levels.iter().enumerate() {
            if used[i] {
                remap[i] = levels.len() as u32;
                levels.push(l.clone());
            }
        }
        for c in &mut self.codes {
            if *c != MISSING {
                *c = remap[*c as usize];
            }
        }
        self.levels = levels;
        self
    }

    /// A factor from numbers: levels are the sorted distinct values, printed as R prints them.
    pub fn from_numbers(values: &[f64]) -> Self {
        let mut distinct: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        let codes = values
            .iter()
            .map(|v| {
                if v.is_nan() {
                    MISSING
                } else {
                    distinct.binary_search_by(|d| d.total_cmp(v)).map_or(MISSING, |i| i as u32)
                }
            })
            .collect();
        let levels = distinct.iter().map(|v| crate::formula::format_r_number(*v)).collect();
        Factor::new(codes, levels)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Column<'a> {
    Numeric(Cow<'a, [f64]>),
    Factor(Factor),
}

impl Column<'_> {
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Factor(f) => f.codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_missing(&self, i: usize) -> bool {
        match self {
            Column::Numeric(v) => v[i].is_nan(),
            Column::Factor(f) => f.codes[i] == MISSING,
        }
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, Default)]
pub struct DataFrame<'a> {
    columns: Vec<(String, Column<'a>)>,
    nrows: usize,
    /// Set by [`DataFrame::with_rows`]: the number of rows is known before any
    /// column (a model whose formula reads no column still has rows).
    rows_known: bool,
}

/// The rows of a data set a fit used, as positions in the data as given:
/// rows with a missing value in a column the model reads are left out (R's
/// `na.omit`), and row-level results map back through the positions (R's
/// `naresid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitRows {
    /// The position in the data of each row the fit used, increasing.
    pub positions: Vec<usize>,
    /// The number of rows of the data as given.
    pub nrows_data: usize,
}

impl FitRows {
    /// Every row of `n`.
    pub fn all(n: usize) -> FitRows {
        FitRows { positions: (0..n).collect(), nrows_data: n }
    }

    /// The rows `keep` marks.
    pub fn from_mask(keep: &[bool]) -> FitRows {
        FitRows { positions: (0..keep.len()).filter(|&i| keep[i]).collect(), nrows_data: keep.len() }
    }

    /// The number of rows the fit used.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The number of rows left out for missing values.
    pub fn dropped(&self) -> usize {
        self.nrows_data - self.positions.len()
    }

    /// One flag a row of the data as given: did the fit use it?
    pub fn mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.nrows_data];
        for &i in &self.positions {
            mask[i] = true;
        }
        mask
    }
}

impl<'a> DataFrame<'a> {
    pub fn new() -> Self {
        DataFrame::default()
    }

    /// A frame of `nrows` rows and no columns yet: every column added must
    /// have that many rows.
    pub fn with_rows(nrows: usize) -> Self {
        DataFrame { columns: vec![], nrows, rows_known: true }
    }

    /// Add a column; every column must have as many rows as the first (or as
    /// [`DataFrame::with_rows`] said).
    pub fn push(&mut self, name: impl Into<String>, column: Column<'a>) -> Result<()> {
        let name = name.into();
        if self.columns.is_empty() && !self.rows_known {
            self.nrows = column.len();
        } else if column.len() != self.nrows {
            return Err(Error::column(
                &name,
                format!("has {} rows but the other columns have {}", column.len(), self.nrows),
            ));
        }
        self.columns.retain(|(n, _)| *n != name);
        self.columns.push((name, column));
        Ok(())
    }

    pub fn with_numeric(mut self, name: &str, values: impl Into<Cow<'a, [f64]>>) -> Result<Self> {
        self.push(name, Column::Numeric(values.into()))?;
        Ok(self)
    }

    /// Add a factor column from string labels; levels sorted as R sorts them (C locale).
    pub fn with_labels<S: AsRef<str>>(mut self, name: &str, labels: &[S]) -> Result<Self> {
        let mut levels: Vec<String> = labels.iter().map(|s| s.as_ref().to_string()).collect();
        levels.sort();
        levels.dedup();
        let codes = labels
            .iter()
            .map(|s| levels.binary_search_by(|l| l.as_str().cmp(s.as_ref())).map_or(MISSING, |i| i as u32))
            .collect();
        self.push(name, Column::Factor(Factor::new(codes, levels)))?;
        Ok(self)
    }

    pub fn nrows(&self) -> usize {
        self.nrows
    }

    pub fn get(&self, name: &str) -> Result<&Column<'a>> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, c)| c).ok_or_else(|| {
            let known: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
            Error::column(name, format!("not found in the data (columns: {})", known.join(", ")))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }

    /// Keep the rows with no missing value in `used`; returns the frame and
    /// which rows of `self` it holds.
    /// A copy that owns every column (borrowed numeric columns are copied).
    pub fn into_owned(self) -> DataFrame<'static> {
        let columns = self
            .columns
            .into_iter()
            .map(|(n, c)| {
                let c = match c {
                    Column::Numeric(v) => Column::Numeric(Cow::Owned(v.into_owned())),
                    Column::Factor(f) => Column::Factor(f),
                };
                (n, c)
            })
            .collect();
        DataFrame { columns, nrows: self.nrows, rows_known: self.rows_known }
    }

    pub fn drop_missing(self, used: &[String]) -> Result<(DataFrame<'a>, FitRows)> {
        let mut keep = vec![true; self.nrows];
        for name in used {
            let col = self.get(name)?;
            for (i, k) in keep.iter_mut().enumerate() {
                if col.is_missing(i) {
                    *k = false;
                }
            }
        }
        let rows = FitRows::from_mask(&keep);
        if rows.dropped() == 0 {
            return Ok((self, rows));
        }
        let columns = self
            .columns
            .into_iter()
            .map(|(n, c)| {
                let c = match c {
                    Column::Numeric(v) => Column::Numeric(Cow::Owned(select(&v, &keep))),
                    Column::Factor(f) => Column::Factor(Factor { codes: select(&f.codes, &keep), ..f }),
                };
                (n, c)
            })
            .collect();
        Ok((DataFrame { columns, nrows: rows.len(), rows_known: true }, rows))
    }
}

fn select<T: Copy>(v: &[T], keep: &[bool]) -> Vec<T> {
    v.iter().zip(keep).filter(|(_, k)| **k).map(|(x, _)| *x).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_sorted_levels() {
        let f = Factor::from_numbers(&[10.0, 2.0, 2.0, 1.5]);
        assert_eq!(f.levels, ["1.5", "2", "10"]);
        assert_eq!(f.codes, [2, 1, 1, 0]);
    }

    #[test]
    fn missing_rows_are_dropped_and_counted() {
        let df = DataFrame::new()
            .with_numeric("y", vec![1.0, f64::NAN, 3.0])
            .unwrap()
            .with_labels("g", &["a", "b", "a"])
            .unwrap();
        let (df, rows) = df.drop_missing(&["y".into(), "g".into()]).unwrap();
        assert_eq!(rows.dropped(), 1);
        assert_eq!(rows.positions, [0, 2]);
        assert_eq!(rows.mask(), [true, false, true]);
        assert_eq!(df.nrows(), 2);
        assert!(matches!(df.get("x"), Err(Error::Column { .. })));
    }

    #[test]
    fn a_frame_without_columns_keeps_its_rows() {
        let mut df = DataFrame::with_rows(3);
        assert_eq!(df.nrows(), 3);
        let err = df.push("x", Column::Numeric(vec![1.0].into()));
        assert!(matches!(err, Err(Error::Column { column, .. }) if column == "x"));
        let (df, rows) = df.drop_missing(&[]).unwrap();
        assert_eq!((df.nrows(), rows.len()), (3, 3));
    }

    #[test]
    fn length_mismatch_names_the_column() {
        let err = DataFrame::new().with_numeric("y", vec![1.0]).unwrap().with_numeric("x", vec![1.0, 2.0]);
        assert!(matches!(err, Err(Error::Column { column, .. }) if column == "x"));
    }
}
