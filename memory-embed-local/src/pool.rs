//! The embedder's sessions, handed to whichever caller asks while one is
//! free. A caller that finds none waits for the first to come back, not for
//! one chosen in advance: that would leave a core idle while another
//! session's queue drains.
//!
//! Besides one single-threaded session per core, the pool may hold a wide
//! one whose threads span the cores (`MEMORY_EMBED_ALONE_THREADS`). A call
//! of one batch that arrives while nothing else is embedding runs on it,
//! so a lone search is not held to one core's speed; under load it stays
//! unused, since one session per core embeds more texts a second than
//! threads that share each model call.

use std::sync::{Condvar, Mutex, MutexGuard};

use memory_core::{Error, Result};
use ort::session::Session;

/// Sessions, each used by one caller at a time.
pub(crate) struct Pool<S = Session> {
    free: Mutex<Free<S>>,
    returned: Condvar,
    size: usize,
}

/// The sessions not in use.
struct Free<S> {
    narrow: Vec<S>,
    wide: Option<S>,
}

/// A session taken from its pool; it goes back when dropped.
pub(crate) struct Taken<'a, S = Session> {
    pool: &'a Pool<S>,
    session: Option<S>,
    wide: bool,
}

fn poisoned<T>(_: T) -> Error {
    Error::internal("embedder session pool lock poisoned")
}

impl<S> Pool<S> {
    /// A pool of `narrow` sessions (at least one), and a `wide` one for lone calls.
    pub(crate) fn new(narrow: Vec<S>, wide: Option<S>) -> Self {
        Self {
            size: narrow.len(),
            free: Mutex::new(Free { narrow, wide }),
            returned: Condvar::new(),
        }
    }

    /// How many sessions embed in parallel, the wide one aside.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// A free session, waiting (blocking the thread) until one is; the
    /// wide session when `alone` and no other session is in use.
    pub(crate) fn take(&self, alone: bool) -> Result<Taken<'_, S>> {
        let mut free: MutexGuard<'_, Free<S>> = self.free.lock().map_err(poisoned)?;
        if alone
            && free.narrow.len() == self.size
            && let Some(session) = free.wide.take()
        {
            return Ok(Taken {
                pool: self,
                session: Some(session),
                wide: true,
            });
        }
        loop {
            if let Some(session) = free.narrow.pop() {
                return Ok(Taken {
                    pool: self,
                    session: Some(session),
                    wide: false,
                });
            }
            free = self.returned.wait(free).map_err(poisoned)?;
        }
    }
}

impl<S> Taken<'_, S> {
    /// The session.
    pub(crate) fn session(&mut self) -> Result<&mut S> {
        self.session
            .as_mut()
            .ok_or_else(|| Error::internal("embedder session already returned"))
    }
}

impl<S> Drop for Taken<'_, S> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            // A poisoned lock means a caller panicked holding it; the
            // session is dropped with this one rather than panicking here.
            if let Ok(mut free) = self.pool.free.lock() {
                if self.wide {
                    free.wide = Some(session);
                } else {
                    free.narrow.push(session);
                    self.pool.returned.notify_one();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_wide_session_serves_only_a_call_that_comes_alone() {
        let pool = Pool::new(vec![1, 2], Some(99));
        // Many batches of one call take the narrow sessions.
        assert_ne!(*pool.take(false).unwrap().session().unwrap(), 99);
        {
            let mut lone = pool.take(true).unwrap();
            assert_eq!(*lone.session().unwrap(), 99);
            // A call arriving meanwhile gets a narrow one.
            assert_ne!(*pool.take(true).unwrap().session().unwrap(), 99);
        }
        // With a narrow session busy, a lone call would share a core.
        let mut busy = pool.take(false).unwrap();
        let mut other = pool.take(true).unwrap();
        assert_ne!(*other.session().unwrap(), 99);
        assert_ne!(*busy.session().unwrap(), *other.session().unwrap());
        drop((busy, other));
        assert_eq!(*pool.take(true).unwrap().session().unwrap(), 99);
    }

    #[test]
    fn a_caller_waits_for_the_first_session_back() {
        let pool = std::sync::Arc::new(Pool::new(vec![7], None));
        let held = pool.take(true).unwrap();
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || *pool.take(true).unwrap().session().unwrap())
        };
        drop(held);
        assert_eq!(waiter.join().unwrap(), 7);
    }
}
