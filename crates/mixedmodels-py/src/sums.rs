//! Out-of-core fits: the plan of the passes an engine (polars' streaming
//! engine, Dask, Spark) makes over the data, and the reduced statistics it
//! sends back. `SumsSetup` (first pass: requests, then the learned plan),
//! `SumsPlan` (the second pass: columns as expression trees, tables of
//! sums, the memory estimate), `SumsAccumulator` (batches of rows summed
//! in Rust) and `ReducedStats` (what `LmerFit.fit_sums` fits).

use std::sync::{Arc, Mutex};

use mixedmodels::sums::memory::estimate;
use mixedmodels::sums::{Accumulator, ColumnExpr, ReducedStats, SumsPlan, SumsSetup};
use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::convert::contrasts_from_py;
use crate::errors::{data_error, to_py};
use crate::frame::{with_frame, PyFrame};

/// An expression tree as nested tuples: ("num", v), ("col", name),
/// ("un", op, x), ("bin", op, a, b), ("lookup", table, values).
fn expr_to_py<'py>(py: Python<'py>, e: &ColumnExpr) -> PyResult<Bound<'py, PyTuple>> {
    match e {
        ColumnExpr::Number(v) => {
            PyTuple::new(py, [("num").into_pyobject(py)?.into_any(), v.into_pyobject(py)?.into_any()])
        }
        ColumnExpr::Column(c) => {
            PyTuple::new(py, [("col").into_pyobject(py)?.into_any(), c.into_pyobject(py)?.into_any()])
        }
        ColumnExpr::Unary(op, a) => PyTuple::new(
            py,
            [
                ("un").into_pyobject(py)?.into_any(),
                op.name().into_pyobject(py)?.into_any(),
                expr_to_py(py, a)?.into_any(),
            ],
        ),
        ColumnExpr::Binary(op, a, b) => PyTuple::new(
            py,
            [
                ("bin").into_pyobject(py)?.into_any(),
                op.symbol().into_pyobject(py)?.into_any(),
                expr_to_py(py, a)?.into_any(),
                expr_to_py(py, b)?.into_any(),
            ],
        ),
        ColumnExpr::Lookup { table, values } => PyTuple::new(
            py,
            [
                ("lookup").into_pyobject(py)?.into_any(),
                table.into_pyobject(py)?.into_any(),
                PyList::new(py, values)?.into_any(),
            ],
        ),
    }
}

