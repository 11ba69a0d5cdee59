#![doc = include_str!("../README.md")]

mod error;
pub mod event;
pub mod import;
pub mod payload;
pub mod qc;
mod quantity;
pub mod reading;
pub mod simulation;
pub mod sta;
pub mod station;
pub mod store;
pub mod window;

pub use error::{Error, Result};
pub use payload::{Decoded, RawReading, Reject, RejectKind, Source};
pub use quantity::Quantity;
pub use station::{Station, StationInput, StationKind};
