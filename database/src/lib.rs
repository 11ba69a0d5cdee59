#![doc = include_str!("../README.md")]

pub mod cluster;
mod error;
pub mod event;
pub mod leader;
pub mod outbox;
pub mod pool;
pub mod rate;

pub use error::{Error, Result};
pub use pool::{MIGRATOR, PoolOptions, SCHEMAS, connect, ensure_database, migrate, ping};
