//! `vedetta demo`: a generated territory, so that the demo needs no external data (the real open data of the
//! tests is never copied into Vedetta). Each capability adds its part; everything here is idempotent.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::PgPool;
use tracing::info;

/// The demo territory: ten fictitious comuni tiling the area of the simulated stations (a city on the coast, its
/// neighbours along the shore and inland), its alert zones A–E made of groups of those comuni, the city's streets and
/// house numbers, and a zoning plan with a variant.
/// The demo's civil-protection operator, so that `/protezione-civile` can be tried at once.
pub const OPERATOR: &str = "protezione.civile";

/// Creates the demo operator (every comune) the first time; its generated password, to print once.
pub async fn seed_operator(pool: &PgPool) -> anyhow::Result<Option<String>> {
    use webmap::auth::account::{self, NewAccount};
    use webmap::auth::{Grant, Role};
    if account::by_username(pool, OPERATOR).await.map_err(|e| anyhow::anyhow!("{e}"))?.is_some() {
        return Ok(None);
    }
    let password = account::generate_password();
    let new = NewAccount {
        username: OPERATOR.into(),
        display_name: "Sala operativa (demo)".into(),
        email: None,
        password: Some(password.clone()),
        grants: vec![Grant::new(Role::CivilProtection, None)],
    };
    account::create(pool, &new)
        .await
        .map_err(|e| anyhow::anyhow!("while creating the demo operator: {e}"))?;
    Ok(Some(password))
}

pub async fn seed(pool: &PgPool, data_dir: &Path) -> anyhow::Result<()> {
    let comuni: Vec<Value> = COMUNI
        .iter()
        .map(|c| {
            let (x0, x1) = (edge(WEST, COLUMN, c.column), edge(WEST, COLUMN, c.column + 1));
            let (y0, y1) = (edge(SOUTH, ROW, c.row), edge(SOUTH, ROW, c.row + 1));
            json!({"type": "Feature", "geometry": rect(x0, y0, x1, y1),
                   "properties": {"com_istat_code": c.istat, "com_catasto_code": c.belfiore, "name": c.name,
                                  "prov_acr": "DM", "reg_name": "Demo"}})
        })
        .collect();
    let comuni = json!({"type": "FeatureCollection", "features": comuni});
    geodata::comune::import(pool, &comuni).await.context("while seeding the demo comuni")?;
    // Stations of an earlier demo keep their comune only if it still contains them.
    let mut conn = pool.acquire().await.context("while locating the demo stations")?;
    sensors::store::locate_stations(&mut conn).await.context("while locating the demo stations")?;
    drop(conn);
    seed_zones(pool).await?;

    let exists: bool = sqlx::query_scalar(
        "select exists(select 1 from zoning.plan_version where plan = 'PUC dimostrativo')",
    )
    .fetch_one(pool)
    .await?;
    if !exists {
        // A 4 × 2 grid of zones, one per DM 1444/68 class, and a later variant turning a block into a park.
        let classes = ["A", "B", "C", "D", "E", "F", "B", "C"];
        let features: Vec<Value> = classes
            .iter()
            .enumerate()
            .map(|(i, class)| {
                let (col, row) = ((i % 4) as f64, (i / 4) as f64);
                let (x0, y0) = (8.70 + col * 0.125, 44.36 + row * 0.08);
                json!({"type": "Feature", "geometry": rect(x0, y0, x0 + 0.125, y0 + 0.08),
                       "properties": {"zona": format!("{class}{}", i + 1), "zto": class, "nta": format!("art. {}", 10 + i)}})
            })
            .collect();
        let base = json!({"type": "FeatureCollection", "features": features});
        let opts = geodata::zoning::ZoningOptions {
            plan: "PUC dimostrativo".into(),
            version: "2015".into(),
            approved: chrono::NaiveDate::from_ymd_opt(2015, 12, 1).context("a date")?,
            variant_of: None,
            source_file: None,
        };
        geodata::zoning::import(pool, &base, &opts).await.context("while seeding the demo zoning")?;
        let variant = json!({"type": "FeatureCollection", "features": [{"type": "Feature",
            "geometry": rect(8.90, 44.40, 8.95, 44.43), "properties": {"zona": "FV1", "zto": "F", "nta": "art. 40"}}]});
        let opts = geodata::zoning::ZoningOptions {
            version: "Variante parco 2022".into(),
            approved: chrono::NaiveDate::from_ymd_opt(2022, 6, 1).context("a date")?,
            variant_of: Some("2015".into()),
            ..opts
        };
        geodata::zoning::import(pool, &variant, &opts)
            .await
            .context("while seeding the demo zoning variant")?;
    }
    seed_addresses(pool, data_dir).await?;
    crate::demo_reports::seed(pool).await?;
    info!("Demo territory ready.");
    Ok(())
}

