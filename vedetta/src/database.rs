//! Finding the database: the configured URL, or the private cluster of the data dir.

use std::path::Path;
use std::time::Duration;

use ::database::cluster::{Cluster, ClusterOptions, DataDirLock, attach_url};
use ::database::{self as db, PoolOptions};
use anyhow::{Context, bail};
use sqlx::PgPool;
use tracing::{info, warn};

use crate::config::Config;

/// An open database, and the cluster this process started for it, if any.
#[derive(Debug)]
pub struct Database {
    pub pool: PgPool,
    cluster: Option<Cluster>,
    _lock: Option<DataDirLock>,
}

/// Who needs the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// `serve`/`demo`: takes the data dir for itself, refusing when another process holds it.
    Server(&'static str),
    /// Any other command: reuses the cluster of a running `serve`, or starts it for its own duration.
    Command(&'static str),
}

impl Database {
    /// Opens the database as `owner`.
    pub async fn open(config: &Config, owner: Owner) -> anyhow::Result<Database> {
        let purpose = match owner {
            Owner::Server(p) | Owner::Command(p) => p,
        };
        // Serving processes bound every statement; one-off commands (imports of a whole DBT) do not.
        let serving = matches!(owner, Owner::Server(_)) || purpose == "vedetta ingest";
        let pool_opts = PoolOptions {
            max_connections: config.database.max_connections,
            statement_timeout: serving.then(|| Duration::from_secs(config.database.statement_timeout_s)),
            ..PoolOptions::default()
        };
        let data_dir = config.data_dir.as_path();

        if let Some(url) = &config.database.url {
            // The data dir still belongs to one server at a time.
            let lock = match owner {
                Owner::Server(_) => Some(DataDirLock::acquire(data_dir, purpose)?),
                Owner::Command(_) => None,
            };
            let pool = connect_with_retry(url, &pool_opts).await?;
            return Ok(Database { pool, cluster: None, _lock: lock });
        }

        let lock = match (owner, DataDirLock::acquire(data_dir, purpose)) {
            (_, Ok(lock)) => lock,
            (Owner::Server(_), Err(e)) => return Err(e.into()),
            (Owner::Command(_), Err(::database::Error::DataDirBusy { .. })) => {
                let url = attach_url(data_dir, &config.database.name)?.with_context(|| {
                    format!("the data dir {} is in use but has no running cluster", data_dir.display())
                })?;
                info!("Using the private cluster of the running Vedetta.");
                let pool = connect_with_retry(&url, &pool_opts).await?;
                return Ok(Database { pool, cluster: None, _lock: None });
            }
            (Owner::Command(_), Err(e)) => return Err(e.into()),
        };

        let cluster = start_cluster(config, data_dir).await?;
        db::ensure_database(&cluster.url("postgres"), &config.database.name)
            .await
            .context("while creating the Vedetta database in the private cluster")?;
        let pool = db::connect(&cluster.url(&config.database.name), &pool_opts).await?;
        Ok(Database { pool, cluster: Some(cluster), _lock: Some(lock) })
    }

    /// Closes the pool and stops the cluster this process started.
    /// Closes the pool (waiting at most a few seconds for connections still in use: a statement still running is
    /// cancelled by the fast shutdown of the private cluster) and stops the private cluster.
    pub async fn close(self) -> anyhow::Result<()> {
        if tokio::time::timeout(Duration::from_secs(3), self.pool.close()).await.is_err() {
            warn!("Connections still busy after 3 s; closing anyway.");
        }
        if let Some(cluster) = self.cluster {
            tokio::task::spawn_blocking(move || cluster.stop())
                .await
                .context("while stopping the private cluster")??;
        }
        Ok(())
    }
}

async fn start_cluster(config: &Config, data_dir: &Path) -> anyhow::Result<Cluster> {
    let mut opts = ClusterOptions::new(data_dir);
    opts.os_user = config.database.cluster_user.clone();
    opts.bin_dir = config.database.pg_bin_dir.clone();
    tokio::task::spawn_blocking(move || {
        let mut cluster = Cluster::open(&opts)?;
        cluster.start()?;
        Ok::<_, ::database::Error>(cluster)
    })
    .await
    .context("while starting the private cluster")?
    .with_context(|| format!("while starting the private PostgreSQL cluster in {}", data_dir.display()))
}

/// Connects, retrying for a while: a database that is still starting should not fail Vedetta's start.
async fn connect_with_retry(url: &str, opts: &PoolOptions) -> anyhow::Result<PgPool> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match db::connect(url, opts).await {
            Ok(pool) => return Ok(pool),
            Err(e) if attempt < 8 => {
                warn!(attempt, error = %e, "The database does not answer yet; retrying.");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
                attempt += 1;
            }
            Err(e) => {
                let shown = crate::config::mask_url_password(url);
                bail!("cannot connect to the database at {shown}: {e}");
            }
        }
    }
}
