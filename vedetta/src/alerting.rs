//! Wiring of the alerting capability: the webhook dispatcher (every `serve`), and, in the process that holds the
//! evaluator's leadership, the evaluator and the MQTT publisher of alert changes.

use std::sync::Arc;
use std::time::Duration;

use ::database::event::Spine;
use alerts::Alert;
use alerts::evaluator::{Evaluator, EvaluatorOptions};
use alerts::rule::RuleSet;
use alerts::webhook::{Dispatcher, DispatcherOptions};
use anyhow::Context;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Config;

/// The consumer name of the MQTT publisher's cursor.
const MQTT_CONSUMER: &str = "mqtt";

/// The configured rules, checked; the problems are listed, each with where it is.
pub fn rules(config: &Config) -> anyhow::Result<RuleSet> {
    RuleSet::from_json(&serde_json::Value::Array(config.alerts.rules.clone())).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
        anyhow::anyhow!(
            "the alert rules of the configuration ([[alerts.rules]]) are invalid:\n{}",
            list.join("\n")
        )
    })
}

/// The CAP publisher of the configuration: sender, identifiers, the public URL, the signing key if any.
pub fn cap(config: &Config) -> anyhow::Result<alerts::cap::Cap> {
    let section = &config.alerts.cap;
    let signing = match (&section.signing_key, &section.signing_certificate) {
        (Some(key), Some(certificate)) => Some(alerts::cap::SigningConfig {
            key: key.display().to_string(),
            certificate: certificate.display().to_string(),
        }),
        (None, None) => None,
        _ => anyhow::bail!("alerts.cap: signing_key and signing_certificate go together; one is missing"),
    };
    let cfg = alerts::cap::CapConfig {
        sender: section.sender.clone(),
        sender_name: section.sender_name.clone(),
        identifier_prefix: section.identifier_prefix.clone(),
        base_url: config.http.public_url(),
        web_url: None,
        status: alerts::cap::CapStatus::Actual,
        signing,
    };
    alerts::cap::Cap::new(cfg).context("alerts.cap is not usable")
}

/// Starts the dispatcher and, when this process evaluates, the evaluator with its MQTT publisher.
pub fn start(
    config: &Config,
    pool: &PgPool,
    spine: &Arc<Spine>,
    broker_url: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let hooks = &config.alerts.webhooks;
    let opts = DispatcherOptions {
        timeout: Duration::from_secs(hooks.timeout_s.max(1)),
        max_attempts: hooks.max_attempts.max(1),
        backoff_base: Duration::from_millis(hooks.backoff_base_ms.max(1)),
        backoff_max: Duration::from_secs(hooks.backoff_max_s.max(1)),
        ..DispatcherOptions::default()
    };
    let dispatcher = Dispatcher::new(pool.clone(), opts).context("while preparing the webhook dispatcher")?;
    tokio::spawn(dispatcher.run(cancel.clone()));

    if !config.alerts.evaluate {
        return Ok(());
    }
    let rules = rules(config)?;
    let recorded = pool.clone();
    let recorded_rules = rules.clone();
    tokio::spawn(async move {
        if let Err(e) = alerts::rules_store::record_config(&recorded, &recorded_rules).await {
            warn!(error = %e, "Cannot record the configured alert rules for the API.");
        }
    });
    let opts = EvaluatorOptions {
        rules,
        tick: Duration::from_secs(config.alerts.tick_s.max(1)),
        ..EvaluatorOptions::default()
    };
    let evaluator = Evaluator::new(pool.clone(), spine.clone(), opts);
    let prefix = config.alerts.mqtt_prefix.trim_end_matches('/').to_string();
    let endpoint = ingest::Endpoint::parse(broker_url)?;
    let (pool, spine) = (pool.clone(), spine.clone());
    let on_lead = move || {
        let (pool, spine, endpoint, prefix) = (pool.clone(), spine.clone(), endpoint.clone(), prefix.clone());
        async move {
            if prefix.is_empty() {
                return;
            }
            loop {
                if let Err(e) = publish_alerts(&pool, &spine, &endpoint, &prefix).await {
                    warn!(error = %e, "The MQTT publisher of alerts stopped; it starts again.");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    tokio::spawn(evaluator.run(cancel.clone(), on_lead));
    Ok(())
}

/// Publishes every alert change, from the publisher's durable cursor, retained at QoS 1 on
/// `{prefix}/{zone}/{subject}` (`-` for an alert outside every zone), technical alerts (a silent station) on
/// `{prefix}/{zone}/{subject}/technical`. The payload is the alert with `subject_level`, the colour the subject
/// stands at over all its alerts: the retained message is the subject's last state even when several rules watch it.
async fn publish_alerts(
    pool: &PgPool,
    spine: &Spine,
    endpoint: &ingest::Endpoint,
    prefix: &str,
) -> anyhow::Result<()> {
    let cursor = match alerts::store::cursor(pool, MQTT_CONSUMER).await? {
        Some(id) => id,
        None => {
            let id = ::database::event::last_id(pool).await?;
            alerts::store::save_cursor(pool, MQTT_CONSUMER, id).await?;
            id
        }
    };
    let mut sub = spine.subscribe(Some(cursor), &[Alert::EVENT]);
    let mut publisher = ingest::Publisher::new(endpoint, &format!("vedetta-alerts-{}", std::process::id()));
    info!(prefix, "Publishing alert changes over MQTT.");
    loop {
        let Some(event) = sub.next().await? else { return Ok(()) };
        let alert: Alert = match serde_json::from_value(event.payload.clone()) {
            Ok(a) => a,
            Err(e) => {
                warn!(event = event.id, error = %e, "An alert event that cannot be read; skipped.");
                continue;
            }
        };
        let mut topic = format!("{prefix}/{}/{}", alert.zone.as_deref().unwrap_or("-"), alert.subject);
        if alert.category == alerts::alert::Category::Technical {
            topic.push_str("/technical");
        }
        let level = alerts::store::subject_level(pool, alert.subject_kind, &alert.subject).await?;
        // The broker is not the operators' room: no names, no notes.
        let mut payload = serde_json::to_value(alert.clone().redacted())?;
        payload["subject_level"] = serde_json::to_value(level)?;
        let payload = serde_json::to_vec(&payload)?;
        publisher.publish(&topic, payload, true, Duration::from_secs(60)).await?;
        alerts::store::save_cursor(pool, MQTT_CONSUMER, event.id).await?;
        metrics::counter!("vedetta_alert_mqtt_published_total").increment(1);
    }
}
