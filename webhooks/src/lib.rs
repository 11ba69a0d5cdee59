#![doc = include_str!("../README.md")]

pub mod client;
pub mod dispatcher;
mod error;
pub mod options;
pub mod signature;

pub use client::{Outcome, WebhookClient};
pub use dispatcher::{Dispatcher, Job, Queue, Recorded};
pub use error::{Error, Result};
pub use options::DeliveryOptions;
pub use signature::{
    DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature,
};
pub use tokio_util::sync::CancellationToken;