/// The demo area (the simulated stations'), cut into five columns and two rows of comuni.
const WEST: f64 = sensors::simulation::AREA[0];
const SOUTH: f64 = sensors::simulation::AREA[1];
const COLUMN: f64 = (sensors::simulation::AREA[2] - WEST) / 5.0;
const ROW: f64 = (sensors::simulation::AREA[3] - SOUTH) / 2.0;

/// A fictitious comune: one cell of the demo area, in one alert zone.
struct DemoComune {
    istat: &'static str,
    belfiore: &'static str,
    name: &'static str,
    /// Cell, from the west and from the south.
    column: u8,
    row: u8,
    /// Alert zone (`ZONES`).
    zone: &'static str,
}

const fn comune(
    istat: &'static str,
    belfiore: &'static str,
    name: &'static str,
    cell: (u8, u8),
    zone: &'static str,
) -> DemoComune {
    DemoComune { istat, belfiore, name, column: cell.0, row: cell.1, zone }
}

/// The comuni of the demo. The city (999001, "Comune dimostrativo") holds the streets and the zoning plan's probe.
const COMUNI: [DemoComune; 10] = [
    comune("999001", "Z999", "Comune dimostrativo", (2, 0), "B"),
    comune("999002", "Z990", "Ponente dimostrativo", (0, 0), "A"),
    comune("999003", "Z991", "Marina dimostrativa", (1, 0), "A"),
    comune("999004", "Z992", "Levante dimostrativo", (3, 0), "C"),
    comune("999005", "Z993", "Riviera dimostrativa", (4, 0), "C"),
    comune("999006", "Z994", "Valle dimostrativa", (0, 1), "D"),
    comune("999007", "Z995", "Colle dimostrativo", (1, 1), "D"),
    comune("999008", "Z996", "Passo dimostrativo", (2, 1), "D"),
    comune("999009", "Z997", "Monte dimostrativo", (3, 1), "E"),
    comune("999010", "Z998", "Alta valle dimostrativa", (4, 1), "E"),
];

/// The demo's alert zones, as Liguria's A–E: the coast west of the city, the city, the coast east of it, and the
/// inland west and east. Each is the group of demo comuni naming it (`DemoComune::zone`).
const ZONES: [(&str, &str); 5] = [
    ("A", "Costa dimostrativa di ponente"),
    ("B", "Centro dimostrativo"),
    ("C", "Costa dimostrativa di levante"),
    ("D", "Entroterra dimostrativo di ponente"),
    ("E", "Entroterra dimostrativo di levante"),
];

