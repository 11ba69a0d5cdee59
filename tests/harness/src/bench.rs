//! The benchmarks' private PostgreSQL + PostGIS cluster: the server defaults (fsync, synchronous_commit and
//! full_page_writes on, as in production), in a temporary directory, a fresh database per run. One type for every
//! benchmark, so that they all measure against the same server.

use std::os::unix::fs::PermissionsExt;

use database::cluster::{Cluster, ClusterOptions};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::postgres::{Stop, watch_cluster};

/// A cluster in a temporary directory, stopped cleanly and removed when dropped (or by a watchdog when the
/// benchmark is killed).
#[derive(Debug)]
pub struct BenchCluster {
    cluster: Option<Cluster>,
    dir: Option<tempfile::TempDir>,
}

impl BenchCluster {
    /// Creates and starts the cluster (blocking: initdb and pg_ctl).
    pub fn start() -> database::Result<BenchCluster> {
        let dir = tempfile::Builder::new().prefix("vedetta-bench-pg-").tempdir().map_err(|source| {
            database::Error::Io { action: "cannot create", path: "a temporary directory".into(), source }
        })?;
        // The cluster user (postgres, when the benchmark runs as root) must reach the directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(|source| {
            database::Error::Io { action: "cannot chmod", path: dir.path().to_path_buf(), source }
        })?;
        // No settings: the server defaults, as Vedetta's own private cluster has them.
        let mut cluster = Cluster::open(&ClusterOptions::new(dir.path()))?;
        cluster.start()?;
        watch_cluster(cluster.pgdata(), dir.path(), Stop::Fast);
        Ok(BenchCluster { cluster: Some(cluster), dir: Some(dir) })
    }

    /// A superuser URL for `database`.
    pub fn url(&self, database: &str) -> String {
        self.cluster.as_ref().map(|c| c.url(database)).unwrap_or_default()
    }

    /// Creates `name` afresh (dropping an earlier one): migrated for Vedetta with `migrate`, else with PostGIS only
    /// (for a peer such as ogr2ogr or Martin); then checkpoints, so that every run starts from the same state.
    pub async fn fresh_database(&self, name: &str, migrate: bool) -> database::Result<PgPool> {
        let mut admin = PgConnection::connect(&self.url("postgres")).await?;
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        sqlx::query(&format!("drop database if exists {quoted}")).execute(&mut admin).await?;
        sqlx::query(&format!("create database {quoted}")).execute(&mut admin).await?;
        admin.close().await?;
        let pool = PgPoolOptions::new().max_connections(4).connect(&self.url(name)).await?;
        if migrate {
            database::migrate(&pool).await?;
        } else {
            sqlx::query("create extension if not exists postgis").execute(&pool).await?;
        }
        sqlx::query("checkpoint").execute(&pool).await?;
        Ok(pool)
    }

    /// `(port, user, password)` for libpq clients (ogr2ogr, osm2pgsql, Martin).
    pub fn libpq(&self) -> (u16, String, String) {
        let url = self.url("x");
        let rest = url.trim_start_matches("postgres://");
        let (auth, host) = rest.split_once('@').unwrap_or(("", ""));
        let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
        let port = host
            .split(':')
            .nth(1)
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        (port, user.to_string(), password.to_string())
    }

    /// Stops the server (fast shutdown) and removes its files.
    pub fn stop(&mut self) -> database::Result<()> {
        if let Some(cluster) = self.cluster.take() {
            cluster.stop()?;
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            dir.close().map_err(|source| database::Error::Io { action: "cannot remove", path, source })?;
        }
        Ok(())
    }
}

impl Drop for BenchCluster {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take()
            && cluster.stop().is_err()
        {
            let _ = cluster.kill();
        }
    }
}
