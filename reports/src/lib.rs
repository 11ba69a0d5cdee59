#![doc = include_str!("../README.md")]

pub mod access;
mod error;
pub mod status;

pub use access::{Access, Action, Grant, Role};
pub use error::{Error, Result};
pub use status::Status;
