//! Counts the SQL statements the server sends, for tests and `/metrics`-style
//! checks: every pooled connection reports its `StartQuery` events here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// Shared by every connection of one [`Db`](super::Db).
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Statements started since the pools were built.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// The instrumentation to set on one connection.
    pub fn probe(&self) -> CountingProbe {
        CountingProbe(self.0.clone())
    }
}

/// Set on a connection; bumps the shared count when a statement starts.
pub struct CountingProbe(Arc<AtomicU64>);

impl Instrumentation for CountingProbe {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
