//! The benchmark's private PostgreSQL + PostGIS cluster (`database::cluster`), with the server defaults — fsync,
//! synchronous_commit and full_page_writes on, as in production — and one fresh database per run.

use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result};
use database::cluster::{Cluster, ClusterOptions};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// A cluster in a temporary directory, stopped and removed when dropped (or by a watchdog if the benchmark is
/// killed).
#[derive(Debug)]
pub struct BenchCluster {
    cluster: Option<Cluster>,
    dir: Option<tempfile::TempDir>,
}

impl BenchCluster {
    pub fn start() -> Result<BenchCluster> {
        let dir = tempfile::Builder::new()
            .prefix("vedetta-bench-pg-")
            .tempdir()
            .context("a temporary directory")?;
        // The cluster user (postgres, when the benchmark runs as root) must reach the directory.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let mut cluster =
            Cluster::open(&ClusterOptions::new(dir.path())).context("initdb of the benchmark cluster")?;
        cluster.start().context("start of the benchmark cluster")?;
        testkit::watch_cluster(cluster.pgdata(), dir.path(), testkit::Stop::Fast);
        Ok(BenchCluster { cluster: Some(cluster), dir: Some(dir) })
    }

    pub fn url(&self, database: &str) -> String {
        self.cluster.as_ref().map(|c| c.url(database)).unwrap_or_default()
    }

    /// Creates `name` (migrated for Vedetta, with only `create extension postgis` for ogr2ogr) and checkpoints, so
    /// that every run starts from the same state. Returns a pool on it.
    pub async fn fresh_database(&self, name: &str, migrate: bool) -> Result<PgPool> {
        let mut admin =
            PgConnection::connect(&self.url("postgres")).await.context("connect to the cluster")?;
        sqlx::query(&format!("drop database if exists {name}")).execute(&mut admin).await?;
        sqlx::query(&format!("create database {name}")).execute(&mut admin).await?;
        admin.close().await?;
        let pool = PgPoolOptions::new().max_connections(4).connect(&self.url(name)).await?;
        if migrate {
            database::migrate(&pool).await.context("migrations")?;
        } else {
            sqlx::query("create extension postgis").execute(&pool).await?;
        }
        sqlx::query("checkpoint").execute(&pool).await?;
        Ok(pool)
    }

    /// `(port, user, password)` for libpq (ogr2ogr).
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

    pub fn stop(&mut self) -> Result<()> {
        if let Some(cluster) = self.cluster.take() {
            cluster.stop().context("stop the benchmark cluster")?;
        }
        if let Some(dir) = self.dir.take() {
            dir.close()?;
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
