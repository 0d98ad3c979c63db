//! Statements of one write sent to SQLite together. sqlx runs a text of
//! several statements as one command on the connection's worker thread,
//! binding each statement's `?` in turn, so a write pays one round trip
//! between threads instead of one per statement; on the embedded default
//! those round trips, not SQLite's work, were most of an add's time.

use memory_core::Result;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::error::map;

/// Statements waiting to run in one command, in the order written. Only
/// for statements whose results the caller does not read one by one: the
/// command reports the rows all of them changed together.
pub(crate) struct Batch {
    qb: QueryBuilder<Sqlite>,
    statements: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Self {
            qb: QueryBuilder::new(""),
            statements: 0,
        }
    }
}

impl Batch {
    /// The builder to write the next statement into.
    pub(crate) fn statement(&mut self) -> &mut QueryBuilder<Sqlite> {
        if self.statements > 0 {
            self.qb.push(";\n");
        }
        self.statements += 1;
        &mut self.qb
    }

    /// Runs the statements written so far (none: no round trip) and
    /// leaves the batch empty for more.
    pub(crate) async fn run(
        &mut self,
        conn: &mut SqliteConnection,
        operation: &'static str,
    ) -> Result<()> {
        if let Some(mut qb) = self.take() {
            qb.build()
                .execute(&mut *conn)
                .await
                .map_err(|e| map(e, operation))?;
        }
        Ok(())
    }

    /// Runs the statements written so far and returns the rows they all
    /// returned, statement by statement in order.
    pub(crate) async fn fetch(
        &mut self,
        conn: &mut SqliteConnection,
        operation: &'static str,
    ) -> Result<Vec<SqliteRow>> {
        match self.take() {
            Some(mut qb) => qb
                .build()
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| map(e, operation)),
            None => Ok(Vec::new()),
        }
    }

    /// The statements written so far, if any, leaving the batch empty.
    fn take(&mut self) -> Option<QueryBuilder<Sqlite>> {
        (self.statements > 0).then(|| std::mem::take(self).qb)
    }
}
