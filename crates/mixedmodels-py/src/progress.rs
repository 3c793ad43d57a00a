//! A fit that Python can watch and interrupt. The core runs as a task of
//! rayon's pool (where its fits run anyway), without the GIL; the calling
//! thread waits for it, checking for signals (Ctrl-C) every tenth of a
//! second, as only the main thread can.
//! The core's observer attaches to the interpreter only to call the
//! Python callback with each record, and asks the core to stop after a
//! signal, an exception in the callback, or a true return value.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use mixedmodels::optim::{Flow, Progress};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{new_error, to_py, Kind};

/// How often the waiting thread checks for signals.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The Python side of a watched run, shared by the threads that report to it.
pub struct Watch {
    callback: Option<Py<PyAny>>,
    /// Set after a signal or a failed callback: every observer stops.
    stop: AtomicBool,
    /// The callback returned a true value.
    asked: AtomicBool,
    failure: Mutex<Option<PyErr>>,
}

impl Watch {
    /// The observer's answer to `record` (of the refit `refit`, for `all_fit`).
    pub fn observe(&self, refit: Option<&str>, record: &Progress<'_>) -> Flow {
        if self.stop.load(Ordering::Relaxed) {
            return Flow::Stop;
        }
        let Some(callback) = &self.callback else { return Flow::Continue };
        match Python::attach(|py| call(py, callback, refit, record)) {
            Ok(false) => Flow::Continue,
            Ok(true) => {
                self.asked.store(true, Ordering::Relaxed);
                Flow::Stop
            }
            Err(e) => {
                self.fail(e);
                Flow::Stop
            }
        }
    }

    fn fail(&self, e: PyErr) {
        self.stop.store(true, Ordering::Relaxed);
        let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }
}

/// Run `work` (a core fit given the watch to report to) with `callback`
/// receiving each record as a dict; the callback's exception, a
/// KeyboardInterrupt, or `FitStoppedError` (the callback returned True) is
/// raised in place of the result.
pub fn run_watched<T: Send>(
    py: Python<'_>,
    callback: Option<Py<PyAny>>,
    work: impl FnOnce(&Watch) -> mixedmodels::Result<T> + Send,
) -> PyResult<T> {
    let watch =
        Watch { callback, stop: AtomicBool::new(false), asked: AtomicBool::new(false), failure: Mutex::new(None) };
    let (done, mut finished) = channel();
    // A panic of the task reaches this thread when the scope ends.
    let watching = &watch;
    let outcome = rayon::in_place_scope(|s| {
        // `done` moves into the task: dropped if it panics, which ends the wait below.
        s.spawn(move |_| {
            let _ = done.send(work(watching));
        });
        loop {
            let received;
            (received, finished) = py.detach(move || (finished.recv_timeout(SIGNAL_CHECK), finished));
            match received {
                Ok(out) => break Some(out),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        watch.fail(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break None,
            }
        }
    });
    let outcome = outcome.expect("the fit's task ended without a result or a panic");
    if let Some(e) = watch.failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    match outcome {
        // The core's `Interrupted` (a fit stopped on request) is a FitStoppedError.
        Err(e) => Err(to_py(e)),
        // Refits (`all_fit`) keep going after one of them stopped: the stop is the outcome.
        Ok(_) if watch.asked.load(Ordering::Relaxed) => {
            Err(new_error(Kind::Stopped, "the refits were stopped on request by their progress callback".into()))
        }
        Ok(out) => Ok(out),
    }
}

/// Call `callback(record)`; true when it asks to stop.
fn call(py: Python<'_>, callback: &Py<PyAny>, refit: Option<&str>, record: &Progress<'_>) -> PyResult<bool> {
    let d = PyDict::new(py);
    d.set_item("refit", refit)?;
    d.set_item("phase", record.phase)?;
    d.set_item("optimizer", record.optimizer)?;
    d.set_item("evaluation", record.evaluation)?;
    d.set_item("objective", record.objective)?;
    d.set_item("best", record.best)?;
    d.set_item("improved", record.improved)?;
    d.set_item("theta", record.theta.to_vec())?;
    d.set_item("beta", record.beta.map(|b| b.to_vec()))?;
    d.set_item("gradient_norm", record.gradient_norm)?;
    d.set_item("pirls_iterations", record.pirls_iterations)?;
    callback.bind(py).call1((d,))?.is_truthy()
}
