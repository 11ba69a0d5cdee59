#![doc = include_str!("../README.md")]

pub mod alert;
pub mod cap;
mod error;
pub mod evaluator;
pub mod ladder;
mod level;
pub mod rule;
pub mod rules_store;
pub mod store;
pub mod webhook;
pub mod zone;

pub use alert::Alert;
pub use error::{Error, Result};
pub use level::Level;
