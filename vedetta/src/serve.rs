//! `vedetta serve`, `vedetta demo` and `vedetta ingest`: wiring the crates into a running platform.

use std::sync::Arc;

use anyhow::Context;
use ingest::{
    BrokerOptions, EmbeddedBroker, Endpoint, IngestLoop, IngestOptions, IngestStatus, WriterOptions,
};
use sqlx::PgPool;
use std::future::IntoFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use tracing::{error, info, warn};
use webmap::{AppState, Check};

use crate::config::Config;
use crate::database::{Database, Owner};
use crate::telemetry;

/// Runs the whole platform until SIGINT/SIGTERM.
pub async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let prometheus = telemetry::install_metrics()?;
    let purpose = if demo { "vedetta demo" } else { "vedetta serve" };
    let db = Database::open(&config, Owner::Server(purpose)).await?;
    let result = run_platform(&config, &db, prometheus, demo).await;
    // Whatever happened, the private cluster is stopped cleanly.
    let closed = db.close().await;
    result.and(closed)
}

async fn run_platform(
    config: &Config,
    db: &Database,
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
    demo: bool,
) -> anyhow::Result<()> {
    ::database::migrate(&db.pool).await.context("while migrating the database")?;
    if let Some(token) = webmap::auth::ensure_admin_token(&db.pool, config.auth.admin_token.as_deref())
        .await
        .context("while preparing the admin token")?
    {
        println!("Token di amministrazione (mostrato una sola volta) / admin token (shown once):\n  {token}");
    }

    if demo {
        crate::demo::seed(&db.pool, &config.data_dir).await?;
        if let Some(password) = crate::demo::seed_operator(&db.pool).await? {
            println!(
                "Operatore di protezione civile (password mostrata una sola volta) / civil-protection operator \
                 (password shown once):\n  {} / {password}",
                crate::demo::OPERATOR
            );
        }
    }
    let broker_url = match &config.mqtt.url {
        Some(url) => url.clone(),
        None => {
            let listen = config.mqtt.listen;
            let broker =
                tokio::task::spawn_blocking(move || EmbeddedBroker::start(listen, &BrokerOptions::default()))
                    .await
                    .context("while starting the embedded MQTT broker")??;
            broker.url()
        }
    };

    let cancel = CancellationToken::new();
    tokio::spawn(shutdown_on_signal(cancel.clone()));
    let (state, ingest) = start_ingest(config, &db.pool, &broker_url, prometheus, cancel.clone())?;
    crate::alerting::start(config, &db.pool, state.spine(), &broker_url, &cancel)?;
    crate::reporting::start(config, &db.pool, &cancel)?;
    let state = start_tiles(config, &db.pool, state).await?;
    let listener = bind(config).await?;
    let addr = listener.local_addr()?;
    if demo {
        println!("Vedetta demo è attiva / is up: http://{addr}/");
        spawn_demo(db.pool.clone(), broker_url.clone(), cancel.clone());
    } else {
        println!("Vedetta è attiva / is up: http://{addr}/");
    }
    info!(%addr, mqtt = %crate::config::mask_url_password(&broker_url), "Vedetta is up.");

    let served = serve_http(listener, webmap::router(state), cancel.clone()).await;
    cancel.cancel();
    finish(ingest).await;
    info!("Vedetta stopped.");
    served
}

/// How long requests in flight (an SSE stream, a slow query) may run on after a shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Serves HTTP until `cancel`, then lets requests in flight finish for [`SHUTDOWN_GRACE`] and drops the rest, so
/// that SIGTERM ends Vedetta in seconds whatever the clients or the database are doing.
async fn serve_http(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut server = tokio::spawn(
        // The peer address reaches handlers as `ConnectInfo<SocketAddr>` (rate limits per client IP).
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(cancel.clone().cancelled_owned())
            .into_future(),
    );
    tokio::select! {
        done = &mut server => return done.context("HTTP server task")?.context("HTTP server"),
        _ = cancel.cancelled() => {}
    }
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
        Ok(done) => done.context("HTTP server task")?.context("HTTP server"),
        Err(_) => {
            warn!(
                grace_s = SHUTDOWN_GRACE.as_secs(),
                "Requests still running after the grace period; dropped."
            );
            server.abort();
            Ok(())
        }
    }
}

