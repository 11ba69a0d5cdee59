//! The Markdown report: machine, date, data set, and one row per engine.

use std::fmt::Write as _;
use std::time::Duration;

use geodata::geocoder::IndexStats;

/// What one engine did over the query log.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub engine: String,
    pub latencies: Vec<Duration>,
    /// The latencies of the complete queries alone.
    pub complete_latencies: Vec<Duration>,
    pub total: Duration,
    /// Fully typed queries, and how often the civico sought was first / in the results.
    pub complete: usize,
    pub top1: usize,
    pub top10: usize,
    /// The same for the complete queries that name the comune (filter or text).
    pub with_comune: usize,
    pub with_comune_top1: usize,
    /// Per row of [`crate::workload::typed::ROWS`]: complete queries, and how often the civico sought was first.
    pub by_typing: Vec<(usize, usize)>,
}

/// The run's set-up, for the header of the report.
#[derive(Debug, Clone)]
pub struct Setup {
    pub civici: usize,
    pub streets: usize,
    pub comuni: usize,
    pub file_mb: f64,
    pub import_s: f64,
    pub index: IndexStats,
    pub load_s: f64,
    pub rss_growth_mb: f64,
    pub queries: usize,
    pub complete: usize,
    pub addresses: usize,
    pub server: (String, String),
    pub baseline_index_s: f64,
    pub examples: Vec<String>,
}

/// Nominatim beside Vedetta: its import, and both engines over the same queries.
#[derive(Debug, Clone)]
pub struct Peer {
    pub nominatim_version: String,
    pub osm2pgsql_version: String,
    pub osm_mb: f64,
    pub addresses: usize,
    pub import_s: f64,
    pub stages: Vec<(String, f64)>,
    pub db_mb: f64,
    pub vedetta_db_mb: f64,
    /// `geodata::anncsu::import` + the street index.
    pub vedetta_import_s: f64,
    pub filter: &'static str,
    pub whole_log: bool,
    pub threads: usize,
    /// Queries Nominatim gave up on (its `NOMINATIM_QUERY_TIMEOUT`, 10 s), counted as finding nothing.
    pub timeouts: usize,
    /// Vedetta over the same queries as Nominatim.
    pub vedetta: Outcome,
    pub nominatim: Outcome,
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn percent(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { 100.0 * n as f64 / of as f64 }
}

/// One line for the progress output.
pub fn summary(o: &Outcome) -> String {
    let mut sorted = o.latencies.clone();
    sorted.sort_unstable();
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, top-1 {:.1}%, top-10 {:.1}%",
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.99),
        percent(o.top1, o.complete),
        percent(o.top10, o.complete)
    )
}

fn machine() -> String {
    testkit::Machine::detect().to_string()
}

