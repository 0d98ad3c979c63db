//! The native half of the Python package `memory_rs`: one engine class whose
//! operations take and answer JSON. The typed API, both flavours and the
//! exceptions are the package's Python half (`python/memory_rs`).

mod errors;
mod ops;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use memory::{Config, Error, Memory, Result, Urls, WorkerConfig, WorkerHandle};
use pyo3::prelude::*;
use pyo3_async_runtimes::tokio::{future_into_py, get_runtime};
use serde::Deserialize;

/// How long closing waits for the jobs a worker has in hand.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// URLs given as keyword arguments, over whatever the configuration says.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Overrides {
    store: Option<Urls>,
    vectors: Option<Urls>,
    short_term: Option<String>,
    embedder: Option<String>,
    language_model: Option<String>,
    reranker: Option<String>,
}

/// An open engine.
#[pyclass(module = "memory_rs._native", frozen)]
struct Engine {
    memory: Memory,
    worker_config: WorkerConfig,
    worker: Mutex<Option<WorkerHandle>>,
}

/// The configuration: the dict (as JSON) when given, as it is; else the
/// file `path` names, else `MEMORY_CONFIG`, else `./memory.toml`, else the
/// defaults, with the environment applied (the `memory` CLI's rules); then
/// the keyword URLs.
fn load(config: Option<&str>, path: Option<PathBuf>, overrides: Option<&str>) -> Result<Config> {
    let mut cfg = match config {
        Some(json) => serde_json::from_str::<Config>(json)
            .map_err(|e| Error::config(format!("configuration: {e}")))?,
        None => Config::load(path.as_deref())?,
    };
    let o: Overrides = match overrides {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| Error::invalid(format!("open: {e}")))?
        }
        None => Overrides::default(),
    };
    if let Some(v) = o.store {
        cfg.store = v;
    }
    if o.vectors.is_some() {
        cfg.vectors = o.vectors;
    }
    if let Some(v) = o.short_term {
        cfg.short_term = v;
    }
    if let Some(v) = o.embedder {
        cfg.embedder = v;
    }
    if o.language_model.is_some() {
        cfg.language_model = o.language_model;
    }
    if o.reranker.is_some() {
        cfg.reranker = o.reranker;
    }
    Ok(cfg)
}

async fn open(cfg: Config, worker: Option<bool>) -> Result<Engine> {
    let memory = memory::open(&cfg).await?;
    let handle = if worker.unwrap_or(cfg.worker.enabled) {
        Some(memory.worker(cfg.worker.clone())?.spawn())
    } else {
        None
    };
    Ok(Engine {
        memory,
        worker_config: cfg.worker,
        worker: Mutex::new(handle),
    })
}

impl Engine {
    fn take_worker(&self) -> Option<WorkerHandle> {
        self.worker.lock().ok().and_then(|mut w| w.take())
    }
}

#[pymethods]
impl Engine {
    /// Opens every backend of the configuration (blocking).
    #[staticmethod]
    #[pyo3(signature = (config=None, path=None, overrides=None, worker=None))]
    fn open(
        py: Python<'_>,
        config: Option<&str>,
        path: Option<PathBuf>,
        overrides: Option<&str>,
        worker: Option<bool>,
    ) -> PyResult<Engine> {
        let cfg = load(config, path, overrides).map_err(errors::to_py)?;
        py.detach(|| get_runtime().block_on(open(cfg, worker)))
            .map_err(errors::to_py)
    }

    /// Opens every backend of the configuration (awaitable).
    #[staticmethod]
    #[pyo3(signature = (config=None, path=None, overrides=None, worker=None))]
    fn open_async<'py>(
        py: Python<'py>,
        config: Option<&str>,
        path: Option<PathBuf>,
        overrides: Option<&str>,
        worker: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cfg = load(config, path, overrides).map_err(errors::to_py)?;
        // Opening's future is not `Send` (rustc cannot prove it through the
        // opener's async closures), so it runs on a thread of its own.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(get_runtime().block_on(open(cfg, worker)));
        });
        future_into_py(py, async move {
            rx.await
                .map_err(|_| Error::internal("opening the engine stopped"))
                .and_then(|opened| opened)
                .map_err(errors::to_py)
        })
    }

    /// Runs one operation (blocking, without the GIL).
    fn call(&self, py: Python<'_>, op: &str, args: &str) -> PyResult<String> {
        py.detach(|| get_runtime().block_on(ops::call(&self.memory, &self.worker_config, op, args)))
            .map_err(errors::to_py)
    }

    /// Runs one operation (awaitable).
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        op: String,
        args: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let memory = self.memory.clone();
        let worker = self.worker_config.clone();
        future_into_py(py, async move {
            ops::call(&memory, &worker, &op, &args)
                .await
                .map_err(errors::to_py)
        })
    }

    /// Stops the background worker, if one runs (blocking).
    fn close(&self, py: Python<'_>) {
        if let Some(handle) = self.take_worker() {
            py.detach(|| get_runtime().block_on(handle.shutdown(CLOSE_GRACE)));
        }
    }

    /// Stops the background worker, if one runs (awaitable).
    fn close_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.take_worker();
        future_into_py(py, async move {
            if let Some(h) = handle {
                h.shutdown(CLOSE_GRACE).await;
            }
            Ok(())
        })
    }

    /// Whether a background worker runs.
    #[getter]
    fn worker_running(&self) -> bool {
        self.worker.lock().map(|w| w.is_some()).unwrap_or(false)
    }
}

/// The module `memory_rs._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
