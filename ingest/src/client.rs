//! The ingest loop: an MQTT client that hands messages to a sink and acknowledges them when the sink says so.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{Endpoint, Result};

/// How the ingest loop connects and what it subscribes to.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The broker.
    pub endpoint: Endpoint,
    /// The client id. It must stay the same across restarts: with `clean_session` off the broker keeps the
    /// subscription and queues messages for this id while Vedetta is away.
    pub client_id: String,
    /// Topic filters subscribed with QoS 1 (`$share/group/...` filters for shared subscriptions).
    pub topics: Vec<String>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Whether to start a fresh session at each connection (off for ingest: nothing queued is lost).
    pub clean_session: bool,
    /// Largest packet accepted from the broker, in bytes.
    pub max_packet_size: usize,
    /// Most unacknowledged outgoing messages.
    pub inflight: u16,
}

impl IngestOptions {
    /// Options for `endpoint` with Vedetta's defaults.
    pub fn new(endpoint: Endpoint, client_id: impl Into<String>, topics: Vec<String>) -> Self {
        IngestOptions {
            endpoint,
            client_id: client_id.into(),
            topics,
            keep_alive: Duration::from_secs(30),
            clean_session: false,
            max_packet_size: 1024 * 1024 + 1024,
            inflight: 100,
        }
    }
}

/// A message as it arrived.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub payload: bytes::Bytes,
    pub received_at: SystemTime,
}

/// The acknowledgement of one message. Dropping it without [`Ack::confirm`] leaves the message unacknowledged:
/// the broker delivers it again after a reconnection.
///
/// An acknowledgement belongs to the connection the message came on: after a reconnection the broker delivers the
/// unacknowledged messages again (with new packet ids), so an acknowledgement from an earlier connection is
/// dropped rather than sent with a packet id that may now name another message.
#[derive(Debug)]
pub struct Ack {
    inner: AckInner,
}

#[derive(Debug)]
enum AckInner {
    /// A message of the broker connection numbered `connection`.
    Broker { client: AsyncClient, publish: Publish, connection: u64, current: Arc<AtomicU64> },
    /// A message from elsewhere (a replay, a test): confirming reports on the channel.
    Channel(tokio::sync::oneshot::Sender<()>),
}

impl Ack {
    /// An acknowledgement for a message that did not come from the broker (a replay, a test): [`Ack::confirm`]
    /// sends on the returned channel, and dropping the `Ack` unconfirmed closes it.
    pub fn channel() -> (Ack, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Ack { inner: AckInner::Channel(tx) }, rx)
    }

    /// Tells the broker that the message is safe with Vedetta.
    pub async fn confirm(self) -> Result<()> {
        match self.inner {
            AckInner::Broker { client, publish, connection, current } => {
                if current.load(Ordering::Acquire) != connection {
                    debug!(pkid = publish.pkid, "Not acknowledging a message of an earlier connection.");
                    return Ok(());
                }
                client.ack(&publish).await?;
            }
            AckInner::Channel(tx) => {
                // Nobody waiting for the confirmation is not an error.
                let _ = tx.send(());
            }
        }
        Ok(())
    }
}

/// Where the ingest loop delivers messages.
pub trait MessageSink: Send + 'static {
    /// Takes one message. The sink confirms `ack` once the message is durable (stored, or recorded as a dead
    /// letter); awaiting here applies back-pressure to the broker connection.
    fn accept(&mut self, message: Message, ack: Ack) -> impl Future<Output = ()> + Send;

    /// Called once at shutdown, before the loop disconnects: store what was accepted and confirm it.
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// The state of the loop, for `/healthz` and `/metrics`.
#[derive(Debug, Default)]
pub struct IngestStatus {
    connected: AtomicBool,
    received: AtomicU64,
    last_error: Mutex<Option<String>>,
    storage_error: Mutex<Option<String>>,
}

impl IngestStatus {
    /// `Ok` while connected to the broker; otherwise the last connection error.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.connected.load(Ordering::Acquire) {
            return Ok(());
        }
        let last = self.last_error.lock().map(|e| e.clone()).unwrap_or_default();
        Err(last.unwrap_or_else(|| "not connected to the broker yet".into()))
    }

    /// `Ok` while readings are being stored; otherwise why not (the database is down, say).
    pub fn check_storage(&self) -> std::result::Result<(), String> {
        match self.storage_error.lock().map(|e| e.clone()).unwrap_or_default() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// Records whether storing readings fails.
    pub fn set_storage_error(&self, error: Option<String>) {
        if let Ok(mut last) = self.storage_error.lock() {
            *last = error;
        }
    }

    /// Messages received since start.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn set_connected(&self, connected: bool, error: Option<String>) {
        self.connected.store(connected, Ordering::Release);
        metrics::gauge!("vedetta_mqtt_connected").set(if connected { 1.0 } else { 0.0 });
        if let Ok(mut last) = self.last_error.lock() {
            *last = error;
        }
    }
}