/// The report.
pub fn markdown(s: &Setup, outcomes: &[Outcome], peer: Option<&Peer>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Geocoder autocomplete — {}", chrono::Local::now().format("%Y-%m-%d %H:%M %Z"));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Machine: {}; PostgreSQL {} + PostGIS {} (the test harness's private cluster, shared_buffers 128 MB), \
         one client, queries one after another.",
        machine(),
        s.server.0,
        s.server.1
    );
    let _ = writeln!(
        out,
        "Data: {} generated civici on {} streets in {} comuni (ANNCSU bulk format, {:.0} MB), imported by \
         `geodata::anncsu::import` in {:.1} s ({:.0} rows/s). Street index: {} streets, {} terms, {:.1} MB \
         (process RSS +{:.0} MB), built in {:.2} s. Baseline pg_trgm indexes built in {:.1} s.",
        s.civici,
        s.streets,
        s.comuni,
        s.file_mb,
        s.import_s,
        s.civici as f64 / s.import_s,
        s.index.streets,
        s.index.terms,
        s.index.bytes as f64 / 1e6,
        s.rss_growth_mb,
        s.load_s,
        s.baseline_index_s
    );
    let _ = writeln!(
        out,
        "Query log: {} queries — {} addresses typed keystroke by keystroke (prefixes at 3, 6, 9 characters and at \
         each word), {} of them complete; 70% with a comune filter (name or ISTAT code), 15% with the comune \
         at the end of the text, 15% without comune (ambiguous: most names exist in several comuni), limit {}.",
        s.queries, s.addresses, s.complete, 10
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| engine | queries | p50 ms | p95 ms | p99 ms | max ms | queries/s | civico sought first | … in top 10 | … first, comune named |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        let mut sorted = o.latencies.clone();
        sorted.sort_unstable();
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.0} | {:.1}% | {:.1}% | {:.1}% |",
            o.engine,
            o.latencies.len(),
            percentile(&sorted, 0.50),
            percentile(&sorted, 0.95),
            percentile(&sorted, 0.99),
            percentile(&sorted, 1.0),
            o.latencies.len() as f64 / o.total.as_secs_f64().max(1e-9),
            percent(o.top1, o.complete),
            percent(o.top10, o.complete),
            percent(o.with_comune_top1, o.with_comune)
        );
    }
    if let Some(vedetta) = outcomes.first() {
        let mut sorted = vedetta.latencies.clone();
        sorted.sort_unstable();
        let p99 = percentile(&sorted, 0.99);
        let verdict = if p99 <= 20.0 { "PASS" } else { "MISSED" };
        let _ = writeln!(out);
        if s.civici >= 1_000_000 {
            let _ = writeln!(
                out,
                "Target p99 ≤ 20 ms for Vedetta over ≥ 1,000,000 civici: **{verdict}** ({p99:.2} ms)."
            );
        } else {
            let _ = writeln!(
                out,
                "Vedetta p99 {p99:.2} ms ({verdict} against ≤ 20 ms; the target is stated over ≥ 1,000,000 civici: \
                 `--civici 1000000`)."
            );
        }
    }
    if let Some(peer) = peer {
        peer_section(&mut out, s, peer);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Examples of complete queries: {}",
        s.examples.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
    );
    out
}

fn ratio(nominatim: f64, vedetta: f64) -> String {
    if vedetta > 0.0 { format!("{:.1}×", nominatim / vedetta) } else { "–".to_string() }
}

/// A ratio of shares, with the difference in percentage points.
fn share_ratio(nominatim: f64, vedetta: f64) -> String {
    if vedetta > 0.0 {
        format!("{:.2}× ({:+.1} points)", nominatim / vedetta, nominatim - vedetta)
    } else {
        "–".to_string()
    }
}

