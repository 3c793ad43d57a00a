//! A fit that Python can watch and interrupt. The core runs on a thread of
//! its own, without the GIL; the calling thread waits for it, checking for
//! signals (Ctrl-C) every tenth of a second, as only the main thread can.
//! The core's observer attaches to the interpreter only to call the
//! Python callback with each record, and asks the core to stop after a
//! signal, an exception in the callback, or a true return value.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use mixedmodels::optim::{Flow, Observer, Progress};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py;

/// How often the waiting thread checks for signals.
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Run `work` (a core fit given an observer) with `callback` receiving each
/// record as a dict; the callback's exception, a KeyboardInterrupt, or
/// `FitStoppedError` (the callback returned True) is raised in place of the result.
pub fn run_watched<T: Send>(
    py: Python<'_>,
    callback: Option<Py<PyAny>>,
    work: impl for<'o> FnOnce(Observer<'o>) -> mixedmodels::Result<T> + Send,
) -> PyResult<T> {
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<PyErr>> = Mutex::new(None);
    let mut observer = |record: &Progress<'_>| -> Flow {
        if stop.load(Ordering::Relaxed) {
            return Flow::Stop;
        }
        let Some(callback) = &callback else { return Flow::Continue };
        match Python::attach(|py| call(py, callback, record)) {
            Ok(false) => Flow::Continue,
            Ok(true) => Flow::Stop,
            Err(e) => {
                keep_first(&failure, e);
                Flow::Stop
            }
        }
    };
    let (done, mut finished) = channel();
    let outcome = std::thread::scope(|s| {
        let fit = s.spawn(move || {
            let out = work(&mut observer);
            let _ = done.send(());
            out
        });
        loop {
            let received;
            (received, finished) = py.detach(move || (finished.recv_timeout(SIGNAL_CHECK), finished));
            match received {
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        keep_first(&failure, e);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        fit.join()
    });
    let outcome = outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    outcome.map_err(to_py)
}

fn keep_first(slot: &Mutex<Option<PyErr>>, e: PyErr) {
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(e);
}

/// Call `callback(record)`; true when it asks to stop.
fn call(py: Python<'_>, callback: &Py<PyAny>, record: &Progress<'_>) -> PyResult<bool> {
    let d = PyDict::new(py);
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
