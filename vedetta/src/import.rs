//! `vedetta import …`: every importer has the same shape — read the file, hand it to the domain crate, print
//! what was created, updated and refused (Italian first), exit 1 when anything was refused.

use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::Import;
use crate::config::Config;
use crate::database::{Database, Owner};

/// Runs one import against the configured database (or the private cluster of the data dir).
pub async fn run(what: Import, config: Config) -> anyhow::Result<()> {
    let db = Database::open(&config, Owner::Command("vedetta import")).await?;
    let result = async {
        ::database::migrate(&db.pool).await.context("while migrating the database")?;
        let layers = layers_of(&what);
        // Announced even when some rows were refused: the others are in.
        let outcome = match what {
            Import::Stations { file } => stations(&db, &file).await,
            Import::Comuni { files } => {
                for file in files {
                    comuni(&db, &file).await?;
                }
                Ok(())
            }
            Import::Anncsu { indirizzi, strade } => anncsu(&db, &indirizzi, strade.as_deref()).await,
            Import::Dbt { paths, comune, crs, release } => {
                let opts = geodata::dbt::DbtOptions { comune, crs, release, valid_from: None };
                dbt(&db, &paths, &opts).await
            }
            Import::Zones { file } => zones(&db, &file).await,
            Import::Zoning { file, plan, version, approved, variant_of } => {
                let opts = geodata::zoning::ZoningOptions {
                    plan,
                    version,
                    approved,
                    variant_of,
                    source_file: Some(file.display().to_string()),
                };
                zoning(&db, &file, &opts).await
            }
        };
        announce(&db.pool, layers).await?;
        outcome
    }
    .await;
    db.close().await?;
    result
}

