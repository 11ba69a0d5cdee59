//! The Markdown report: the machine and the load on it, what ran, one row per cell, the ratios Vedetta ÷ TiPG in
//! each cell, and the verdict against issue #7's target (p95 under 500 ms at 200 clients, no errors).

use std::fmt::Write as _;

use crate::cpu::Sample;
use crate::load::Cell;
use crate::workload::Workload;

/// The target of issue #7: p95 under this many milliseconds at [`TARGET_CLIENTS`] concurrent clients.
pub const TARGET_P95_MS: f64 = 500.0;
pub const TARGET_CLIENTS: usize = 200;

/// Which server answered a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Vedetta,
    Peer,
}

/// One measured cell.
#[derive(Debug, Clone)]
pub struct Row {
    /// Index into [`Report::workloads`].
    pub workload: usize,
    pub clients: usize,
    pub side: Side,
    pub cell: Cell,
    /// CPU seconds each party used in the measured window.
    pub cpu: Sample,
    /// The 1-minute load average when the cell ended.
    pub load: f64,
}

/// Everything the report says.
#[derive(Debug, Clone)]
pub struct Report {
    pub date: String,
    pub machine: String,
    pub uptime_before: String,
    pub uptime_after: String,
    pub postgres: String,
    pub vedetta: String,
    pub vedetta_pool: u32,
    /// `TiPG 1.6.1 on uvicorn 0.54.0` and how it ran, or why it did not.
    pub peer: Result<String, String>,
    pub data: String,
    pub equivalence: Vec<String>,
    pub load: String,
    pub workloads: Vec<Workload>,
    pub rows: Vec<Row>,
    pub command: String,
}

/// `12.3`, `0.85`, `1,234`.
fn ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn rate(v: f64) -> String {
    if v >= 100.0 { thousands(v) } else { format!("{v:.1}") }
}

/// `2.10 / 3.40 / 0.80`: CPU milliseconds per request of the server, PostgreSQL and the load generator.
fn cpu_per_request(cpu: &Sample, requests: u64) -> String {
    if requests == 0 {
        return "–".into();
    }
    let per = |seconds: f64| format!("{:.2}", seconds * 1000.0 / requests as f64);
    format!("{} / {} / {}", per(cpu.server), per(cpu.postgres), per(cpu.client))
}

fn ratio(v: f64) -> String {
    if v.is_finite() { format!("{v:.2}×") } else { "–".into() }
}

impl Report {
    fn row(&self, workload: usize, clients: usize, side: Side) -> Option<&Row> {
        self.rows.iter().find(|r| r.workload == workload && r.clients == clients && r.side == side)
    }

