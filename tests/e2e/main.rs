//! End-to-end tests: they drive the real `vedetta` binary against a real PostgreSQL + PostGIS, real brokers and
//! real HTTP.

mod accounts;
mod alerting;
mod alerts_api;
mod browser;
mod foundation;
mod gate;
mod geocode;
mod hostile;
mod open311;
mod privacy;
mod reports;
mod reports_hostile;
mod reports_mail;
mod sensors;
mod sta;
mod support;
mod territory;
mod tiles;
mod zones;
