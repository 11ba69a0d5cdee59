#![doc = include_str!("../README.md")]

pub mod cap;
mod error;
pub mod ladder;
mod level;
pub mod rule;
pub mod webhook;
pub mod zone;

pub use error::{Error, Result};
pub use level::Level;
