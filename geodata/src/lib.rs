#![doc = include_str!("../README.md")]

pub mod anncsu;
pub mod comune;
pub mod crs;
pub mod dbt;
mod error;
pub mod features;
pub mod geocoder;
pub mod zoning;

pub use error::{Error, Result};
