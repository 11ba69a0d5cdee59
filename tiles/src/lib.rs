#![doc = include_str!("../README.md")]

mod coord;
mod error;

pub use coord::TileCoord;
pub use error::{Error, Result};