fn peer_section(out: &mut String, s: &Setup, p: &Peer) {
    let (mut v, mut n) = (p.vedetta.latencies.clone(), p.nominatim.latencies.clone());
    v.sort_unstable();
    n.sort_unstable();
    let _ = writeln!(out);
    let _ = writeln!(out, "#### Nominatim beside Vedetta");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Nominatim {} (`nominatim-db` + `nominatim-api` from PyPI, ICU tokenizer, default settings) with osm2pgsql \
         {}, in a database of the same PostgreSQL cluster. Data: the same civici as {} OSM address nodes \
         (`addr:street`, `addr:housenumber` as `12`, `12/A`, `12 bis`, red numbers `12r`, `addr:city`; the civici \
         without coordinates cannot be mapped), {} streets as `highway=residential` ways, {} comuni as \
         `admin_level=8` boundaries (the same boxes as `core.comune`), OSM XML of {:.0} MB. Import: `nominatim import \
         --offline --no-updates --no-partitions --threads {}` (creates the database, loads osm2pgsql's output, \
         indexes, builds the search indexes). Queries: {} ({}), through Nominatim's Python library in-process \
         (`NominatimAPIAsync.search` with address details and localised names, as its HTTP `/search` does before \
         formatting; no HTTP), one client, one after another, after the same warm-up; a query's comune filter \
         reaches Nominatim as {}. Scoring as above: the civico sought is the first result (its OSM node).",
        p.nominatim_version,
        p.osm2pgsql_version,
        p.addresses,
        s.streets,
        s.comuni,
        p.osm_mb,
        p.threads,
        p.nominatim.latencies.len(),
        if p.whole_log { "the whole log" } else { "an even sample of the log, the same for both" },
        p.filter
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| over the same {} queries | Vedetta | Nominatim | Nominatim ÷ Vedetta |",
        p.nominatim.latencies.len()
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (what, q) in [("p50 latency, ms", 0.50), ("p95 latency, ms", 0.95), ("p99 latency, ms", 0.99)] {
        let (a, b) = (percentile(&v, q), percentile(&n, q));
        let _ = writeln!(out, "| {what} | {a:.3} | {b:.2} | {} |", ratio(b, a));
    }
    let (mut vc, mut nc) = (p.vedetta.complete_latencies.clone(), p.nominatim.complete_latencies.clone());
    vc.sort_unstable();
    nc.sort_unstable();
    for (what, q) in
        [("p50 latency, complete queries only, ms", 0.50), ("p99 latency, complete queries only, ms", 0.99)]
    {
        let (a, b) = (percentile(&vc, q), percentile(&nc, q));
        let _ = writeln!(out, "| {what} | {a:.3} | {b:.2} | {} |", ratio(b, a));
    }
    let (a, b) =
        (percent(p.vedetta.top1, p.vedetta.complete), percent(p.nominatim.top1, p.nominatim.complete));
    let _ = writeln!(
        out,
        "| civico sought first ({} complete queries) | {a:.1}% | {b:.1}% | {} |",
        p.nominatim.complete,
        share_ratio(b, a)
    );
    let (a, b) =
        (percent(p.vedetta.top10, p.vedetta.complete), percent(p.nominatim.top10, p.nominatim.complete));
    let _ = writeln!(out, "| civico sought in the top 10 | {a:.1}% | {b:.1}% | {} |", share_ratio(b, a));
    let (a, b) = (
        percent(p.vedetta.with_comune_top1, p.vedetta.with_comune),
        percent(p.nominatim.with_comune_top1, p.nominatim.with_comune),
    );
    let _ = writeln!(out, "| … first, comune named | {a:.1}% | {b:.1}% | {} |", share_ratio(b, a));
    let _ = writeln!(
        out,
        "| import, s (Vedetta: ANNCSU import + street index; Nominatim: `nominatim import`) | {:.1} | {:.1} | {} |",
        p.vedetta_import_s,
        p.import_s,
        ratio(p.import_s, p.vedetta_import_s)
    );
    let _ = writeln!(
        out,
        "| tables + indexes, MB (Vedetta: schema `toponymy`; Nominatim: its database without PostGIS's `spatial_ref_sys`) | {:.1} | {:.1} | {} |",
        p.vedetta_db_mb,
        p.db_mb,
        ratio(p.db_mb, p.vedetta_db_mb)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Civico sought first, by how the address was typed (complete queries; a query may be in several rows):"
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| typed | queries | Vedetta | Nominatim |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (k, (what, ..)) in crate::workload::typed::ROWS.iter().enumerate() {
        let (Some(&(nv, tv)), Some(&(nn, tn))) = (p.vedetta.by_typing.get(k), p.nominatim.by_typing.get(k))
        else {
            continue;
        };
        let _ = writeln!(out, "| {what} | {nn} | {:.1}% | {:.1}% |", percent(tv, nv), percent(tn, nn));
    }
    if p.timeouts > 0 {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Nominatim timed out (its 10 s query timeout) on {} queries, counted as finding nothing.",
            p.timeouts
        );
    }
    if !p.stages.is_empty() {
        let _ = writeln!(out);
        let stages: Vec<String> = p.stages.iter().map(|(what, s)| format!("{what} {s:.0} s")).collect();
        let _ = writeln!(
            out,
            "Nominatim's import by stage (from its log, whole seconds): {}.",
            stages.join("; ")
        );
    }
}
