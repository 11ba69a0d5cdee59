#![doc = include_str!("../README.md")]

pub mod cluster;
pub mod crs;
pub mod db;
mod error;

pub use error::{Error, Result};
