//! Phase "naive consumer": what a first attempt looks like — an MQTT subscriber (QoS 1, manual acks) that for each
//! message parses the JSON, looks the station up with one SELECT, INSERTs one row in its own transaction
//! (autocommit) and then acknowledges the message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sqlx::{Connection, PgConnection};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::database::{self, BenchCluster};
use crate::processes::Mosquitto;
use crate::vedetta::STALL;
use crate::workload::{Plan, Publishers};

/// What the phase measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub readings: u64,
    pub seconds: f64,
}

/// Runs the phase on a fresh database of `cluster`.
pub async fn run(
    cluster: &BenchCluster,
    broker: &mut Mosquitto,
    plan: &Plan,
    publishers: usize,
) -> Result<Outcome> {
    let url = database::create_database(cluster, "bench_naive", true).await?;
    let pool = database::pool(&url, 2).await?;
    database::insert_stations(&pool, plan.stations).await?;
    database::ensure_partitions(&pool, plan).await?;
    database::checkpoint(&pool).await?;

    let mut conn = PgConnection::connect(&url).await.context("the naive consumer cannot connect")?;
    let mut opts = MqttOptions::new("bench-naive-consumer", "127.0.0.1", broker.port());
    opts.set_clean_session(true).set_manual_acks(true).set_keep_alive(Duration::from_secs(60));
    let (client, mut events) = AsyncClient::new(opts, 10_000);
    client.subscribe("vedetta/v1/sensors/#", QoS::AtLeastOnce).await?;
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await? {
                return Ok::<_, rumqttc::ConnectionError>(());
            }
        }
    })
    .await
    .context("the naive consumer was not subscribed within 10 s")??;

    // The event loop runs in a task of its own, so that it keeps reading and sending acknowledgements while the
    // consumer waits for the database (rumqttc sends queued acks only when polled).
    let (tx, mut rx) = mpsc::unbounded_channel();
    let poller = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if tx.send(publish).is_err() {
                        return Ok(());
                    }
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(anyhow::Error::new(e).context("the naive consumer lost the broker")),
            }
        }
    });
    let handled = Arc::new(AtomicU64::new(0));
    let target = plan.messages;
    let consumer = {
        let handled = handled.clone();
        tokio::spawn(async move {
            let mut inserted = 0;
            while handled.load(Ordering::Relaxed) < target {
                let Some(publish) = rx.recv().await else {
                    bail!("the naive consumer's MQTT connection ended");
                };
                inserted += store_one(&mut conn, &publish.topic, &publish.payload).await?;
                client.ack(&publish).await?;
                handled.fetch_add(1, Ordering::Relaxed);
            }
            let _ = client.try_disconnect();
            let _ = conn.close().await;
            Ok::<u64, anyhow::Error>(inserted)
        })
    };

    eprintln!("naive consumer: publishing {target} readings …");
    let publishers = Publishers::connect(broker.port(), publishers, "bench-naive").await?;
    let started = Instant::now();
    let tasks = publishers.publish_all(plan.messages_by_publisher(publishers.len()));
    let done =
        match wait_handled("the naive consumer", &handled, target, &consumer, broker, &publishers).await {
            Ok(done) => done,
            Err(e) => {
                consumer.abort();
                poller.abort();
                return Err(e);
            }
        };
    let seconds = (done - started).as_secs_f64();
    let inserted = consumer.await.context("the naive consumer panicked")?;
    if inserted.is_err() && poller.is_finished() {
        poller.await.context("the naive consumer's event loop panicked")??;
    } else {
        poller.abort();
    }
    let inserted = inserted?;
    for task in tasks {
        task.await.context("a publishing task failed")??;
    }
    publishers.close().await;
    ensure!(inserted == target, "the naive consumer inserted {inserted} rows instead of {target}");
    let counted = database::count_readings(&pool).await?;
    ensure!(counted == target as i64, "{counted} readings in the table instead of {target}");
    pool.close().await;
    Ok(Outcome { readings: target, seconds })
}

/// Polls `handled` every 50 ms until it reaches `target` (returns when that was seen) or `task` ends; fails when
/// it does not move for [`STALL`].
pub async fn wait_handled<T>(
    who: &str,
    handled: &AtomicU64,
    target: u64,
    task: &JoinHandle<T>,
    broker: &mut Mosquitto,
    publishers: &Publishers,
) -> Result<Instant> {
    let (mut last, mut last_change, mut last_print) = (0, Instant::now(), Instant::now());
    loop {
        let now = Instant::now();
        let done = handled.load(Ordering::Relaxed);
        if done >= target || task.is_finished() {
            return Ok(now);
        }
        if done != last {
            (last, last_change) = (done, now);
        } else if now - last_change > STALL {
            bail!("{who} handled nothing for {STALL:?} ({done} of {target}, {} PUBACKs)", publishers.acked());
        }
        if now - last_print > Duration::from_secs(10) {
            eprintln!("  … {done} of {target} handled, {} PUBACKs", publishers.acked());
            last_print = now;
        }
        broker.check_alive()?;
        publishers.check()?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One message: parse, look the station up, insert (autocommit). Returns the rows inserted (0 or 1).
async fn store_one(conn: &mut PgConnection, topic: &str, payload: &[u8]) -> Result<u64> {
    let mut parts = topic.split('/');
    let (Some(code), Some(quantity)) = (parts.nth(3), parts.next()) else {
        bail!("unexpected topic {topic}");
    };
    let quantity: i16 = match quantity {
        "rain" => 1,
        "level" => 2,
        other => bail!("unknown quantity {other}"),
    };
    let json: serde_json::Value = serde_json::from_slice(payload).context("payload is not JSON")?;
    let observed_at: DateTime<Utc> = json["t"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .context("no valid `t`")?
        .with_timezone(&Utc);
    let value = json["v"].as_f64().context("no valid `v`")?;
    let station: i64 = sqlx::query_scalar("select id from sensors.station where code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?
        .with_context(|| format!("no station {code}"))?;
    let done = sqlx::query(
        "insert into sensors.reading (station_id, quantity, observed_at, value, qc, received_at)
         values ($1, $2, $3, $4, 0, $5) on conflict do nothing",
    )
    .bind(station)
    .bind(quantity)
    .bind(observed_at)
    .bind(value)
    .bind(Utc::now())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