fn read_json(file: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

/// Prints the refused items and fails when there are any.
fn refused(file: &Path, invalid: &[(usize, String)]) -> anyhow::Result<()> {
    for (index, reason) in invalid {
        println!("scartata / invalid  feature {index}: {reason}");
    }
    if !invalid.is_empty() {
        bail!("{} invalid feature(s) in {}", invalid.len(), file.display());
    }
    Ok(())
}

async fn stations(db: &Database, file: &Path) -> anyhow::Result<()> {
    let json = read_json(file)?;
    let report = sensors::import::stations(&db.pool, &json)
        .await
        .with_context(|| format!("while importing {}", file.display()))?;
    for code in &report.created {
        println!("creata / created  {code}");
    }
    for code in &report.updated {
        println!("aggiornata / updated  {code}");
    }
    let (c, u, i) = (report.created.len(), report.updated.len(), report.invalid.len());
    println!("{c} create, {u} aggiornate, {i} scartate / {c} created, {u} updated, {i} invalid");
    refused(file, &report.invalid)
}

/// A boundary GeoJSON or ISTAT's list of comuni (told apart by content), in any order: they complete each other.
async fn comuni(db: &Database, file: &Path) -> anyhow::Result<()> {
    if geodata::comune::ComuniFile::of(file)? == geodata::comune::ComuniFile::IstatList {
        return comuni_list(db, file).await;
    }
    let json = read_json(file)?;
    let report = geodata::comune::import(&db.pool, &json)
        .await
        .with_context(|| format!("while importing {}", file.display()))?;
    // Stations belong to `sensors`: it locates them again, through the `core.comune_at` contract.
    let mut conn = db.pool.acquire().await.context("while locating the stations")?;
    let located = sensors::store::locate_stations(&mut conn).await.context("while locating the stations")?;
    let (c, u, i, s) = (report.created, report.updated, report.invalid.len(), located);
    println!(
        "{}: {c} comuni creati, {u} aggiornati, {i} scartati; {s} stazioni ricollocate / \
         {c} comuni created, {u} updated, {i} invalid; {s} stations relocated",
        file.display()
    );
    refused(file, &report.invalid)
}

async fn comuni_list(db: &Database, file: &Path) -> anyhow::Result<()> {
    let r = geodata::comune::import_list(&db.pool, file)
        .await
        .with_context(|| format!("while importing {}", file.display()))?;
    let (n, c, u, k, b, i) = (r.rows, r.created, r.updated, r.unchanged, r.with_boundary, r.invalid.len());
    println!(
        "{}: elenco ISTAT, {n} comuni: {c} nuovi, {u} aggiornati, {k} invariati, {i} scartati; {b} con confini / \
         ISTAT list, {n} comuni: {c} created, {u} updated, {k} unchanged, {i} invalid; {b} with boundaries",
        file.display()
    );
    for (line, reason) in &r.invalid {
        println!("scartata / invalid  line {line}: {reason}");
    }
    if !r.invalid.is_empty() {
        bail!("{i} invalid row(s) in {}", file.display());
    }
    Ok(())
}

/// Alert zones: all or nothing, so a refusal lists every problem and nothing is written.
async fn zones(db: &Database, file: &Path) -> anyhow::Result<()> {
    let json = read_json(file)?;
    let summary = match alerts::zone::import_geojson(&db.pool, &json).await {
        Ok(summary) => summary,
        Err(alerts::Error::InvalidZones { problems }) => {
            for problem in &problems {
                println!("scartata / invalid  {problem}");
            }
            bail!("{} problem(s) in {}: nothing imported", problems.len(), file.display());
        }
        Err(e) => return Err(e).with_context(|| format!("while importing {}", file.display())),
    };
    for code in &summary.added {
        println!("aggiunta / added  {code}");
    }
    for code in &summary.updated {
        println!("aggiornata / updated  {code}");
    }
    let (a, u, k) = (summary.added.len(), summary.updated.len(), summary.unchanged.len());
    println!(
        "{}: {a} zone aggiunte, {u} aggiornate, {k} invariate / {a} added, {u} updated, {k} unchanged",
        file.display()
    );
    Ok(())
}

async fn zoning(db: &Database, file: &Path, opts: &geodata::zoning::ZoningOptions) -> anyhow::Result<()> {
    let json = read_json(file)?;
    let report = geodata::zoning::import(&db.pool, &json, opts)
        .await
        .with_context(|| format!("while importing {}", file.display()))?;
    let (z, r, i) = (report.zones, report.repaired, report.invalid.len());
    println!(
        "{} {}: {z} zone importate ({r} geometrie riparate), {i} scartate / {z} zones imported ({r} geometries repaired), {i} invalid",
        opts.plan, opts.version
    );
    refused(file, &report.invalid)
}

async fn dbt(
    db: &Database,
    paths: &[std::path::PathBuf],
    opts: &geodata::dbt::DbtOptions,
) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {wide_bar} {pos}/{len} oggetti · {per_sec} · {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report =
        geodata::dbt::import(&db.pool, paths, opts, &progress).await.context("while importing the DBT")?;
    bar.finish_and_clear();
    let mut rejected = 0;
    for c in &report.classes {
        println!(
            "{} ({}, {}): {} oggetti — {} aggiunti, {} modificati, {} rimossi, {} invariati, {} riparati, {} scartati / \
             {} features — {} added, {} changed, {} removed, {} unchanged, {} repaired, {} rejected",
            c.class,
            c.file,
            c.crs,
            c.features,
            c.added,
            c.changed,
            c.removed,
            c.unchanged,
            c.repaired,
            c.rejected.len(),
            c.features,
            c.added,
            c.changed,
            c.removed,
            c.unchanged,
            c.repaired,
            c.rejected.len()
        );
        for note in &c.notes {
            println!("  nota / note: {note}");
        }
        for (index, reason) in &c.rejected {
            println!("  scartato / rejected  feature {index}: {reason}");
        }
        rejected += c.rejected.len();
    }
    if rejected > 0 {
        bail!("{rejected} feature(s) rejected");
    }
    Ok(())
}

async fn anncsu(db: &Database, indirizzi: &Path, strade: Option<&Path>) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} righe · {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let progress = |done: u64| bar.set_position(done);
    let report = geodata::anncsu::import(&db.pool, indirizzi, strade, &progress)
        .await
        .with_context(|| format!("while importing {}", indirizzi.display()))?;
    bar.finish_and_clear();
    println!(
        "strade: {} aggiunte, {} modificate, {} rimosse; civici: {} aggiunti, {} modificati, {} rimossi, {} senza coordinate / \
         streets: {} added, {} changed, {} removed; house numbers: {} added, {} changed, {} removed, {} without coordinates",
        report.streets_added,
        report.streets_changed,
        report.streets_removed,
        report.civici_added,
        report.civici_changed,
        report.civici_removed,
        report.without_coordinates,
        report.streets_added,
        report.streets_changed,
        report.streets_removed,
        report.civici_added,
        report.civici_changed,
        report.civici_removed,
        report.without_coordinates
    );
    for (line, reason) in &report.rejected {
        println!("  scartata / rejected  line {line}: {reason}");
    }
    if !report.rejected.is_empty() {
        bail!("{} row(s) rejected in {}", report.rejected.len(), indirizzi.display());
    }
    Ok(())
}

/// The map layers an import changes (what tile caches drop when it finishes).
fn layers_of(what: &Import) -> &'static [&'static str] {
    match what {
        Import::Stations { .. } => &["stations"],
        Import::Comuni { .. } => &["comuni"],
        Import::Anncsu { .. } => &["civici", "streets"],
        Import::Dbt { .. } => &["dbt"],
        Import::Zones { .. } => &["alert_zones"],
        Import::Zoning { .. } => &["zoning"],
    }
}

/// Tells every Vedetta process that the import finished: an `import.finished` event on the live-event spine,
/// `{"layers": [...]}` (tile caches drop those layers).
async fn announce(pool: &sqlx::PgPool, layers: &[&str]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("while announcing the import")?;
    let event = ::database::event::NewEvent::new(
        "import.finished",
        layers.first().map(|l| (*l).to_string()),
        serde_json::json!({ "layers": layers }),
    );
    ::database::event::append(&mut tx, &[event]).await.context("while announcing the import")?;
    tx.commit().await.context("while announcing the import")?;
    Ok(())
}