/// The alert zones of the demo: each the union of its comuni, every demo comune in exactly one zone.
fn demo_zones() -> Value {
    let features: Vec<Value> = ZONES
        .iter()
        .map(|(code, name)| {
            let comuni: Vec<&str> = COMUNI.iter().filter(|c| c.zone == *code).map(|c| c.istat).collect();
            json!({"type": "Feature", "geometry": null, "properties": {"code": code, "name": name, "comuni": comuni}})
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

async fn seed_zones(pool: &PgPool) -> anyhow::Result<()> {
    alerts::zone::import(pool, &demo_zones(), alerts::zone::Origin::Demo)
        .await
        .context("while seeding the demo alert zones")?;
    Ok(())
}

/// The `i`-th cell edge from `start` by `step` degrees, rounded to 1e-6° so that neighbours share it exactly.
fn edge(start: f64, step: f64, i: u8) -> f64 {
    ((start + f64::from(i) * step) * 1e6).round() / 1e6
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

/// Streets of the demo comune, laid out as parallel lines west to east, with black and (as in Genova) red numbers.
const STREETS: [&str; 10] = [
    "VIA XX SETTEMBRE",
    "VIA GIUSEPPE GARIBALDI",
    "PIAZZA DELLA VITTORIA",
    "CORSO ITALIA",
    "SALITA SAN FRANCESCO",
    "VICO DEL FIERO",
    "VIA IV NOVEMBRE",
    "VIA MASSIMO D'AZEGLIO",
    "CALATA DEL PORTO",
    "VIALE DELLE PALME",
];

/// Writes an ANNCSU bulk file (the official format: `;`, decimal comma) for the demo comune under the data dir and
/// imports it; a later start finds nothing to change.
async fn seed_addresses(pool: &PgPool, data_dir: &Path) -> anyhow::Result<()> {
    let mut csv = String::from(
        "CODICE_COMUNE;CODICE_ISTAT;PROGRESSIVO_NAZIONALE;CODICE_COMUNALE;ODONIMO;LOCALITA';DIZIONE_LINGUA1;DIZIONE_LINGUA2;\
         PROGRESSIVO_ACCESSO;CODICE_COMUNALE_ACCESSO;CIVICO;ESPONENTE;SPECIFICITA;METRICO;PROGRESSIVO_SNC;COORD_X_COMUNE;\
         COORD_Y_COMUNE;QUOTA;METODO\n",
    );
    let mut accesso = 9_000_000;
    for (s, street) in STREETS.iter().enumerate() {
        let lat = 44.400 + s as f64 * 0.002;
        for n in 1..=30u32 {
            for (specificita, offset) in [("", 0.0), ("ROSSO", 0.00004)] {
                if specificita == "ROSSO" && s % 3 != 0 {
                    continue;
                }
                accesso += 1;
                let lon = 8.920 + f64::from(n) * 0.0003;
                let lat = if n % 2 == 0 { lat + 0.0001 } else { lat - 0.0001 } + offset;
                let esponente = if n % 10 == 0 { "A" } else { "" };
                let _ = writeln!(
                    csv,
                    "Z999;999001;{};;{street};;;;{accesso};;{n};{esponente};{specificita};;;{};{};0;4",
                    8_000_000 + s,
                    format!("{lon:.6}").replace('.', ","),
                    format!("{lat:.6}").replace('.', ",")
                );
            }
        }
    }
    let dir = data_dir.join("demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = dir.join("anncsu_demo_indirizzario.csv");
    std::fs::write(&file, csv).with_context(|| format!("cannot write {}", file.display()))?;
    geodata::anncsu::import(pool, &file, None, &|_| {}).await.context("while seeding the demo addresses")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_comune_is_in_exactly_one_zone_and_every_zone_has_comuni() {
        let zones = demo_zones();
        let features = zones["features"].as_array().unwrap();
        for c in &COMUNI {
            let holding = features
                .iter()
                .filter(|f| f["properties"]["comuni"].as_array().unwrap().iter().any(|i| i == c.istat))
                .count();
            assert_eq!(holding, 1, "comune {}", c.istat);
        }
        assert!(features.iter().all(|f| !f["properties"]["comuni"].as_array().unwrap().is_empty()));
    }

    #[test]
    fn the_demo_comuni_tile_the_area_without_gaps() {
        let mut cells: Vec<(u8, u8)> = COMUNI.iter().map(|c| (c.column, c.row)).collect();
        cells.sort_unstable();
        cells.dedup();
        assert_eq!(cells.len(), 10);
        assert_eq!(edge(WEST, COLUMN, 5), 9.2);
        assert_eq!(edge(SOUTH, ROW, 2), 44.52);
    }
}
