//! The stations the writer has seen, so that a batch asks the database only for stations it does not know yet.
//! Entries expire after [`TTL`], so changes made through the API or an import (thresholds, range, QC parameters)
//! reach ingest within that time; a deleted station is noticed at once (the insert fails on the foreign key, the
//! cache is cleared and the batch retried).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sensors::{Source, Station, store};
use sqlx::PgConnection;

/// How long a cached station is trusted.
pub const TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct StationCache {
    by_code: HashMap<String, Station>,
    by_id: HashMap<i64, Station>,
    loaded: Option<Instant>,
}

impl StationCache {
    /// Forgets everything.
    pub fn clear(&mut self) {
        self.by_code.clear();
        self.by_id.clear();
        self.loaded = None;
    }

    /// Makes sure every station named by `sources` is known (those that exist).
    pub async fn load<'a>(
        &mut self,
        conn: &mut PgConnection,
        sources: impl Iterator<Item = &'a Source>,
    ) -> sensors::Result<()> {
        if self.loaded.is_some_and(|t| t.elapsed() > TTL) {
            self.clear();
        }
        let mut codes: Vec<String> = Vec::new();
        let mut ids: Vec<i64> = Vec::new();
        for source in sources {
            match source {
                Source::Code(code) if !self.by_code.contains_key(code) => codes.push(code.clone()),
                Source::Datastream(ds) => {
                    let id = sensors::sta::datastream_station(*ds);
                    if !self.by_id.contains_key(&id) {
                        ids.push(id);
                    }
                }
                _ => {}
            }
        }
        codes.sort_unstable();
        codes.dedup();
        ids.sort_unstable();
        ids.dedup();
        let mut found = Vec::new();
        if !codes.is_empty() {
            found.extend(store::stations_by_code(conn, &codes).await?);
        }
        if !ids.is_empty() {
            found.extend(store::stations_by_id(conn, &ids).await?);
        }
        for s in found {
            self.by_id.insert(s.id, s.clone());
            self.by_code.insert(s.code.clone(), s);
        }
        self.loaded.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// The station a message speaks for, if it exists.
    pub fn get(&self, source: &Source) -> Option<&Station> {
        match source {
            Source::Code(code) => self.by_code.get(code),
            Source::Datastream(ds) => self.by_id.get(&sensors::sta::datastream_station(*ds)),
        }
    }

    /// Every known station.
    pub fn stations(&self) -> impl Iterator<Item = &Station> {
        self.by_id.values()
    }
}
