#![doc = include_str!("../README.md")]

mod error;
mod level;

pub use error::{Error, Result};
pub use level::Level;
