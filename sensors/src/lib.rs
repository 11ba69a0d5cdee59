#![doc = include_str!("../README.md")]

mod error;
mod quantity;

pub use error::{Error, Result};
pub use quantity::Quantity;
