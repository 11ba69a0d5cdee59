//! Building the street index from `toponymy`, with the comuni's names from ISTAT's list (`core.comune_registry`)
//! and their names and points from their boundaries (`core.comune`).

use sqlx::PgPool;

use super::index::{ComuneInput, Index, IndexBuilder, StreetInput};
use crate::Result;

/// Streets per round trip while loading.
const PAGE: i64 = 50_000;

/// A comune of the streets, with what the list and the boundaries know of it.
#[derive(Debug, sqlx::FromRow)]
struct ComuneRow {
    istat: String,
    belfiore: String,
    /// ISTAT's names: official (`Bolzano/Bozen`), Italian, other language.
    name: Option<String>,
    name_it: Option<String>,
    name_other: Option<String>,
    /// The boundary's name.
    boundary_name: Option<String>,
    province: Option<String>,
    x: Option<f64>,
    y: Option<f64>,
}

type StreetRow = (i64, String, String, String, String, String, String, String, i32, Option<f64>, Option<f64>);

/// Reads the revision, then the comuni and the streets, into a new index.
pub(crate) async fn load(pool: &PgPool) -> Result<Index> {
    let (revision, comuni_revision): (i64, i64) = sqlx::query_as(
        "select t.revision, c.revision from toponymy.revision t cross join core.comune_revision c",
    )
    .fetch_one(pool)
    .await?;
    let mut builder = IndexBuilder::default();
    let comuni: Vec<ComuneRow> = sqlx::query_as(
        "with p as (select istat, min(belfiore) as belfiore from toponymy.street group by istat)
         select p.istat, p.belfiore, r.name, r.name_it, r.name_other, c.name as boundary_name,
                coalesce(r.province_acronym, c.province_acronym) as province,
                st_x(st_pointonsurface(c.geom)) as x, st_y(st_pointonsurface(c.geom)) as y
         from p left join core.comune c using (istat) left join core.comune_registry r using (istat)
         order by p.istat",
    )
    .fetch_all(pool)
    .await?;
    for c in comuni {
        let names = [c.name, c.name_it, c.name_other, c.boundary_name].into_iter().flatten().collect();
        builder.add_comune_with(ComuneInput {
            istat: c.istat,
            belfiore: c.belfiore,
            names,
            province: c.province,
            point: c.x.zip(c.y),
        });
    }
    let mut after = i64::MIN;
    loop {
        let rows: Vec<StreetRow> = sqlx::query_as(
            "select progressivo_nazionale, istat, dug, denominazione, odonimo, localita, dizione_lingua1,
                    dizione_lingua2, civici, st_x(geom), st_y(geom)
             from toponymy.street
             where progressivo_nazionale > $1
             order by progressivo_nazionale
             limit $2",
        )
        .bind(after)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let full = rows.len() as i64 == PAGE;
        for (id, istat, dug, denominazione, odonimo, localita, lingua1, lingua2, civici, x, y) in rows {
            builder.add_street(StreetInput {
                id,
                istat,
                dug,
                denominazione,
                odonimo,
                localita,
                lingua: vec![lingua1, lingua2],
                point: x.zip(y),
                civici: civici.max(0) as u32,
            });
        }
        if !full {
            break;
        }
    }
    let mut index = builder.build(revision);
    index.comuni_revision = comuni_revision;
    Ok(index)
}
