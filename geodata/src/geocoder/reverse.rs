//! Reverse geocoding: the nearest civico with a position, in metres on the spheroid, through the geography GiST
//! index of `toponymy.civico`.

use sqlx::PgPool;

use super::{Candidate, MatchKind, ReverseHit};
use crate::Result;
use crate::anncsu::{civico, odonimo};

/// Largest radius a query may ask for, in metres.
pub const MAX_RADIUS_M: f64 = 100_000.0;

#[derive(Debug, sqlx::FromRow)]
struct Nearest {
    numero: Option<i32>,
    esponente: String,
    specificita: String,
    metrico: Option<String>,
    lon: f64,
    lat: f64,
    distance_m: f64,
    odonimo: String,
    localita: String,
    istat: String,
    comune: Option<String>,
}

/// The civico nearest to (`lon`, `lat`) within `radius_m`.
pub(crate) async fn reverse(pool: &PgPool, lon: f64, lat: f64, radius_m: f64) -> Result<Option<ReverseHit>> {
    if !lon.is_finite()
        || !lat.is_finite()
        || !(-180.0..=180.0).contains(&lon)
        || !(-90.0..=90.0).contains(&lat)
    {
        return Ok(None);
    }
    let radius = if radius_m.is_finite() { radius_m.clamp(0.0, MAX_RADIUS_M) } else { 0.0 };
    let nearest: Option<Nearest> = sqlx::query_as(
        "with p as (select st_setsrid(st_makepoint($1, $2), 4326)::geography as g)
         select c.numero, c.esponente, c.specificita, c.metrico, st_x(c.geom) as lon, st_y(c.geom) as lat,
                st_distance(c.geom::geography, p.g) as distance_m, s.odonimo, s.localita, s.istat,
                coalesce(r.name, k.name) as comune
         from p
         cross join lateral (
             select * from toponymy.civico c
             where c.geom is not null and st_dwithin(c.geom::geography, p.g, $3)
             order by c.geom::geography <-> p.g
             limit 1) c
         join toponymy.street s using (progressivo_nazionale)
         left join core.comune k on k.istat = s.istat
         left join core.comune_registry r on r.istat = s.istat",
    )
    .bind(lon)
    .bind(lat)
    .bind(radius)
    .fetch_optional(pool)
    .await?;
    Ok(nearest.map(|n| {
        let street = odonimo::display(&n.odonimo);
        let number = civico::display(n.numero, &n.esponente, &n.specificita, n.metrico.as_deref());
        let comune = n.comune.unwrap_or_else(|| n.istat.clone());
        let mut label = format!("{street} {number}");
        if !n.localita.is_empty() && !n.odonimo.contains(&n.localita) {
            label.push_str(", ");
            label.push_str(&odonimo::display(&n.localita));
        }
        label.push_str(", ");
        label.push_str(&comune);
        ReverseHit {
            civico: Some(Candidate {
                label,
                comune,
                istat: n.istat,
                lon: n.lon,
                lat: n.lat,
                score: 1.0,
                kind: MatchKind::Civico,
                street: street.clone(),
                civico: Some(number),
                note: None,
            }),
            street: Some(street),
            distance_m: (n.distance_m * 100.0).round() / 100.0,
        }
    }))
}
