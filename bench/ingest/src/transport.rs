//! Reference "MQTT only": the same burst through a broker just like Vedetta's to a subscriber that stores nothing
//! (rumqttc acknowledges each message on receipt). Not a target: the ceiling that the broker, the publishers and
//! the loopback set on this machine for any consumer, so that Vedetta's figure can be read against it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use crate::naive::{Outcome, wait_handled};
use crate::processes::Mosquitto;
use crate::workload::{Plan, Publishers};

/// Runs the reference on `broker`.
pub async fn run(broker: &mut Mosquitto, plan: &Plan, publishers: usize) -> Result<Outcome> {
    let mut opts = MqttOptions::new("bench-transport", "127.0.0.1", broker.port());
    opts.set_clean_session(true).set_keep_alive(Duration::from_secs(60));
    let (client, mut events) = AsyncClient::new(opts, 1000);
    client.subscribe("vedetta/v1/sensors/#", QoS::AtLeastOnce).await?;
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await? {
                return Ok::<_, rumqttc::ConnectionError>(());
            }
        }
    })
    .await
    .context("the MQTT-only subscriber was not subscribed within 10 s")??;

    let handled = Arc::new(AtomicU64::new(0));
    let target = plan.messages;
    let subscriber = {
        let handled = handled.clone();
        tokio::spawn(async move {
            while handled.load(Ordering::Relaxed) < target {
                if let Event::Incoming(Packet::Publish(_)) =
                    events.poll().await.context("the MQTT-only subscriber lost the broker")?
                {
                    handled.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), anyhow::Error>(())
        })
    };

    eprintln!("MQTT only: publishing {target} readings …");
    let publishers = Publishers::connect(broker.port(), publishers, "bench-transport").await?;
    let started = std::time::Instant::now();
    let tasks = publishers.publish_all(plan.messages_by_publisher(publishers.len()));
    let waited =
        wait_handled("the MQTT-only subscriber", &handled, target, &subscriber, broker, &publishers).await;
    let done = match waited {
        Ok(done) => done,
        Err(e) => {
            subscriber.abort();
            return Err(e);
        }
    };
    subscriber.await.context("the MQTT-only subscriber panicked")??;
    for task in tasks {
        task.await.context("a publishing task failed")??;
    }
    publishers.close().await;
    let _ = client.try_disconnect();
    Ok(Outcome { readings: target, seconds: (done - started).as_secs_f64() })
}
