#![doc = include_str!("../README.md")]

mod alerts;
mod app;
pub mod auth;
mod cap;
mod dead_letters;
mod error;
mod geocode;
pub mod health;
mod ogc;
mod open311;
mod openapi;
mod pages;
pub mod reports;
mod schema;
mod security;
mod sta;
mod stations;
mod stream;
mod telemetry;
mod territory;
mod tiles;

pub use app::{AppState, MAX_BODY_BYTES, REQUEST_TIMEOUT, ops_router, router};
pub use auth::{Caller, Role};
pub use error::{ApiError, PROBLEM_JSON, Problem};
pub use health::{Check, HealthReport};
pub use reports::ReportsOptions;
