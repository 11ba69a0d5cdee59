//! Building the street index from `toponymy` (and the comuni names and points from `core.comune`).

use sqlx::PgPool;

use super::index::{Index, IndexBuilder, StreetInput};
use crate::Result;

/// Streets per round trip while loading.
const PAGE: i64 = 50_000;

type ComuneRow = (String, String, Option<String>, Option<f64>, Option<f64>);

type StreetRow = (i64, String, String, String, String, String, String, String, i32, Option<f64>, Option<f64>);

/// Reads the revision, then the comuni and the streets, into a new index.
pub(crate) async fn load(pool: &PgPool) -> Result<Index> {
    let revision: i64 = sqlx::query_scalar("select revision from toponymy.revision").fetch_one(pool).await?;
    let mut builder = IndexBuilder::default();
    let comuni: Vec<ComuneRow> = sqlx::query_as(
        "with p as (select istat, min(belfiore) as belfiore from toponymy.street group by istat)
         select p.istat, p.belfiore, c.name, st_x(st_pointonsurface(c.geom)), st_y(st_pointonsurface(c.geom))
         from p left join core.comune c using (istat)
         order by p.istat",
    )
    .fetch_all(pool)
    .await?;
    for (istat, belfiore, name, x, y) in comuni {
        builder.add_comune(&istat, &belfiore, name.as_deref(), x.zip(y));
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
    Ok(builder.build(revision))
}
