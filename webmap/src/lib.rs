#![doc = include_str!("../README.md")]

mod app;
pub mod auth;
mod dead_letters;
mod error;
mod geocode;
pub mod health;
mod ogc;
mod pages;
mod sta;
mod stations;
mod stream;
mod telemetry;
mod territory;

pub use app::{AppState, ops_router, router};
pub use auth::{Caller, Role};
pub use error::ApiError;
pub use health::{Check, HealthReport};
