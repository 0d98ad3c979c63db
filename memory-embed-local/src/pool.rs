//! The embedder's sessions, handed to whichever caller asks while one is
//! free. A caller that finds none waits for the first to come back, not for
//! one chosen in advance: that would leave a core idle while another
//! session's queue drains.

use std::sync::{Condvar, Mutex, MutexGuard};

use memory_core::{Error, Result};
use ort::session::Session;

/// Sessions, each used by one caller at a time.
pub(crate) struct Pool {
    free: Mutex<Vec<Session>>,
    returned: Condvar,
    size: usize,
}

/// A session taken from its pool; it goes back when dropped.
pub(crate) struct Taken<'a> {
    pool: &'a Pool,
    session: Option<Session>,
}

fn poisoned<T>(_: T) -> Error {
    Error::internal("embedder session pool lock poisoned")
}

impl Pool {
    /// A pool of `sessions`.
    pub(crate) fn new(sessions: Vec<Session>) -> Self {
        Self {
            size: sessions.len(),
            free: Mutex::new(sessions),
            returned: Condvar::new(),
        }
    }

    /// How many sessions there are, free or not.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// A free session, waiting (blocking the thread) until one is.
    pub(crate) fn take(&self) -> Result<Taken<'_>> {
        let mut free: MutexGuard<'_, Vec<Session>> = self.free.lock().map_err(poisoned)?;
        loop {
            if let Some(session) = free.pop() {
                return Ok(Taken {
                    pool: self,
                    session: Some(session),
                });
            }
            free = self.returned.wait(free).map_err(poisoned)?;
        }
    }
}

impl Taken<'_> {
    /// The session.
    pub(crate) fn session(&mut self) -> Result<&mut Session> {
        self.session
            .as_mut()
            .ok_or_else(|| Error::internal("embedder session already returned"))
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            // A poisoned lock means a caller panicked holding it; the
            // session is dropped with this one rather than panicking here.
            if let Ok(mut free) = self.pool.free.lock() {
                free.push(session);
                self.pool.returned.notify_one();
            }
        }
    }
}
