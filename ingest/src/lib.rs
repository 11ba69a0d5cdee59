#![doc = include_str!("../README.md")]

pub mod broker;
pub mod client;
pub mod endpoint;
mod error;

pub use broker::{BrokerOptions, EmbeddedBroker};
pub use client::{Ack, ConfirmingSink, IngestLoop, IngestOptions, IngestStatus, Message, MessageSink};
pub use endpoint::Endpoint;
pub use error::{Error, Result};
