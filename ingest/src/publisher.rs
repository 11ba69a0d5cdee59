//! Publishing to the broker with confirmation: one message at a time, QoS 1, each waited for until the broker
//! acknowledges it (PUBACK), reconnecting whenever the broker goes away. Used for the alerts Vedetta announces over
//! MQTT (retained, so a dashboard that connects later sees each subject's last state).

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tracing::{debug, warn};

use crate::{Endpoint, Error, Result};

/// A confirmed publisher on one broker connection.
pub struct Publisher {
    client: AsyncClient,
    events: EventLoop,
    broker: String,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("broker", &self.broker).finish_non_exhaustive()
    }
}

/// The keep-alive announced to the broker: how long the publisher may stay silent between publications.
const IDLE_KEEP_ALIVE: Duration = Duration::from_secs(3600);

/// The longest a publication waits for its PUBACK before the connection is considered broken.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

impl Publisher {
    /// A publisher with client id `client_id` (it connects on the first publication).
    pub fn new(endpoint: &Endpoint, client_id: &str) -> Publisher {
        let mut mqtt = MqttOptions::new(client_id, &endpoint.host, endpoint.port);
        // The connection is polled only while a publication waits for its PUBACK (which has its own time limit,
        // ACK_TIMEOUT), so no PINGREQ goes out between publications: with a short keep-alive the broker drops an
        // idle publisher (after 1.5 × keep-alive) and the next alert pays a reconnection and a retry. An hour covers
        // the quiet spells between alert changes.
        mqtt.set_keep_alive(IDLE_KEEP_ALIVE).set_clean_session(true);
        if let Some(user) = &endpoint.username {
            mqtt.set_credentials(user, endpoint.password.clone().unwrap_or_default());
        }
        let (client, events) = AsyncClient::new(mqtt, 64);
        Publisher { client, events, broker: format!("{}:{}", endpoint.host, endpoint.port) }
    }

    /// Publishes `payload` on `topic` (QoS 1) and returns once the broker has acknowledged it. On a broken
    /// connection the message is published again after reconnecting (the broker may then see it twice, as QoS 1
    /// allows), retrying with backoff until `give_up` elapses.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
        give_up: Duration,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + give_up;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.publish_once(topic, payload.clone(), retain).await {
                Ok(()) => return Ok(()),
                Err(reason) if tokio::time::Instant::now() + backoff < deadline => {
                    warn!(broker = %self.broker, %reason, "Cannot publish to the MQTT broker; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(reason) => {
                    return Err(Error::Unacknowledged {
                        broker: self.broker.clone(),
                        acked: 0,
                        published: 1,
                        detail: reason,
                    });
                }
            }
        }
    }

    async fn publish_once(
        &mut self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> std::result::Result<(), String> {
        self.client.publish(topic, QoS::AtLeastOnce, retain, payload).await.map_err(|e| e.to_string())?;
        let wait = async {
            loop {
                match self.events.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        debug!(pkid = ack.pkid, "Publication acknowledged.");
                        return Ok(());
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        };
        match tokio::time::timeout(ACK_TIMEOUT, wait).await {
            Ok(result) => result,
            Err(_) => Err(format!("no PUBACK within {ACK_TIMEOUT:?}")),
        }
    }
}
