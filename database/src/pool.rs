//! Connection pools and migrations.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use tracing::info;

use crate::Result;

/// The migrations in `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The schemas the migrations create, one per domain.
pub const SCHEMAS: [&str; 7] = ["core", "sensors", "alerts", "reports", "topo", "toponymy", "zoning"];

/// How to open a pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections the pool keeps.
    pub max_connections: u32,
    /// How long to wait for a connection before failing.
    pub acquire_timeout: Duration,
    /// Application name shown in `pg_stat_activity`.
    pub application_name: String,
    /// The server cancels any statement running longer (`statement_timeout`); `None` for long imports.
    /// Requests that may be expensive set a tighter `set local statement_timeout` of their own.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            application_name: "vedetta".into(),
            statement_timeout: None,
        }
    }
}

/// Opens a pool on `url`. The pool connects lazily after the first connection succeeded, so it
/// survives a database restart (connections are re-established on demand).
pub async fn connect(url: &str, opts: &PoolOptions) -> Result<PgPool> {
    let connect: PgConnectOptions = url.parse()?;
    let mut connect = connect;
    if let Some(timeout) = opts.statement_timeout {
        connect = connect.options([("statement_timeout", format!("{}ms", timeout.as_millis()))]);
    }
    let connect = connect
        .application_name(&opts.application_name)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(2));
    let pool = PgPoolOptions::new()
        .max_connections(opts.max_connections)
        .acquire_timeout(opts.acquire_timeout)
        .test_before_acquire(true)
        .connect_with(connect)
        .await?;
    Ok(pool)
}

/// Creates `database` on the server of `admin_url` unless it exists.
pub async fn ensure_database(admin_url: &str, database: &str) -> Result<()> {
    let pool = connect(admin_url, &PoolOptions { max_connections: 1, ..PoolOptions::default() }).await?;
    let exists: bool = sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
        .bind(database)
        .fetch_one(&pool)
        .await?;
    if !exists {
        // Identifiers cannot be bound; quote it as PostgreSQL does.
        let quoted = format!("\"{}\"", database.replace('"', "\"\""));
        sqlx::query(&format!("create database {quoted}")).execute(&pool).await?;
        info!(database, "Database created.");
    }
    pool.close().await;
    Ok(())
}

/// Runs the pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Checks that the database answers, within `timeout`.
pub async fn ping(pool: &PgPool, timeout: Duration) -> std::result::Result<(), String> {
    match tokio::time::timeout(timeout, sqlx::query_scalar::<_, i32>("select 1").fetch_one(pool)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}
