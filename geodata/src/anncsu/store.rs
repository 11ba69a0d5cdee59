//! Applying an ANNCSU release to `toponymy`: the rows go to temporary staging tables with `COPY`, then a handful of
//! set-based statements compute and apply the difference by PROGRESSIVO_NAZIONALE (streets) and
//! PROGRESSIVO_ACCESSO (civici), within the comuni the files cover.

use std::fmt::Write;

use sqlx::PgConnection;

use super::AnncsuReport;
use super::record::{CivicoRow, StreetRow};
use crate::Result;

/// Creates the staging tables (dropped at commit).
pub(crate) async fn create_staging(conn: &mut PgConnection) -> Result<()> {
    sqlx::query(
        "create temp table anncsu_street (
            progressivo_nazionale bigint not null, belfiore text not null, istat text not null,
            codice_comunale text not null, odonimo text not null, dug text not null, denominazione text not null,
            localita text not null, dizione_lingua1 text not null, dizione_lingua2 text not null,
            totale_accessi integer, line bigint not null
        ) on commit drop",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "create temp table anncsu_civico (
            line bigint not null, progressivo_accesso bigint not null, progressivo_nazionale bigint not null,
            codice_comunale_accesso text not null, numero integer, esponente text not null,
            specificita text not null, metrico text, progressivo_snc bigint, quota double precision,
            metodo smallint, lon double precision, lat double precision
        ) on commit drop",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `COPY … FROM STDIN` statement of the civico staging table, whose rows [`civico_copy_line`] writes.
pub(crate) const CIVICO_COPY: &str = "copy anncsu_civico (line, progressivo_accesso, progressivo_nazionale, \
     codice_comunale_accesso, numero, esponente, specificita, metrico, progressivo_snc, quota, metodo, lon, lat) \
     from stdin";

/// `COPY … FROM STDIN` statement of the street staging table, whose rows [`street_copy_line`] writes.
pub(crate) const STREET_COPY: &str = "copy anncsu_street (progressivo_nazionale, belfiore, istat, codice_comunale, \
     odonimo, dug, denominazione, localita, dizione_lingua1, dizione_lingua2, totale_accessi, line) from stdin";

/// A text field of the COPY text format.
fn text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn opt<T: std::fmt::Display>(out: &mut String, v: Option<T>) {
    match v {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("\\N"),
    }
}

/// Appends a civico to a COPY buffer.
pub(crate) fn civico_copy_line(out: &mut String, c: &CivicoRow) {
    let _ = write!(out, "{}\t{}\t{}\t", c.line, c.progressivo_accesso, c.progressivo_nazionale);
    text(out, &c.codice_comunale_accesso);
    out.push('\t');
    opt(out, c.number.numero);
    out.push('\t');
    text(out, &c.number.esponente);
    out.push('\t');
    text(out, &c.number.specificita);
    out.push('\t');
    match &c.number.metrico {
        Some(m) => text(out, m),
        None => out.push_str("\\N"),
    }
    out.push('\t');
    opt(out, c.progressivo_snc);
    out.push('\t');
    opt(out, c.quota);
    out.push('\t');
    opt(out, c.metodo);
    out.push('\t');
    opt(out, c.point.map(|p| p.0));
    out.push('\t');
    opt(out, c.point.map(|p| p.1));
    out.push('\n');
}

/// Appends a street to a COPY buffer.
pub(crate) fn street_copy_line(out: &mut String, s: &StreetRow) {
    let _ = write!(out, "{}\t", s.progressivo_nazionale);
    for field in [
        &s.belfiore,
        &s.istat,
        &s.codice_comunale,
        &s.odonimo,
        &s.dug,
        &s.denominazione,
        &s.localita,
        &s.lingua1,
        &s.lingua2,
    ] {
        text(out, field);
        out.push('\t');
    }
    opt(out, s.totale_accessi);
    let _ = writeln!(out, "\t{}", s.line);
}

/// Removes repeated PROGRESSIVO_ACCESSO from the staging table (the first line wins) and returns them as
/// rejected rows.
pub(crate) async fn reject_duplicates(conn: &mut PgConnection) -> Result<Vec<(u64, String)>> {
    sqlx::query("create index on anncsu_civico (progressivo_accesso)").execute(&mut *conn).await?;
    sqlx::query("analyze anncsu_civico").execute(&mut *conn).await?;
    sqlx::query("analyze anncsu_street").execute(&mut *conn).await?;
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "with ranked as (
             select line, progressivo_accesso,
                    min(line) over (partition by progressivo_accesso) as first_line
             from anncsu_civico
             where progressivo_accesso in (
                 select progressivo_accesso from anncsu_civico group by 1 having count(*) > 1))
         delete from anncsu_civico c using ranked r
         where c.line = r.line and r.line > r.first_line
         returning c.line, c.progressivo_accesso, r.first_line",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(line, key, first)| {
            (line as u64, format!("PROGRESSIVO_ACCESSO {key} repeats line {first}; this row is ignored"))
        })
        .collect())
}

/// The comuni (ISTAT codes) the staged files cover.
pub(crate) async fn staged_comuni(conn: &mut PgConnection) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("select distinct istat from anncsu_street order by 1")
        .fetch_all(&mut *conn)
        .await?)
}

