//! The demo's citizen reports: a storm's worth of segnalazioni over the demo comuni, some already taken in charge,
//! one under way with an intervention, one resolved; filed once (a restarted demo keeps what it has).

use anyhow::Context;
use reports::Status;
use reports::report::{
    Actor, InterventionInput, NewReport, Reporter, ReporterType, Source, TransitionRequest,
};
use sqlx::PgPool;

/// (comune cell fraction x, y inside the demo area, category, description, people at risk, steps taken).
type Seed = (f64, f64, &'static str, &'static str, bool, &'static [Status]);

const SEEDS: [Seed; 12] = [
    (
        0.52,
        0.22,
        "allagamento",
        "Sottopasso allagato, le auto non passano.",
        true,
        &[Status::Acknowledged, Status::InProgress],
    ),
    (
        0.55,
        0.25,
        "caditoia_ostruita",
        "Caditoia piena di foglie davanti al civico.",
        false,
        &[Status::Acknowledged],
    ),
    (
        0.48,
        0.18,
        "buca_stradale",
        "Buca profonda sulla carreggiata, pericolosa per gli scooter.",
        false,
        &[Status::Acknowledged, Status::InProgress, Status::Resolved],
    ),
    (0.58, 0.30, "illuminazione", "Lampione spento da una settimana.", false, &[]),
    (
        0.15,
        0.20,
        "frana",
        "Smottamento sulla strada provinciale dopo la pioggia.",
        true,
        &[Status::Acknowledged],
    ),
    (0.30, 0.15, "alberi_verde", "Ramo caduto sul marciapiede.", false, &[]),
    (0.75, 0.25, "allagamento", "Acqua alta in piazza, i negozi chiedono aiuto.", true, &[]),
    (0.90, 0.20, "rifiuti", "Cassonetti rovesciati dal vento.", false, &[Status::Acknowledged]),
    (0.10, 0.75, "frana", "Massi caduti sulla strada comunale.", false, &[]),
    (0.40, 0.70, "segnaletica", "Cartello di stop abbattuto.", false, &[Status::Rejected]),
    (0.62, 0.80, "caditoia_ostruita", "Tombino che trabocca.", false, &[]),
    (0.85, 0.72, "altro", "Muro di contenimento con crepe nuove.", false, &[]),
];

/// Files the demo reports when the demo has none.
pub async fn seed(pool: &PgPool) -> anyhow::Result<()> {
    let filed: i64 = sqlx::query_scalar("select count(*) from reports.report where comune like '9990%'")
        .fetch_one(pool)
        .await?;
    if filed > 0 {
        return Ok(());
    }
    let geocoder = geodata::geocoder::Geocoder::new(pool.clone());
    let area = sensors::simulation::AREA;
    let office = Actor { account_id: None, name: "Ufficio segnalazioni (demo)".into() };
    for (i, (fx, fy, category, description, at_risk, steps)) in SEEDS.iter().enumerate() {
        let new = NewReport {
            lon: area[0] + (area[2] - area[0]) * fx,
            lat: area[1] + (area[3] - area[1]) * fy,
            category: (*category).into(),
            description: (*description).into(),
            reporter_type: if i % 4 == 3 { ReporterType::Councillor } else { ReporterType::Citizen },
            people_at_risk: *at_risk,
            reporter: Reporter {
                name: Some(format!("Cittadino dimostrativo {}", i + 1)),
                email: Some(format!("cittadino{}@demo.invalid", i + 1)),
                phone: None,
                account_id: None,
            },
            anonymous: i % 5 == 4,
            attributes: serde_json::Map::new(),
            media_url: None,
            source: Source::Web,
            photos: Vec::new(),
            jurisdiction: None,
        };
        let created = reports::report::create(pool, &geocoder, new)
            .await
            .with_context(|| format!("while filing demo report {}", i + 1))?;
        let id = created.report.public.id;
        for step in *steps {
            let mut request = TransitionRequest::to(*step);
            match step {
                Status::Acknowledged => {
                    request.public_note = Some("Presa in carico dalla squadra di zona.".into())
                }
                Status::Resolved => request.public_note = Some("Intervento concluso.".into()),
                Status::Rejected => {
                    request.reason = Some("Segnaletica di competenza della Provincia.".into())
                }
                _ => {}
            }
            reports::report::transition(pool, id, &request, &office).await?;
            if *step == Status::InProgress {
                let intervention = InterventionInput {
                    team: Some("Squadra manutenzione 2".into()),
                    scheduled_for: Some(chrono::Utc::now().date_naive()),
                    ..InterventionInput::default()
                };
                reports::report::add_intervention(pool, id, &intervention, &office).await?;
            }
        }
    }
    Ok(())
}
