#![doc = include_str!("../README.md")]

pub mod access;
pub mod category;
mod error;
pub mod mail;
pub mod photo;
pub mod report;
pub mod stats;
pub mod status;
pub mod webhook;

pub use access::{Access, Action, Grant, Role};
pub use error::{Error, Result};
pub use status::Status;
