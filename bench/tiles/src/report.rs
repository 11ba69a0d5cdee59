//! The Markdown section for `bench/RESULTS.md`: the machine, the versions, the cells with their ratios to Martin,
//! the freshness phase, and the targets of issue #10 each marked met or missed.

use std::fmt::Write;

use anyhow::{Context, Result};
use geozero::mvt::{Message, Tile};

use crate::data::Xyz;
use crate::live::Freshness;
use crate::load::Measured;

/// One server, cached or not, at one number of clients.
#[derive(Debug, Clone)]
pub struct Cell {
    pub server: String,
    pub cached: bool,
    pub clients: u32,
    pub measured: Measured,
}

/// The freshness phase.
#[derive(Debug, Clone)]
pub struct Live {
    /// Stations tiles from the cache, nothing arriving.
    pub quiet: Measured,
    /// The same while the readings arrive.
    pub busy: Measured,
    pub fresh: Freshness,
    /// Readings in the database at the end (all phases).
    pub stored: i64,
    pub readings_rate: u32,
    pub clients: u32,
}

#[derive(Debug)]
pub struct Report {
    pub machine: testkit::Machine,
    pub postgres: String,
    pub versions: Vec<String>,
    pub buildings: u64,
    pub tiles: usize,
    pub load_s: f64,
    pub same_content: Vec<(Xyz, Vec<(String, usize)>)>,
    pub cells: Vec<Cell>,
    pub live: Option<Live>,
    pub minutes: f64,
}

/// Features in the tile at `url` (every layer).
pub fn count_features(url: &str) -> Result<usize> {
    let resp = ureq::get(url)
        .timeout(std::time::Duration::from_secs(60))
        .call()
        .with_context(|| format!("GET {url}"))?;
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body)?;
    let tile = Tile::decode(&body[..]).with_context(|| format!("{url} is not a vector tile"))?;
    Ok(tile.layers.iter().map(|l| l.features.len()).sum())
}

impl Report {
    pub fn new(
        machine: testkit::Machine,
        postgres: String,
        buildings: u64,
        tiles: usize,
        load_s: f64,
    ) -> Report {
        Report {
            machine,
            postgres,
            versions: Vec::new(),
            buildings,
            tiles,
            load_s,
            same_content: Vec::new(),
            cells: Vec::new(),
            live: None,
            minutes: 0.0,
        }
    }

    fn cell(&self, server: &str, cached: bool, clients: u32) -> Option<&Cell> {
        self.cells.iter().find(|c| c.server == server && c.cached == cached && c.clients == clients)
    }

    /// Best tiles/s of a server over the numbers of clients.
    fn best(&self, server: &str, cached: bool) -> Option<f64> {
        self.cells
            .iter()
            .filter(|c| c.server == server && c.cached == cached)
            .map(|c| c.measured.rate())
            .reduce(f64::max)
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M %Z");
        let _ = writeln!(s, "## Vector tiles — {now}\n");
        let _ = writeln!(s, "Machine: {}. {}.", self.machine, self.postgres);
        let _ = writeln!(s, "Versions: {}.", self.versions.join("; "));
        let _ = writeln!(
            s,
            "Data: {} generated buildings around Genova (loaded and indexed in {:.0} s), the comuni of the province, \
             stations and reports. {} tiles (every z14 and z15 tile of the area, z16 tiles taken evenly), walked by \
             `wrk` with keep-alive connections, no `Accept-Encoding`. Run took {:.0} min.\n",
            self.buildings, self.load_s, self.tiles, self.minutes
        );
        if !self.same_content.is_empty() {
            let _ = writeln!(s, "Same buildings from every server (features in a tile):\n");
            for (tile, row) in &self.same_content {
                let cells: Vec<String> = row.iter().map(|(who, n)| format!("{who} {n}")).collect();
                let _ = writeln!(s, "- {}/{}/{}: {}", tile.z, tile.x, tile.y, cells.join(", "));
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "| server | cache | clients | tiles/s | p50 ms | p99 ms | max ms | errors | KB/tile | × Martin same cache |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for c in &self.cells {
            let m = &c.measured;
            let ratio = self
                .cell("Martin", c.cached, c.clients)
                .map(|base| format!("{:.2}", m.rate() / base.measured.rate().max(f64::MIN_POSITIVE)))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.0} | {} | {:.1} | {ratio} |",
                c.server,
                if c.cached { "on" } else { "off" },
                c.clients,
                m.rate(),
                m.p50_ms,
                m.p99_ms,
                m.max_ms,
                m.errors,
                m.mean_kb()
            );
        }
        s.push('\n');
        if let Some(live) = &self.live {
            let f = &live.fresh;
            let _ = writeln!(
                s,
                "Live stations tiles (Vedetta, cache on, {} clients): {:.0} tiles/s with nothing arriving; {:.0} \
                 tiles/s (p99 {:.1} ms, {} errors) while {:.0} readings/s arrived over MQTT ({} asked; {} readings \
                 stored in all). Probe: a new level every 0.5 s on one station, its z14/15/16 tile polled until it \
                 shows it: {} probes, publish → tile p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms, {} never seen within \
                 5 s.\n",
                live.clients,
                live.quiet.rate(),
                live.busy.rate(),
                live.busy.p99_ms,
                live.busy.errors,
                f.rate(),
                live.readings_rate,
                live.stored,
                f.samples.len() + f.missed,
                f.quantile(0.5),
                f.quantile(0.99),
                f.max(),
                f.missed
            );
        }
        let _ = writeln!(s, "Targets (issue #10):\n");
        let verdict = |ok: bool| if ok { "met" } else { "missed" };
        if let (Some(v), Some(m)) = (self.best("Vedetta", false), self.best("Martin", false)) {
            let _ = writeln!(s, "- uncached ≥ 1.0× Martin: {:.2}× — {}", v / m, verdict(v >= m));
        }
        if let (Some(v), Some(m)) = (self.best("Vedetta", true), self.best("Martin", true)) {
            let _ = writeln!(s, "- cached ≥ 1.0× Martin cached: {:.2}× — {}", v / m, verdict(v >= m));
        }
        if let Some(live) = &self.live {
            let f = &live.fresh;
            let fresh_ok = f.missed == 0 && f.max() <= 1000.0;
            let _ = writeln!(
                s,
                "- stations tiles never staler than 1 s under {} readings/s: max {:.0} ms — {}",
                live.readings_rate,
                f.max(),
                verdict(fresh_ok)
            );
            let base = self.best("Martin", true).unwrap_or_else(|| live.quiet.rate());
            let share = live.busy.rate() / base.max(f64::MIN_POSITIVE);
            let _ = writeln!(
                s,
                "- meanwhile ≥ 50 % of the cached rate ({}): {:.0} % — {}",
                if self.best("Martin", true).is_some() {
                    "Martin's, buildings"
                } else {
                    "Vedetta's, stations"
                },
                share * 100.0,
                verdict(share >= 0.5)
            );
        }
        s
    }
}
