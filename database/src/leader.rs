//! Leadership across Vedetta processes: a PostgreSQL session advisory lock held on a connection of its own.
//!
//! Exactly one process holds a given lock; when it dies, its connection closes, PostgreSQL releases the lock and
//! another process takes it at its next try (every [`RETRY`]). The holder checks its connection every [`CHECK`]:
//! when the connection is gone, so is the leadership, and the work it guarded must stop.

use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};
use tracing::{info, warn};

use crate::Result;

/// How often a process that is not the leader tries to become it.
pub const RETRY: Duration = Duration::from_secs(2);

/// How often the leader checks that it still holds the lock.
pub const CHECK: Duration = Duration::from_secs(1);

/// The lock namespace of Vedetta's leaderships (the first key of the two-key advisory lock).
const NAMESPACE: i32 = 22084;

/// A held leadership. Dropping it closes its connection, which releases the lock.
#[derive(Debug)]
pub struct Leadership {
    conn: PgConnection,
    what: &'static str,
}

impl Leadership {
    /// Tries once to become the leader of `what` (lock `key`); `None` when another process is.
    pub async fn try_acquire(pool: &PgPool, key: i32, what: &'static str) -> Result<Option<Leadership>> {
        let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
        let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1, $2)")
            .bind(NAMESPACE)
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        if got {
            info!(what, "This process is now the leader.");
            Ok(Some(Leadership { conn, what }))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    /// Waits until this process is the leader of `what`, or `cancel` resolves first (`None`).
    pub async fn acquire(
        pool: &PgPool,
        key: i32,
        what: &'static str,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Option<Leadership> {
        let attempt = async {
            loop {
                match Leadership::try_acquire(pool, key, what).await {
                    Ok(Some(l)) => return l,
                    Ok(None) => {}
                    Err(e) => warn!(what, error = %e, "Cannot try for the leadership; retrying."),
                }
                tokio::time::sleep(RETRY).await;
            }
        };
        tokio::select! {
            l = attempt => Some(l),
            _ = cancel => None,
        }
    }

    /// Resolves when the leadership is lost (the connection broke). Checks every [`CHECK`].
    pub async fn lost(&mut self) {
        loop {
            tokio::time::sleep(CHECK).await;
            let alive = tokio::time::timeout(CHECK * 3, self.conn.ping()).await;
            if !matches!(alive, Ok(Ok(()))) {
                warn!(what = self.what, "The leadership's connection is gone; leadership lost.");
                return;
            }
        }
    }

    /// Gives the leadership up.
    pub async fn release(self) {
        let _ = self.conn.close().await;
    }
}
