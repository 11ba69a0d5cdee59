//! Outgoing webhooks: every change of an alert, POSTed as signed JSON to the subscribed receivers.
//!
//! - [`subscription`]: who is told (URL, secret) and about what (zones, minimum colour, categories).
//! - [`delivery`]: the queue. [`enqueue`] is called by the evaluator inside the transaction that changes an alert;
//!   one delivery per (subscription, alert, version), so a change reaches each receiver at most once however often
//!   it is enqueued. Dead deliveries form the dead-letter list ([`list_deliveries`], [`retry_delivery`]).
//! - [`Dispatcher`]: works the queue off from any number of processes, with retries and exponential backoff (the
//!   [`webhooks`] crate's delivery loop over `alerts.webhook_delivery`).
//! - [`signature`]: the HMAC-SHA256 signature and its reference check, [`verify_signature`] (re-exported from
//!   [`webhooks`]; the reports' webhooks sign alike).
//!
//! # What a receiver gets
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Vedetta-Event: alert.changed
//! X-Vedetta-Delivery: 4711
//! X-Vedetta-Timestamp: 1767225600
//! X-Vedetta-Signature: sha256=<hex HMAC-SHA256(secret, "1767225600." + body)>
//!
//! {"event": "alert.changed", "delivery_id": 4711, "event_id": 90210, "alert": {"id": 12, "version": 3, …}}
//! ```
//!
//! `alert` is the alert as the rest of Vedetta sees it (the payload of the spine's `alert.changed`). The delivery
//! id is the same on every attempt of one delivery; the timestamp and signature are those of the attempt.
//!
//! A receiver checks the signature over the raw body bytes ([`verify_signature`]), refuses a timestamp more than a
//! few minutes from its clock, answers 2xx within 10 s once it has the delivery (anything else, a redirect
//! included, or no answer, is a failure), and ignores a delivery id it has already processed. Failed attempts are
//! retried after 1, 2, 4 … s (capped at 10 min); after 8 attempts the delivery is dead, with the last error, until
//! an administrator retries it. Those numbers are the defaults of [`DispatcherOptions`].

pub mod delivery;
pub mod dispatcher;
pub mod subscription;

pub use webhooks::signature;

pub use delivery::{
    Delivery, DeliveryQuery, DeliveryState, NOTIFY_CHANNEL, enqueue, get_delivery, list_deliveries,
    retry_delivery,
};
pub use dispatcher::{Dispatcher, DispatcherOptions, EVENT_ALERT_CHANGED};
pub use subscription::{
    CATEGORIES, CreatedSubscription, DEFAULT_CATEGORIES, NewSubscription, Subscription, create_subscription,
    delete_subscription, get_subscription, list_subscriptions, list_subscriptions_page,
    set_subscription_active, validate_url,
};
pub use tokio_util::sync::CancellationToken;
pub use webhooks::{
    DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature,
};