    /// The verdict on one workload at the target concurrency: `(met, text)`, or `None` when not measured.
    pub fn verdict(&self, workload: usize) -> Option<(bool, String)> {
        let row = self.row(workload, TARGET_CLIENTS, Side::Vedetta)?;
        let p95 = row.cell.quantile_ms(0.95);
        let met = p95 < TARGET_P95_MS && row.cell.errors == 0;
        let errors =
            if row.cell.errors == 0 { String::new() } else { format!(", {} errors", row.cell.errors) };
        Some((met, format!("{} ({} ms{errors})", if met { "PASS" } else { "FAIL" }, ms(p95))))
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## HTTP read APIs under load — {} (`bench/http`)\n", self.date);
        let _ = writeln!(
            md,
            "Machine: {}; `uptime` before: {}; after: {}.",
            self.machine, self.uptime_before, self.uptime_after
        );
        let _ = writeln!(
            md,
            "Database: {} — one private cluster, server defaults, one database both servers read.",
            self.postgres
        );
        let _ = writeln!(
            md,
            "Vedetta: {} (`vedetta serve`, pool {} connections, logging warnings only).",
            self.vedetta, self.vedetta_pool
        );
        match &self.peer {
            Ok(peer) => {
                let _ = writeln!(md, "Peer: {peer}.");
            }
            Err(why) => {
                let _ = writeln!(md, "Peer: not run ({why}).");
            }
        }
        let _ = writeln!(
            md,
            "SensorThings has no peer in this run: FROST-Server, the reference implementation, is a Java application \
             distributed through Maven Central, which this machine cannot reach; the STA rows are Vedetta alone."
        );
        let _ = writeln!(md, "Data: {}", self.data);
        for line in &self.equivalence {
            let _ = writeln!(md, "Same answers: {line}");
        }
        let _ = writeln!(md, "Load: {}\n", self.load);

        let _ = writeln!(
            md,
            "| workload | clients | server | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | kB/answer | \
             CPU ms/request: server / PostgreSQL / load generator | other processes, cores | load 1m |"
        );
        let _ = writeln!(md, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for row in &self.rows {
            let w = &self.workloads[row.workload];
            let server = match row.side {
                Side::Vedetta => "Vedetta",
                Side::Peer => "TiPG",
            };
            let c = &row.cell;
            let _ = writeln!(
                md,
                "| {} | {} | {server} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.2} | {:.1} |",
                w.name,
                row.clients,
                rate(c.rate()),
                ms(c.quantile_ms(0.5)),
                ms(c.quantile_ms(0.95)),
                ms(c.quantile_ms(0.99)),
                ms(c.max_ms()),
                c.errors,
                c.mean_kb(),
                cpu_per_request(&row.cpu, c.requests),
                row.cpu.others() / c.seconds,
                row.load
            );
        }

        let compared: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.side == Side::Vedetta && self.row(r.workload, r.clients, Side::Peer).is_some())
            .collect();
        if !compared.is_empty() {
            let _ = writeln!(
                md,
                "\nVedetta ÷ TiPG, cell by cell (throughput: higher is better for Vedetta; p95: lower is):\n"
            );
            let _ = writeln!(md, "| workload | clients | req/s Vedetta ÷ TiPG | p95 Vedetta ÷ TiPG |");
            let _ = writeln!(md, "|---|---:|---:|---:|");
            for v in compared {
                if let Some(p) = self.row(v.workload, v.clients, Side::Peer) {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} |",
                        self.workloads[v.workload].name,
                        v.clients,
                        ratio(v.cell.rate() / p.cell.rate()),
                        ratio(v.cell.quantile_ms(0.95) / p.cell.quantile_ms(0.95))
                    );
                }
            }
        }

        let _ = writeln!(
            md,
            "\nTarget (issue #7): p95 under {TARGET_P95_MS:.0} ms with no errors at {TARGET_CLIENTS} concurrent clients.\n"
        );
        for (i, w) in self.workloads.iter().enumerate() {
            match self.verdict(i) {
                Some((_, text)) => {
                    let _ = writeln!(md, "- {}: **{text}**", w.name);
                }
                None => {
                    let _ = writeln!(md, "- {}: not measured at {TARGET_CLIENTS} clients", w.name);
                }
            }
        }
        let failures: Vec<String> = self
            .rows
            .iter()
            .filter_map(|r| {
                r.cell.first_error.as_ref().map(|e| {
                    let server = if r.side == Side::Vedetta { "Vedetta" } else { "TiPG" };
                    format!("- {} at {} clients, {server}: {e}", self.workloads[r.workload].name, r.clients)
                })
            })
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(md, "\nFirst error of each cell that had any:\n");
            for f in failures {
                let _ = writeln!(md, "{f}");
            }
        }
        let _ = writeln!(md, "\nWorkloads:\n");
        for w in &self.workloads {
            let _ = writeln!(md, "- {}: {}", w.name, w.describe());
        }
        let _ = writeln!(md, "\nCommand: `{}`", self.command);
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_person_writes_them() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(rate(12.34), "12.3");
        assert_eq!(rate(1234.0), "1,234");
        assert_eq!(ms(0.456), "0.46");
        assert_eq!(ms(45.6), "45.6");
        assert_eq!(ms(456.4), "456");
        assert_eq!(ratio(f64::NAN), "–");
    }
}
