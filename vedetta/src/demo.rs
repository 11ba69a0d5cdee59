//! `vedetta demo`: a generated territory, so that the demo needs no external data (the real open data of the
//! tests is never copied into Vedetta). Each capability adds its part; everything here is idempotent.

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::PgPool;
use tracing::info;

/// The demo territory: one fictitious comune over the simulated stations, and a zoning plan with a variant.
pub async fn seed(pool: &PgPool) -> anyhow::Result<()> {
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
    info!("Demo territory ready.");
    Ok(())
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}
