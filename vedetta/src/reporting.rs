//! Citizen reports wired into `vedetta serve`: the HTTP options from `[reports]`, the reporters' mail sender and the
//! comuni's webhook dispatcher. Both background workers run in every `serve`: they claim their work with
//! `FOR UPDATE SKIP LOCKED`, so several processes share it and none is sent twice.

use std::time::Duration;

use anyhow::Context;
use reports::mail::Mailer;
use reports::webhook::{Dispatcher, DispatcherOptions};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::Config;

/// The options of the reports API.
pub fn options(config: &Config) -> webmap::ReportsOptions {
    let r = &config.reports;
    webmap::ReportsOptions {
        photos_dir: r.photos_dir.clone().unwrap_or_else(|| config.data_dir.join("photos")),
        max_photo_bytes: r.max_photo_mb.max(1) as usize * 1024 * 1024,
        reports_per_hour_ip: r.per_hour_per_ip,
        reports_per_hour_account: r.per_hour_per_account,
        trusted_proxies: r.trusted_proxies.clone(),
        public_url: Some(config.http.public_url()),
        ..webmap::ReportsOptions::default()
    }
}

/// Starts the mail sender and the webhook dispatcher until `cancel`.
pub fn start(config: &Config, pool: &PgPool, cancel: &CancellationToken) -> anyhow::Result<()> {
    let mail = config.reports.mail.clone();
    mail.check().context("in [reports.mail]")?;
    if mail.enabled() {
        info!(host = %mail.smtp_host, port = mail.smtp_port, "Reporters' emails go through SMTP.");
    } else {
        info!("[reports.mail] smtp_host is not set: reporters' emails stay queued.");
    }
    let mailer = Mailer::new(pool.clone(), mail).context("while preparing the mail sender")?;
    tokio::spawn(mailer.run(cancel.clone()));

    let hooks = &config.reports.webhooks;
    let opts = DispatcherOptions {
        timeout: Duration::from_secs(hooks.timeout_s.max(1)),
        max_attempts: hooks.max_attempts.max(1),
        backoff_base: Duration::from_millis(hooks.backoff_base_ms.max(1)),
        backoff_max: Duration::from_secs(hooks.backoff_max_s.max(1)),
        poll_interval: reports::webhook::POLL_INTERVAL,
        ..DispatcherOptions::default()
    };
    let dispatcher =
        Dispatcher::new(pool.clone(), opts).context("while preparing the reports' webhook dispatcher")?;
    tokio::spawn(dispatcher.run(cancel.clone()));
    Ok(())
}

/// `vedetta reports anonymize --older-than AGE`.
pub async fn anonymize(older_than: chrono::Duration, config: Config) -> anyhow::Result<()> {
    use crate::database::{Database, Owner};
    let db = Database::open(&config, Owner::Command("vedetta reports anonymize")).await?;
    let result = async {
        ::database::migrate(&db.pool).await.context("while migrating the database")?;
        reports::report::anonymize(&db.pool, older_than).await.context("while anonymizing reports")
    }
    .await;
    db.close().await?;
    let count = result?;
    println!("Segnalazioni anonimizzate / reports anonymized: {count}");
    Ok(())
}
