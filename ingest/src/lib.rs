#![doc = include_str!("../README.md")]

pub mod broker;
pub mod client;
pub mod dead_letter;
pub mod endpoint;
mod error;
mod publisher;
pub mod simulator;
mod station_cache;
pub mod writer;

pub use broker::{BrokerOptions, EmbeddedBroker};
pub use client::{Ack, ConfirmingSink, IngestLoop, IngestOptions, IngestStatus, Message, MessageSink};
pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use publisher::Publisher;
pub use simulator::{SimSummary, SimulatorOptions};
pub use writer::{BatchSink, Writer, WriterOptions, writer};
