//! ANNCSU toponymy: the national archive of street names and house numbers (*Archivio Nazionale dei Numeri Civici
//! delle Strade Urbane*, Agenzia delle Entrate / ISTAT), imported from its official bulk files.
//!
//! - `INDIRIZZI` (the *indirizzario*): one row per access (civico), 19 `;`-separated columns, with its street's
//!   fields repeated on every row;
//! - `STRADE` (the *stradario*): one row per street (odonimo), including the streets with no civico.
//!
//! Both are UTF-8 (a BOM is skipped; Latin-1 files are decoded too), with no quoting and a decimal comma. Streets
//! are keyed by `PROGRESSIVO_NAZIONALE`, civici by `PROGRESSIVO_ACCESSO`: importing a newer release computes the
//! difference — added, changed, removed — and applies it in one transaction. Removal is scoped to the comuni the
//! files cover (a Lamezia file never touches Genova), rows that are rejected leave their civico as it was, and
//! streets are removed only when the STRADE file is given (INDIRIZZI alone cannot list the streets without
//! civici).
//!
//! Rows without coordinates are stored (counted in [`AnncsuReport::without_coordinates`]); the geocoder finds them
//! at the representative point of their street, saying so.
//!
//! # Coordinates
//! ANNCSU gives longitude/latitude in ETRF2000 (RDN2008, EPSG:6706); they are stored as EPSG:4326 unchanged.
//! The two frames differ by well under a metre in Italy (PROJ itself treats the pair as a null transformation),
//! below the accuracy of ANNCSU's positions.

pub mod civico;
pub mod odonimo;
mod record;
mod store;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;
use tracing::{info, warn};

use crate::{Error, Result};
use record::{Bulk, CIVICO_REQUIRED, CivicoColumns, STREET_REQUIRED, StreetColumns, StreetRow};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AnncsuReport {
    pub streets_added: u64,
    pub streets_changed: u64,
    pub streets_removed: u64,
    pub civici_added: u64,
    pub civici_changed: u64,
    pub civici_removed: u64,
    /// Civici of the file with no coordinates (stored all the same).
    pub without_coordinates: u64,
    /// Rows refused, by line number, with the reason; the reason names the file (`strade:` or `indirizzi:`).
    pub rejected: Vec<(u64, String)>,
}

impl AnncsuReport {
    /// Whether the import changed anything.
    pub fn changed_anything(&self) -> bool {
        self.streets_added
            + self.streets_changed
            + self.streets_removed
            + self.civici_added
            + self.civici_changed
            + self.civici_removed
            > 0
    }
}

/// Bumped by every import of this process that changed something, so that the geocoders of this process reload
/// at once (other processes see `toponymy.revision`).
pub(crate) static LOCAL_REVISION: AtomicU64 = AtomicU64::new(0);

/// Rows per progress report and size of a COPY chunk.
const CHUNK_BYTES: usize = 1 << 20;

/// What the reading thread found besides the civici it streamed.
#[derive(Debug, Default)]
struct Parsed {
    streets: HashMap<i64, StreetRow>,
    rejected: Vec<(u64, String)>,
    /// Keys of rejected rows that could be read: their stored rows are left as they are.
    kept_civici: Vec<i64>,
    kept_streets: Vec<i64>,
    rows: u64,
    /// Civici whose street fields disagree with an earlier row or the STRADE file (the first wins).
    street_conflicts: u64,
}