/// `vedetta ingest`: the ingest loop alone, against the configured broker or the one of a running `serve`.
pub async fn ingest_only(config: Config) -> anyhow::Result<()> {
    let prometheus = telemetry::install_metrics()?;
    let db = Database::open(&config, Owner::Command("vedetta ingest")).await?;
    let result = async {
        ::database::migrate(&db.pool).await.context("while migrating the database")?;
        let url = config.mqtt.url.clone().unwrap_or_else(|| format!("mqtt://{}", config.mqtt.listen));
        let cancel = CancellationToken::new();
        tokio::spawn(shutdown_on_signal(cancel.clone()));
        let (state, ingest) = start_ingest(&config, &db.pool, &url, prometheus, cancel.clone())?;
        // A worker answers /healthz and /metrics only.
        let listener = bind(&config).await?;
        info!(addr = %listener.local_addr()?, "Ingest worker up (/healthz, /metrics).");
        let served = serve_http(listener, webmap::ops_router(state), cancel.clone()).await;
        cancel.cancel();
        finish(ingest).await;
        served
    }
    .await;
    let closed = db.close().await;
    result.and(closed)
}

/// The demo territory's live part: simulated stations around Genova, the last three hours backfilled at once,
/// then live readings with a storm cell over the territory ten minutes after the start.
fn spawn_demo(pool: PgPool, broker_url: String, cancel: CancellationToken) {
    let opts = ingest::SimulatorOptions { stations: 24, rate: 24.0, storm: true, ..Default::default() };
    tokio::spawn(async move {
        // On shutdown the simulation stops and gives up waiting for acknowledgements at once.
        if let Err(e) = ingest::simulator::run(&opts, &pool, &broker_url, &cancel, &cancel).await {
            error!(error = %e, "The demo simulation stopped.");
        }
    });
}

/// Starts housekeeping, the writer and the MQTT loop, and returns the HTTP state that reports on them.
fn start_ingest(
    config: &Config,
    pool: &PgPool,
    broker_url: &str,
    prometheus: metrics_exporter_prometheus::PrometheusHandle,
    cancel: CancellationToken,
) -> anyhow::Result<(AppState, JoinHandle<ingest::Result<()>>)> {
    spawn_retention(config, pool.clone());
    let status = Arc::new(IngestStatus::default());
    let retention = std::time::Duration::from_secs(u64::from(config.events.retention_days.max(1)) * 86_400);
    let spine = ::database::event::Spine::start(pool.clone(), Some(retention));
    let ingest = spawn_ingest(config, pool, broker_url, status.clone(), cancel)?;
    let (mqtt_status, storage_status) = (status.clone(), status);
    let state = AppState::new(
        pool.clone(),
        vec![
            Check::component("mqtt", move || mqtt_status.check()),
            Check::component("ingest", move || storage_status.check_storage()),
        ],
        Some(prometheus),
    )
    .with_spine(spine)
    .with_cap(crate::alerting::cap(config)?)
    .with_reports(crate::reporting::options(config))
    .with_public_url(&config.http.public_url());
    Ok((state, ingest))
}

/// The vector tile service (Martin's pool on the same database) and its invalidator following the spine.
async fn start_tiles(config: &Config, pool: &PgPool, state: AppState) -> anyhow::Result<AppState> {
    let url = match &config.database.url {
        Some(url) => url.clone(),
        None => ::database::cluster::attach_url(&config.data_dir, &config.database.name)?
            .context("the private cluster's address is unknown")?,
    };
    let tiles = &config.tiles;
    let pool_size = match tiles.pool_size {
        0 => (config.database.max_connections as usize / 2).clamp(2, 16),
        n => n as usize,
    };
    let options = tiles::TilesOptions {
        pool_size,
        cache_bytes: tiles.cache_mb.saturating_mul(1024 * 1024),
        live_ttl: std::time::Duration::from_secs(tiles.live_ttl_s),
        freshness_wait: std::time::Duration::from_millis(tiles.freshness_wait_ms),
        ..tiles::TilesOptions::default()
    };
    let tiles = Arc::new(tiles::Tiles::connect(&url, options).await.context("while opening the tile pool")?);
    tiles::Invalidator::start(tiles.clone(), state.spine().clone(), pool.clone())
        .await
        .context("while starting the tile invalidation")?;
    Ok(state.with_tiles(tiles))
}