/// Applies the staged release and counts what changed. Streets are removed only when the STRADE file was given
/// (`remove_streets`): INDIRIZZI alone does not list the streets with no civico.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    comuni: &[String],
    remove_streets: bool,
    report: &mut AnncsuReport,
) -> Result<()> {
    report.without_coordinates =
        sqlx::query_scalar::<_, i64>("select count(*) from anncsu_civico where lon is null")
            .fetch_one(&mut *conn)
            .await? as u64;

    report.streets_changed = sqlx::query(
        "update toponymy.street s set belfiore = t.belfiore, istat = t.istat, codice_comunale = t.codice_comunale,
             odonimo = t.odonimo, dug = t.dug, denominazione = t.denominazione, localita = t.localita,
             dizione_lingua1 = t.dizione_lingua1, dizione_lingua2 = t.dizione_lingua2,
             totale_accessi = coalesce(t.totale_accessi, s.totale_accessi), updated_at = now()
         from anncsu_street t
         where s.progressivo_nazionale = t.progressivo_nazionale
           and (s.belfiore, s.istat, s.codice_comunale, s.odonimo, s.dug, s.denominazione, s.localita,
                s.dizione_lingua1, s.dizione_lingua2, s.totale_accessi)
               is distinct from
               (t.belfiore, t.istat, t.codice_comunale, t.odonimo, t.dug, t.denominazione, t.localita,
                t.dizione_lingua1, t.dizione_lingua2, coalesce(t.totale_accessi, s.totale_accessi))",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    report.streets_added = sqlx::query(
        "insert into toponymy.street (progressivo_nazionale, belfiore, istat, codice_comunale, odonimo, dug,
             denominazione, localita, dizione_lingua1, dizione_lingua2, totale_accessi)
         select progressivo_nazionale, belfiore, istat, codice_comunale, odonimo, dug, denominazione, localita,
                dizione_lingua1, dizione_lingua2, totale_accessi
         from anncsu_street t
         where not exists (select 1 from toponymy.street s where s.progressivo_nazionale = t.progressivo_nazionale)",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();

    report.civici_changed = sqlx::query(
        "update toponymy.civico c set progressivo_nazionale = t.progressivo_nazionale,
             codice_comunale_accesso = t.codice_comunale_accesso, numero = t.numero, esponente = t.esponente,
             specificita = t.specificita, metrico = t.metrico, progressivo_snc = t.progressivo_snc,
             quota = t.quota, metodo = t.metodo,
             geom = case when t.lon is null then null else st_setsrid(st_makepoint(t.lon, t.lat), 4326) end,
             updated_at = now()
         from anncsu_civico t
         where c.progressivo_accesso = t.progressivo_accesso
           and (c.progressivo_nazionale, c.codice_comunale_accesso, c.numero, c.esponente, c.specificita,
                c.metrico, c.progressivo_snc, c.quota, c.metodo, st_x(c.geom), st_y(c.geom))
               is distinct from
               (t.progressivo_nazionale, t.codice_comunale_accesso, t.numero, t.esponente, t.specificita,
                t.metrico, t.progressivo_snc, t.quota, t.metodo, t.lon, t.lat)",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    report.civici_added = sqlx::query(
        "insert into toponymy.civico (progressivo_accesso, progressivo_nazionale, codice_comunale_accesso, numero,
             esponente, specificita, metrico, progressivo_snc, quota, metodo, geom)
         select progressivo_accesso, progressivo_nazionale, codice_comunale_accesso, numero, esponente,
                specificita, metrico, progressivo_snc, quota, metodo,
                case when lon is null then null else st_setsrid(st_makepoint(lon, lat), 4326) end
         from anncsu_civico t
         where not exists (select 1 from toponymy.civico c where c.progressivo_accesso = t.progressivo_accesso)",
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    report.civici_removed = sqlx::query(
        "delete from toponymy.civico c using toponymy.street s
         where c.progressivo_nazionale = s.progressivo_nazionale and s.istat = any($1)
           and not exists (select 1 from anncsu_civico t where t.progressivo_accesso = c.progressivo_accesso)",
    )
    .bind(comuni)
    .execute(&mut *conn)
    .await?
    .rows_affected();

    if remove_streets {
        report.streets_removed = sqlx::query(
            "delete from toponymy.street s
             where s.istat = any($1)
               and not exists (select 1 from anncsu_street t where t.progressivo_nazionale = s.progressivo_nazionale)",
        )
        .bind(comuni)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(())
}

/// Recomputes the derived columns of the streets of `comuni`: the number of civici and the representative point
/// (the located civico nearest the centroid of the street's located civici — always a real address point, on
/// the street, even when the street bends).
pub(crate) async fn derive_streets(conn: &mut PgConnection, comuni: &[String]) -> Result<()> {
    sqlx::query(
        "with located as (
             select c.progressivo_nazionale, c.geom
             from toponymy.civico c join toponymy.street s using (progressivo_nazionale)
             where s.istat = any($1) and c.geom is not null),
         centre as (
             select progressivo_nazionale, st_centroid(st_collect(geom)) as centre
             from located group by 1),
         pick as (
             select distinct on (l.progressivo_nazionale) l.progressivo_nazionale, l.geom
             from located l join centre m using (progressivo_nazionale)
             order by l.progressivo_nazionale, l.geom <-> m.centre),
         counted as (
             select c.progressivo_nazionale, count(*)::integer as civici
             from toponymy.civico c join toponymy.street s using (progressivo_nazionale)
             where s.istat = any($1) group by 1),
         derived as (
             select s.progressivo_nazionale, coalesce(k.civici, 0) as civici, p.geom
             from toponymy.street s
             left join counted k using (progressivo_nazionale)
             left join pick p using (progressivo_nazionale)
             where s.istat = any($1))
         update toponymy.street s set civici = d.civici, geom = d.geom
         from derived d
         where s.progressivo_nazionale = d.progressivo_nazionale
           and (s.civici, s.geom) is distinct from (d.civici, d.geom)",
    )
    .bind(comuni)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Bumps the revision that geocoders watch.
pub(crate) async fn bump_revision(conn: &mut PgConnection) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "update toponymy.revision set revision = revision + 1, changed_at = now() returning revision",
    )
    .fetch_one(&mut *conn)
    .await?)
}
