//! The workloads: fixed lists of URLs, the same features asked of both servers, and the check that both answer
//! them alike before any load.

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::data::{self, Loaded};
use crate::servers::{self, Server};

/// Offsets of the paging workload.
const PAGES: i64 = 20;
/// Page size of both OGC workloads.
const LIMIT: i64 = 10;

/// One workload: what each server is asked, in the same order.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    /// Paths on Vedetta.
    pub vedetta: Vec<String>,
    /// The same requests on TiPG; `None` when TiPG has no such API.
    pub peer: Option<Vec<String>>,
}

impl Workload {
    /// One line for the report.
    pub fn describe(&self) -> String {
        let first = |paths: &[String]| paths.first().cloned().unwrap_or_default();
        let mut text = format!("{} URL(s) on Vedetta, e.g. `{}`", self.vedetta.len(), first(&self.vedetta));
        if let Some(peer) = &self.peer {
            text.push_str(&format!("; on TiPG e.g. `{}`", first(peer)));
        }
        text
    }
}

/// The four workloads over what was loaded.
pub fn all(loaded: &Loaded) -> Vec<Workload> {
    let last = (loaded.features - LIMIT).max(0);
    let offsets: Vec<i64> = (0..PAGES).map(|j| j * last / (PAGES - 1)).collect();
    let paging = |collection: &str| -> Vec<String> {
        offsets.iter().map(|k| format!("/collections/{collection}/items?limit={LIMIT}&offset={k}")).collect()
    };
    // 16 windows of half the extent's width and height, on a 4 × 4 grid of origins covering it.
    let [x0, y0, x1, y1] = loaded.extent;
    let (w, h) = ((x1 - x0) / 2.0, (y1 - y0) / 2.0);
    let boxes: Vec<String> = (0..16)
        .map(|n| {
            let (a, b) = (f64::from(n % 4), f64::from(n / 4));
            let (minx, miny) = (x0 + a * w / 3.0, y0 + b * h / 3.0);
            format!("{minx:.6},{miny:.6},{:.6},{:.6}", minx + w, miny + h)
        })
        .collect();
    let windows = |collection: &str| -> Vec<String> {
        boxes.iter().map(|b| format!("/collections/{collection}/items?limit={LIMIT}&bbox={b}")).collect()
    };
    let on_vedetta = |paths: Vec<String>| paths.into_iter().map(|p| format!("/ogc{p}")).collect();
    vec![
        Workload {
            name: "OGC items, paging".into(),
            vedetta: on_vedetta(paging(data::VEDETTA_COLLECTION)),
            peer: Some(paging(data::PEER_COLLECTION)),
        },
        Workload {
            name: "OGC items, bbox".into(),
            vedetta: on_vedetta(windows(data::VEDETTA_COLLECTION)),
            peer: Some(windows(data::PEER_COLLECTION)),
        },
        Workload {
            name: "STA Things?$expand=Datastreams".into(),
            vedetta: vec!["/sta/v1.1/Things?$expand=Datastreams".into()],
            peer: None,
        },
        Workload {
            name: "STA Datastreams?$expand=Observations($top=10)".into(),
            vedetta: vec!["/sta/v1.1/Datastreams?$expand=Observations($top=10)".into()],
            peer: None,
        },
    ]
}

fn get_json(server: &Server, path: &str) -> Result<Value> {
    let url = server.url(path);
    let (status, body) = servers::get(&url)?;
    ensure!(
        status == 200,
        "{} answered {status} to {path}: {}",
        server.name,
        body.chars().take(300).collect::<String>()
    );
    serde_json::from_str(&body).with_context(|| format!("{} answered {path} with no JSON", server.name))
}

/// `(numberMatched, feature ids)` of an items page.
fn page(server: &Server, path: &str) -> Result<(Option<i64>, Vec<String>)> {
    let body = get_json(server, path)?;
    let features = body["features"]
        .as_array()
        .with_context(|| format!("{} answered {path} with no features", server.name))?;
    let ids = features
        .iter()
        .map(|f| match &f["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    Ok((body["numberMatched"].as_i64(), ids))
}

/// Asks both servers every OGC URL of `workload` once and compares the pages (numberMatched and the ids in
/// order). Returns a line for the report; a difference is an error, since the comparison would then be unfair.
pub fn compare(workload: &Workload, vedetta: &Server, peer: &Server) -> Result<String> {
    let Some(peer_paths) = &workload.peer else { return Ok(String::new()) };
    let (mut features, mut empty) = (0, 0);
    for (v, p) in workload.vedetta.iter().zip(peer_paths) {
        let (ours, theirs) = (page(vedetta, v)?, page(peer, p)?);
        if ours != theirs {
            bail!(
                "Vedetta and TiPG disagree on {}: {v} gives {} matched, ids {:?}; {p} gives {} matched, ids {:?}",
                workload.name,
                ours.0.map_or("?".into(), |n| n.to_string()),
                ours.1,
                theirs.0.map_or("?".into(), |n| n.to_string()),
                theirs.1
            );
        }
        features += ours.1.len();
        empty += usize::from(ours.1.is_empty());
    }
    Ok(format!(
        "{}: all {} pages identical on both servers (numberMatched and feature ids in order; {features} features, \
         {empty} empty pages).",
        workload.name,
        workload.vedetta.len()
    ))
}

/// Checks that the SensorThings answers hold what the workload is about: every Thing with its Datastream, every
/// Datastream with ten Observations. Returns a line for the report.
pub fn check_sta(vedetta: &Server, stations: i64) -> Result<String> {
    let things = get_json(vedetta, "/sta/v1.1/Things?$expand=Datastreams")?;
    let things = things["value"].as_array().context("Things has no value")?;
    let with_datastreams =
        things.iter().filter(|t| t["Datastreams"].as_array().is_some_and(|d| !d.is_empty())).count();
    ensure!(
        things.len() as i64 == stations.min(100) && with_datastreams == things.len(),
        "Things?$expand=Datastreams gave {} Things, {with_datastreams} with Datastreams ({stations} stations)",
        things.len()
    );
    let streams = get_json(vedetta, "/sta/v1.1/Datastreams?$expand=Observations($top=10)")?;
    let streams = streams["value"].as_array().context("Datastreams has no value")?;
    let full = streams.iter().filter(|d| d["Observations"].as_array().is_some_and(|o| o.len() == 10)).count();
    ensure!(
        full == streams.len() && !streams.is_empty(),
        "Datastreams?$expand=Observations($top=10) gave {} Datastreams, {full} with 10 Observations",
        streams.len()
    );
    Ok(format!(
        "STA: `Things?$expand=Datastreams` answers {} Things each with its Datastream; \
         `Datastreams?$expand=Observations($top=10)` answers {} Datastreams each with 10 Observations.",
        things.len(),
        streams.len()
    ))
}