async fn bind(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(config.http.addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", config.http.addr))
}

/// Starts the writer and the MQTT loop that feeds it.
fn spawn_ingest(
    config: &Config,
    pool: &PgPool,
    broker_url: &str,
    status: Arc<IngestStatus>,
    cancel: CancellationToken,
) -> anyhow::Result<JoinHandle<ingest::Result<()>>> {
    let endpoint = Endpoint::parse(broker_url)?;
    let topics = match &config.mqtt.shared_group {
        Some(group) => config.mqtt.topics.iter().map(|t| format!("$share/{group}/{t}")).collect(),
        None => config.mqtt.topics.clone(),
    };
    let opts = IngestOptions::new(endpoint, &config.mqtt.client_id, topics);
    let writer_opts = WriterOptions {
        max_batch: config.ingest.max_batch,
        max_delay: std::time::Duration::from_millis(config.ingest.max_delay_ms),
        max_payload: config.ingest.max_payload_bytes,
        own_prefix: Some(config.alerts.mqtt_prefix.clone()).filter(|p| !p.is_empty()),
    };
    let (sink, writer) = ingest::writer(pool.clone(), status.clone(), writer_opts);
    tokio::spawn(writer.run());
    Ok(tokio::spawn(IngestLoop::new(opts, sink, status).run(cancel)))
}

/// Housekeeping of the readings, at start and every six hours: partitions created two months ahead, and those past
/// the retention (`sensors.retention_months`, 0 keeps everything) dropped.
fn spawn_retention(config: &Config, pool: PgPool) {
    let months = config.sensors.retention_months;
    tokio::spawn(async move {
        let partitions = sensors::store::Partitions::default();
        loop {
            if let Err(e) = partitions.ensure_ahead(&pool, 2).await {
                error!(error = %e, "Cannot create the reading partitions ahead.");
            }
            if months > 0 {
                let cutoff = chrono::Utc::now() - chrono::Duration::days(31 * i64::from(months));
                match sensors::store::drop_partitions_before(&pool, cutoff).await {
                    Ok(dropped) if !dropped.is_empty() => {
                        info!(?dropped, "Reading partitions past retention dropped.")
                    }
                    Ok(_) => {}
                    Err(e) => error!(error = %e, "Cannot apply the readings retention."),
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(6 * 3600)).await;
        }
    });
}

/// Waits for the ingest loop to flush and acknowledge what it committed, for at most [`INGEST_GRACE`]: when the
/// database is down the writer would retry for as long as the outage lasts, and what it has not committed stays
/// with the broker (unacknowledged), so nothing is lost by leaving.
async fn finish(mut ingest: JoinHandle<ingest::Result<()>>) {
    match tokio::time::timeout(INGEST_GRACE, &mut ingest).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => error!(error = %e, "MQTT ingest failed."),
        Ok(Err(e)) => error!(error = %e, "MQTT ingest task failed."),
        Err(_) => {
            warn!(
                grace_s = INGEST_GRACE.as_secs(),
                "Ingest still busy; what it has not committed stays with the broker."
            );
            ingest.abort();
        }
    }
}

/// How long ingest may take to finish after a shutdown signal.
const INGEST_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Cancels `cancel` at the first SIGINT or SIGTERM.
async fn shutdown_on_signal(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            error!(error = %e, "Cannot listen for SIGTERM.");
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT received; shutting down."),
        _ = term.recv() => info!("SIGTERM received; shutting down."),
        _ = cancel.cancelled() => {}
    }
    cancel.cancel();
}
