//! `vedetta demo`: a generated territory, so that the demo needs no external data (the real open data of the
//! tests is never copied into Vedetta). Each capability adds its part; everything here is idempotent.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::PgPool;
use tracing::info;

/// The demo territory: one fictitious comune over the simulated stations, its streets and house numbers, and a
/// zoning plan with a variant.
pub async fn seed(pool: &PgPool, data_dir: &Path) -> anyhow::Result<()> {
    let comune = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": rect(8.70, 44.36, 9.20, 44.52),
        "properties": {"com_istat_code": "999001", "com_catasto_code": "Z999", "name": "Comune dimostrativo",
                       "prov_acr": "DM", "reg_name": "Demo"}
    }]});
    geodata::comune::import(pool, &comune).await.context("while seeding the demo comune")?;

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
    info!("Demo territory ready.");
    Ok(())
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
