//! The Markdown report: machine, date, data set, and one row per engine.

use std::fmt::Write as _;
use std::time::Duration;

use geodata::geocoder::IndexStats;

/// What one engine did over the query log.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub engine: String,
    pub latencies: Vec<Duration>,
    pub total: Duration,
    /// Fully typed queries, and how often the civico sought was first / in the results.
    pub complete: usize,
    pub top1: usize,
    pub top10: usize,
    /// The same for the complete queries that name the comune (filter or text).
    pub with_comune: usize,
    pub with_comune_top1: usize,
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
pub fn markdown(s: &Setup, outcomes: &[Outcome]) -> String {
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
        let _ = writeln!(out, "Target p99 ≤ 20 ms for Vedetta: **{verdict}** ({p99:.2} ms).");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Examples of complete queries: {}",
        s.examples.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
    );
    out
}