/// Imports an ANNCSU release: `indirizzi` (INDIRIZZI, the civici) and optionally `strade` (STRADE, the streets)
/// of one or more comuni. `progress` is called with the number of INDIRIZZI rows read so far.
///
/// A second import of the same files changes nothing and reports zeros.
pub async fn import(
    pool: &PgPool,
    indirizzi: &Path,
    strade: Option<&Path>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<AnncsuReport> {
    let started_at = chrono::Utc::now();
    let (sender, mut chunks) = tokio::sync::mpsc::channel::<(String, u64)>(4);
    let reader = {
        let indirizzi = indirizzi.to_path_buf();
        let strade = strade.map(Path::to_path_buf);
        tokio::task::spawn_blocking(move || read_files(&indirizzi, strade.as_deref(), &sender))
    };

    let mut tx = pool.begin().await?;
    // One import at a time: two would each remove what the other adds.
    sqlx::query("select pg_advisory_xact_lock(hashtext('vedetta.toponymy.import'))")
        .execute(&mut *tx)
        .await?;
    store::create_staging(&mut tx).await?;
    let mut copy = tx.copy_in_raw(store::CIVICO_COPY).await?;
    let mut send_error = None;
    while let Some((chunk, rows)) = chunks.recv().await {
        if let Err(e) = copy.send(chunk.into_bytes()).await {
            send_error = Some(e);
            break;
        }
        progress(rows);
    }
    drop(chunks);
    let parsed = match reader.await {
        Ok(Ok(parsed)) if send_error.is_none() => parsed,
        outcome => {
            let _ = copy.abort("the import failed").await;
            return Err(match (send_error, outcome) {
                (Some(e), _) => e.into(),
                (None, Ok(Err(e))) => e,
                (None, Err(join)) => Error::Import(format!("the ANNCSU reader failed: {join}")),
                (None, Ok(Ok(_))) => unreachable!("handled above"),
            });
        }
    };
    copy.finish().await?;
    progress(parsed.rows);

    let mut streets: Vec<&StreetRow> = parsed.streets.values().collect();
    streets.sort_by_key(|s| s.progressivo_nazionale);
    let mut buffer = String::with_capacity(streets.len() * 96);
    for street in streets {
        store::street_copy_line(&mut buffer, street);
    }
    let mut copy = tx.copy_in_raw(store::STREET_COPY).await?;
    copy.send(buffer.into_bytes()).await?;
    copy.finish().await?;

    let mut report = AnncsuReport { rejected: parsed.rejected, ..AnncsuReport::default() };
    report.rejected.extend(
        store::reject_duplicates(&mut tx)
            .await?
            .into_iter()
            .map(|(line, reason)| (line, format!("indirizzi: {reason}"))),
    );
    report.rejected.sort();
    if !parsed.kept_civici.is_empty() {
        // Rejected rows keep their civico as it was: stage it unchanged.
        sqlx::query(
            "insert into anncsu_civico (line, progressivo_accesso, progressivo_nazionale, codice_comunale_accesso,
                 numero, esponente, specificita, metrico, progressivo_snc, quota, metodo, lon, lat)
             select 0, c.progressivo_accesso, c.progressivo_nazionale, c.codice_comunale_accesso, c.numero,
                    c.esponente, c.specificita, c.metrico, c.progressivo_snc, c.quota, c.metodo,
                    st_x(c.geom), st_y(c.geom)
             from toponymy.civico c
             where c.progressivo_accesso = any($1)
               and not exists (select 1 from anncsu_civico t where t.progressivo_accesso = c.progressivo_accesso)",
        )
        .bind(&parsed.kept_civici)
        .execute(&mut *tx)
        .await?;
    }
    if !parsed.kept_streets.is_empty() {
        sqlx::query(
            "insert into anncsu_street (progressivo_nazionale, belfiore, istat, codice_comunale, odonimo, dug,
                 denominazione, localita, dizione_lingua1, dizione_lingua2, totale_accessi, line)
             select s.progressivo_nazionale, s.belfiore, s.istat, s.codice_comunale, s.odonimo, s.dug,
                    s.denominazione, s.localita, s.dizione_lingua1, s.dizione_lingua2, s.totale_accessi, 0
             from toponymy.street s
             where s.progressivo_nazionale = any($1)
               and not exists (select 1 from anncsu_street t where t.progressivo_nazionale = s.progressivo_nazionale)",
        )
        .bind(&parsed.kept_streets)
        .execute(&mut *tx)
        .await?;
    }
    // Civici whose street was rejected (or kept unchanged) need that street staged too.
    sqlx::query(
        "insert into anncsu_street (progressivo_nazionale, belfiore, istat, codice_comunale, odonimo, dug,
             denominazione, localita, dizione_lingua1, dizione_lingua2, totale_accessi, line)
         select s.progressivo_nazionale, s.belfiore, s.istat, s.codice_comunale, s.odonimo, s.dug,
                s.denominazione, s.localita, s.dizione_lingua1, s.dizione_lingua2, s.totale_accessi, 0
         from toponymy.street s
         where s.progressivo_nazionale in (select progressivo_nazionale from anncsu_civico)
           and not exists (select 1 from anncsu_street t where t.progressivo_nazionale = s.progressivo_nazionale)",
    )
    .execute(&mut *tx)
    .await?;

    let comuni = store::staged_comuni(&mut tx).await?;
    store::apply(&mut tx, &comuni, strade.is_some(), &mut report).await?;
    let changed = report.changed_anything();
    if changed {
        store::derive_streets(&mut tx, &comuni).await?;
        store::bump_revision(&mut tx).await?;
    }
    sqlx::query(
        "insert into toponymy.import_run (indirizzi, strade, comuni, streets_added, streets_changed,
             streets_removed, civici_added, civici_changed, civici_removed, without_coordinates, rejected,
             started_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(indirizzi.display().to_string())
    .bind(strade.map(|s| s.display().to_string()))
    .bind(&comuni)
    .bind(report.streets_added as i64)
    .bind(report.streets_changed as i64)
    .bind(report.streets_removed as i64)
    .bind(report.civici_added as i64)
    .bind(report.civici_changed as i64)
    .bind(report.civici_removed as i64)
    .bind(report.without_coordinates as i64)
    .bind(report.rejected.len() as i64)
    .bind(started_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if changed {
        LOCAL_REVISION.fetch_add(1, Ordering::SeqCst);
    }
    if parsed.street_conflicts > 0 {
        warn!(
            conflicts = parsed.street_conflicts,
            "Some civici repeat their street with other fields; the STRADE file or the first row wins."
        );
    }
    info!(
        comuni = comuni.join(","),
        streets_added = report.streets_added,
        streets_changed = report.streets_changed,
        streets_removed = report.streets_removed,
        civici_added = report.civici_added,
        civici_changed = report.civici_changed,
        civici_removed = report.civici_removed,
        without_coordinates = report.without_coordinates,
        rejected = report.rejected.len(),
        "ANNCSU imported."
    );
    Ok(report)
}

/// Reads STRADE then INDIRIZZI (on a blocking thread), streaming the civici as COPY text to `sender`.
fn read_files(
    indirizzi: &Path,
    strade: Option<&Path>,
    sender: &tokio::sync::mpsc::Sender<(String, u64)>,
) -> Result<Parsed> {
    let mut parsed = Parsed::default();
    if let Some(strade) = strade {
        let mut bulk = Bulk::open(strade, "STRADE", &STREET_REQUIRED)?;
        let columns = StreetColumns::of(&bulk);
        let key_column = bulk.column("PROGRESSIVO_NAZIONALE");
        while let Some(row) = bulk.next_row()? {
            match columns.read(&row) {
                Ok(street) => match parsed.streets.entry(street.progressivo_nazionale) {
                    Entry::Vacant(slot) => {
                        slot.insert(street);
                    }
                    Entry::Occupied(first) => parsed.rejected.push((
                        row.line,
                        format!(
                            "strade: PROGRESSIVO_NAZIONALE {} repeats line {}; this row is ignored",
                            street.progressivo_nazionale,
                            first.get().line
                        ),
                    )),
                },
                Err(reason) => {
                    parsed.kept_streets.extend(key_of(&row, key_column));
                    parsed.rejected.push((row.line, format!("strade: {reason}")));
                }
            }
        }
    }

    let required: Vec<&str> = STREET_REQUIRED.iter().chain(CIVICO_REQUIRED.iter()).copied().collect();
    let mut bulk = Bulk::open(indirizzi, "INDIRIZZI", &required)?;
    let street_columns = StreetColumns::of(&bulk);
    let civico_columns = CivicoColumns::of(&bulk);
    let access_column = bulk.column("PROGRESSIVO_ACCESSO");
    let mut buffer = String::with_capacity(CHUNK_BYTES + 4096);
    while let Some(row) = bulk.next_row()? {
        parsed.rows += 1;
        let read = street_columns
            .read(&row)
            .and_then(|street| civico_columns.read(&row, street.progressivo_nazionale).map(|c| (street, c)));
        match read {
            Ok((street, civico)) => {
                match parsed.streets.entry(street.progressivo_nazionale) {
                    Entry::Vacant(slot) => {
                        slot.insert(street);
                    }
                    Entry::Occupied(known) => {
                        let k = known.get();
                        if (&k.odonimo, &k.istat, &k.localita)
                            != (&street.odonimo, &street.istat, &street.localita)
                        {
                            parsed.street_conflicts += 1;
                        }
                    }
                }
                store::civico_copy_line(&mut buffer, &civico);
            }
            Err(reason) => {
                parsed.kept_civici.extend(key_of(&row, access_column));
                parsed.rejected.push((row.line, format!("indirizzi: {reason}")));
            }
        }
        if buffer.len() >= CHUNK_BYTES {
            let chunk = std::mem::replace(&mut buffer, String::with_capacity(CHUNK_BYTES + 4096));
            if sender.blocking_send((chunk, parsed.rows)).is_err() {
                return Err(Error::Import("the import was abandoned".into()));
            }
        }
    }
    if !buffer.is_empty() && sender.blocking_send((buffer, parsed.rows)).is_err() {
        return Err(Error::Import("the import was abandoned".into()));
    }
    Ok(parsed)
}

/// The integer key of a rejected row, when it has a readable one.
fn key_of(row: &record::Row<'_>, column: Option<usize>) -> Option<i64> {
    row.get(column).parse().ok()
}
