#![doc = include_str!("../README.md")]

mod error;
mod status;

pub use error::{Error, Result};
pub use status::Status;