/// Owned copies of tables from Python.
fn owned_frames(frames: &[PyFrame<'_>]) -> PyResult<Vec<mixedmodels::data::DataFrame<'static>>> {
    frames.iter().map(|f| with_frame(f, |df| Ok(df.clone().into_owned()))).collect()
}

#[pyclass(name = "SumsSetup", module = "mixedmodels._core", frozen)]
pub struct PySumsSetup {
    inner: SumsSetup,
}

#[pymethods]
impl PySumsSetup {
    /// `schema`: (column, numeric) for every data column; `pilot`: the first
    /// complete rows of the model's columns.
    #[new]
    #[pyo3(signature = (formula, schema, pilot, contrasts=None, weights=None))]
    fn new(
        formula: &str,
        schema: Vec<(String, bool)>,
        pilot: PyFrame<'_>,
        contrasts: Option<Vec<(String, Bound<'_, PyAny>)>>,
        weights: Option<String>,
    ) -> PyResult<Self> {
        let contrasts = contrasts_from_py(contrasts)?;
        let pilot = with_frame(&pilot, |df| Ok(df.clone().into_owned()))?;
        let inner = SumsSetup::new(formula, &schema, pilot, contrasts, weights).map_err(to_py)?;
        Ok(PySumsSetup { inner })
    }

    /// The columns a row needs complete (no null, no NaN) to enter the fit.
    #[getter]
    fn used(&self) -> Vec<String> {
        self.inner.used.clone()
    }

    /// The column sets whose distinct rows (over the complete rows) the first pass computes.
    #[getter]
    fn distinct_requests(&self) -> Vec<Vec<String>> {
        self.inner.distinct_requests.clone()
    }

    /// (expression, shift) for each scale(): n, sum(x - shift), sum((x - shift)^2)
    /// over every row where the expression is not missing.
    fn moment_requests<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, PyTuple>, f64)>> {
        self.inner.moment_requests.iter().map(|m| Ok((expr_to_py(py, &m.expr)?, m.shift))).collect()
    }

    /// The plan of the second pass, learned from the first pass's answers.
    fn learn(
        &self,
        py: Python<'_>,
        distinct: Vec<PyFrame<'_>>,
        moments: Vec<(f64, f64, f64)>,
        n_rows: usize,
        n_complete: usize,
    ) -> PyResult<PySumsPlan> {
        let frames = owned_frames(&distinct)?;
        let setup = &self.inner;
        let plan = py.detach(|| setup.learn(frames, &moments, n_rows, n_complete)).map_err(to_py)?;
        Ok(PySumsPlan { inner: Arc::new(plan) })
    }
}

/// A table of sums for Python: (key columns, [(basic column indices, weighted)]).
type TableDescription = (Vec<String>, Vec<(Vec<usize>, bool)>);

#[pyclass(name = "SumsPlan", module = "mixedmodels._core", frozen)]
pub struct PySumsPlan {
    pub inner: Arc<SumsPlan>,
}

#[pymethods]
impl PySumsPlan {
    /// The basic columns: (name, expression tree).
    fn basic<'py>(&self, py: Python<'py>) -> PyResult<Vec<(String, Bound<'py, PyTuple>)>> {
        self.inner.basic.iter().map(|(n, e)| Ok((n.clone(), expr_to_py(py, e)?))).collect()
    }

    /// The tables: (key columns, [(basic column indices, weighted)]), bars
    /// first, then pairs of bars, then the triple pieces' tables (with the
    /// per-group pieces), then the global row (no keys).
    fn tables(&self) -> Vec<TableDescription> {
        self.inner
            .tables
            .iter()
            .map(|t| (t.keys.clone(), t.sums.iter().map(|p| (p.columns.clone(), p.weighted)).collect()))
            .collect()
    }

    /// Index of the basic column of the prior weights (None without weights).
    #[getter]
    fn weight_column(&self) -> Option<usize> {
        self.inner.layout.weight
    }

    #[getter]
    fn nbars(&self) -> usize {
        self.inner.nbars()
    }

    /// The grouping columns of every bar, each once.
    #[getter]
    fn key_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.inner.tables[..self.inner.nbars()] {
            for k in &t.keys {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
        out
    }

    /// The full X's column names (before the rank check).
    #[getter]
    fn x_names(&self) -> Vec<String> {
        self.inner.x_names.clone()
    }

    /// Bars (formula order) in lme4's term order.
    #[getter]
    fn bar_order(&self) -> Vec<usize> {
        self.inner.spec.bar_order.clone()
    }

    /// Bar b: (its grouping columns, the index of their distinct table,
    /// its random-effects columns as expression trees).
    fn bar<'py>(&self, py: Python<'py>, b: usize) -> PyResult<(Vec<String>, usize, Vec<Bound<'py, PyTuple>>)> {
        let plan = &self.inner;
        if b >= plan.nbars() {
            return Err(data_error(format!("there are {} bars", plan.nbars())));
        }
        let z = plan.z_exprs[b].iter().map(|e| expr_to_py(py, e)).collect::<PyResult<Vec<_>>>()?;
        Ok((plan.tables[b].keys.clone(), plan.bar_table[b], z))
    }

    /// The level of each row of bar b's distinct table.
    fn bar_levels(&self, b: usize) -> PyResult<Vec<u32>> {
        self.inner.bar_levels(b).map_err(to_py)
    }

    /// X beta + offsets as an expression tree (beta[t] for the full X's column keep[t]).
    fn fixed_predictor<'py>(&self, py: Python<'py>, keep: Vec<usize>, beta: Vec<f64>) -> PyResult<Bound<'py, PyTuple>> {
        if keep.len() != beta.len() || keep.iter().any(|&j| j >= self.inner.x_exprs.len()) {
            return Err(data_error("keep and beta must match the design's columns".into()));
        }
        expr_to_py(py, &self.inner.fixed_predictor(&keep, &beta))
    }

    /// The response (before offsets) as an expression tree.
    fn response<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        expr_to_py(py, &self.inner.response_expr)
    }

    /// The same plan, also summing the per-group pieces that deleting whole
    /// groups needs (influence and cross-validation by group).
    fn with_group_pieces(&self) -> PySumsPlan {
        PySumsPlan { inner: Arc::new(self.inner.with_group_pieces()) }
    }

    /// Bytes the per-group pieces would add, for `n` complete rows.
    fn group_pieces_bytes(&self, n: usize) -> f64 {
        self.inner.group_pieces_bytes(n)
    }

    /// The memory the fit will take: (bytes, description).
    fn memory_estimate(&self, n: usize, threads: usize) -> (f64, String) {
        let e = estimate(&self.inner, n, threads);
        (e.total(), e.describe())
    }

    /// An accumulator for batches of rows.
    fn accumulator(&self) -> PySumsAccumulator {
        PySumsAccumulator { plan: self.inner.clone(), inner: Mutex::new(Some(Accumulator::new(&self.inner))) }
    }

    /// The reduced statistics from an engine's tables: for each keyed table
    /// of `tables()` in its order (bars, pairs, triples), (key columns as a
    /// frame, sums as an array of shape (keys, sums)); the global row.
    fn stats_from_tables(
        &self,
        py: Python<'_>,
        tables: Vec<(PyFrame<'_>, PyReadonlyArray2<f64>)>,
        global_row: Vec<f64>,
    ) -> PyResult<PyReducedStats> {
        let plan = &self.inner;
        let owned = |list: &[(PyFrame<'_>, PyReadonlyArray2<f64>)]| -> PyResult<Vec<_>> {
            list.iter()
                .map(|(f, v)| {
                    let df = with_frame(f, |df| Ok(df.clone().into_owned()))?;
                    let values: Vec<f64> = v.as_array().iter().copied().collect();
                    Ok((df, values))
                })
                .collect()
        };
        let keyed = owned(&tables)?;
        let stats = py.detach(|| ReducedStats::from_tables(plan, &keyed, global_row)).map_err(to_py)?;
        Ok(PyReducedStats { plan: plan.clone(), inner: Mutex::new(Some(stats)) })
    }
}

#[pyclass(name = "SumsAccumulator", module = "mixedmodels._core", frozen)]
pub struct PySumsAccumulator {
    plan: Arc<SumsPlan>,
    inner: Mutex<Option<Accumulator>>,
}

#[pymethods]
impl PySumsAccumulator {
    /// Add a batch: its grouping columns (a frame) and the plan's basic columns on the same rows.
    fn add(&self, py: Python<'_>, keys: PyFrame<'_>, columns: Vec<PyReadonlyArray1<f64>>) -> PyResult<()> {
        let slices = columns
            .iter()
            .map(|c| c.as_slice().map_err(|_| data_error("a basic column is not contiguous".into())))
            .collect::<PyResult<Vec<&[f64]>>>()?;
        let plan = &self.plan;
        with_frame(&keys, |df| {
            let mut guard = self.inner.lock().map_err(|_| data_error("the accumulator is poisoned".into()))?;
            let acc = guard.as_mut().ok_or_else(|| data_error("the accumulator was finished".into()))?;
            py.detach(|| acc.add(plan, df, &slices)).map_err(to_py)
        })
    }

    /// The rows added so far.
    #[getter]
    fn rows(&self) -> usize {
        self.inner.lock().ok().and_then(|g| g.as_ref().map(Accumulator::rows)).unwrap_or(0)
    }

    /// The reduced statistics (the accumulator is spent).
    fn finish(&self, py: Python<'_>) -> PyResult<PyReducedStats> {
        let acc = self
            .inner
            .lock()
            .map_err(|_| data_error("the accumulator is poisoned".into()))?
            .take()
            .ok_or_else(|| data_error("the accumulator was finished".into()))?;
        let plan = &self.plan;
        let stats = py.detach(|| acc.finish(plan));
        Ok(PyReducedStats { plan: self.plan.clone(), inner: Mutex::new(Some(stats)) })
    }
}

/// The reduced statistics of a pass, spent by `LmerFit.fit_sums`.
#[pyclass(name = "ReducedStats", module = "mixedmodels._core", frozen)]
pub struct PyReducedStats {
    pub plan: Arc<SumsPlan>,
    pub inner: Mutex<Option<ReducedStats>>,
}

impl PyReducedStats {
    pub fn take(&self) -> PyResult<ReducedStats> {
        self.inner
            .lock()
            .map_err(|_| data_error("the statistics are poisoned".into()))?
            .take()
            .ok_or_else(|| data_error("these statistics were fitted already".into()))
    }
}