/// The MQTT client loop of ingest.
#[derive(Debug)]
pub struct IngestLoop<S> {
    opts: IngestOptions,
    sink: S,
    status: Arc<IngestStatus>,
}

impl<S: MessageSink> IngestLoop<S> {
    /// A loop that will deliver to `sink` and report through `status`.
    pub fn new(opts: IngestOptions, sink: S, status: Arc<IngestStatus>) -> Self {
        IngestLoop { opts, sink, status }
    }

    /// Runs until `cancel` fires, reconnecting with backoff whenever the broker goes away.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<()> {
        let opts = &self.opts;
        let mut mqtt = MqttOptions::new(&opts.client_id, &opts.endpoint.host, opts.endpoint.port);
        mqtt.set_keep_alive(opts.keep_alive)
            .set_clean_session(opts.clean_session)
            .set_manual_acks(true)
            .set_inflight(opts.inflight)
            .set_max_packet_size(opts.max_packet_size, opts.max_packet_size);
        if let Some(user) = &opts.endpoint.username {
            mqtt.set_credentials(user, opts.endpoint.password.clone().unwrap_or_default());
        }
        // Room for the acknowledgements of a whole in-flight window queued while the loop is busy.
        let (client, mut events) = AsyncClient::new(mqtt, 65_536);
        let connection = Arc::new(AtomicU64::new(0));
        let mut backoff = Duration::from_millis(100);
        info!(
            host = %opts.endpoint.host,
            port = opts.endpoint.port,
            client_id = %opts.client_id,
            "Connecting to the MQTT broker."
        );

        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => break,
                event = events.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff = Duration::from_millis(100);
                    connection.fetch_add(1, Ordering::AcqRel);
                    self.status.set_connected(true, None);
                    info!(session_present = ack.session_present, "Connected to the MQTT broker.");
                    for topic in &self.opts.topics {
                        client.try_subscribe(topic.as_str(), QoS::AtLeastOnce)?;
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    self.status.received.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("vedetta_mqtt_messages_received_total").increment(1);
                    debug!(topic = %publish.topic, bytes = publish.payload.len(), "Message received.");
                    let message = Message {
                        topic: publish.topic.clone(),
                        payload: publish.payload.clone(),
                        received_at: SystemTime::now(),
                    };
                    let ack = Ack {
                        inner: AckInner::Broker {
                            client: client.clone(),
                            publish,
                            connection: connection.load(Ordering::Acquire),
                            current: connection.clone(),
                        },
                    };
                    self.sink.accept(message, ack).await;
                }
                Ok(_) => {}
                Err(e) => {
                    let reason = e.to_string();
                    if self.status.check().is_ok() {
                        warn!(error = %reason, "Lost the MQTT broker; reconnecting.");
                    } else {
                        debug!(error = %reason, "MQTT broker still unreachable.");
                    }
                    metrics::counter!("vedetta_mqtt_connection_errors_total").increment(1);
                    self.status.set_connected(false, Some(reason));
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }

        // Store what was accepted, send its acknowledgements, then say goodbye so that the broker keeps the session
        // but does not wait for the keep-alive to expire.
        self.sink.close().await;
        if self.status.check().is_ok() {
            let _ = client.try_disconnect();
            let _ =
                tokio::time::timeout(Duration::from_secs(1), async { while events.poll().await.is_ok() {} })
                    .await;
        }
        self.status.set_connected(false, Some("stopped".into()));
        info!("MQTT ingest stopped.");
        Ok(())
    }
}

/// A sink that acknowledges every message at once and keeps nothing: the foundation's ingest, which only counts
/// messages, until the sensor pipeline stores readings.
#[derive(Debug, Default)]
pub struct ConfirmingSink;

impl MessageSink for ConfirmingSink {
    async fn accept(&mut self, message: Message, ack: Ack) {
        if let Err(e) = ack.confirm().await {
            warn!(topic = %message.topic, error = %e, "Cannot acknowledge a message.");
        }
    }
}
