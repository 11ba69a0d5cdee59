//! From a layer to binary COPY rows: read (one thread), then transform with PROJ, digest and encode in parallel
//! (rayon, one PROJ context per worker), chunk by chunk, while the database ingests the previous chunk.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use geo::Geometry;
use rayon::prelude::*;
use tokio::sync::mpsc;

use super::encode::{self, CopyBuffer};
use super::source::{self, Layer, RawFeature};
use crate::crs::Transform;
use crate::{Error, Result};

/// Features per chunk sent to the database (and per progress report).
const CHUNK: usize = 8192;
/// Features per parallel task within a chunk.
const TASK: usize = 512;

/// The table the rows go to, and the constant columns of an import.
#[derive(Debug, Clone)]
pub(crate) enum Layout {
    /// A new class's table: `(class, key, valid_from, release_id, code, comune_istat, source_index, attrs, geom,
    /// digest)`. Rejected features are not sent.
    Object { class: String, valid_from: DateTime<Utc>, release_id: i64, comune: Option<String> },
    /// The staging table of a re-import: `(source_index, key, code, attrs, geom, digest, reject)`. A feature
    /// rejected here is still sent (without geometry) when it has a key, so that its object is not removed.
    Stage,
}

impl Layout {
    pub(crate) fn columns(&self) -> &'static str {
        match self {
            Layout::Object { .. } => {
                "(class, key, valid_from, release_id, code, comune_istat, source_index, attrs, geom, digest)"
            }
            Layout::Stage => "(source_index, key, code, attrs, geom, digest, reject)",
        }
    }
}

/// One chunk of COPY data.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub bytes: Vec<u8>,
    /// Features read in this chunk (sent or not).
    pub features: u64,
}

/// What the reading side found.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub features: u64,
    pub rejected: Vec<(u64, String)>,
    /// Features whose ID an earlier feature of the file already had (keyed `ID~n`).
    pub repeated_ids: u64,
}

thread_local! {
    static TRANSFORM: RefCell<Option<(String, Transform)>> = const { RefCell::new(None) };
}

/// Transforms `g` from `crs` to EPSG:4326 with this thread's PROJ context.
fn to_wgs84(crs: &str, g: &mut Geometry<f64>) -> Result<()> {
    TRANSFORM.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(c, _)| c != crs) {
            *slot = Some((crs.to_string(), Transform::new(crs, "EPSG:4326")?));
        }
        let (_, t) = slot.as_ref().expect("set above");
        t.geometry(g)
    })
}

/// Reads `layer`, sends its rows chunk by chunk to the senders in turn (one per COPY stream). Runs on a
/// blocking thread.
pub(crate) fn produce(layer: &Layer, layout: &Layout, senders: &[mpsc::Sender<Chunk>]) -> Result<Summary> {
    let mut reader = source::open(layer)?;
    let mut summary = Summary::default();
    let mut assigned: HashSet<String> = HashSet::with_capacity(layer.count as usize);
    let mut occurrences: HashMap<String, u32> = HashMap::with_capacity(layer.count as usize);
    let identity = layer.crs == "EPSG:4326";
    let mut batch: Vec<RawFeature> = Vec::with_capacity(CHUNK);
    let mut finished = false;
    while !finished {
        batch.clear();
        while batch.len() < CHUNK {
            match reader.next_feature() {
                Some(f) => batch.push(f?),
                None => {
                    finished = true;
                    break;
                }
            }
        }
        if batch.is_empty() {
            break;
        }
        // Keys are assigned in file order: the first feature with an ID keeps it, the n-th gets `ID~n`.
        for f in batch.iter_mut() {
            let Some(key) = f.key.take() else {
                if f.shape.is_ok() {
                    f.shape = Err(format!("no value for the natural key ({})", layer.key.describe()));
                }
                continue;
            };
            let n = occurrences.entry(key.clone()).or_insert(0);
            *n += 1;
            if *n == 1 && assigned.insert(key.clone()) {
                f.key = Some(key);
                continue;
            }
            summary.repeated_ids += 1;
            loop {
                *n = (*n).max(2);
                let candidate = format!("{key}~{n}");
                if assigned.insert(candidate.clone()) {
                    f.key = Some(candidate);
                    break;
                }
                *n += 1;
            }
        }
        let parts: Vec<(CopyBuffer, Vec<(u64, String)>)> = batch
            .par_chunks_mut(TASK)
            .map(|features| {
                let mut buf = CopyBuffer { bytes: Vec::with_capacity(features.len() * 512) };
                let mut rejected = Vec::new();
                for f in features {
                    encode_feature(f, layer, layout, identity, &mut buf, &mut rejected);
                }
                (buf, rejected)
            })
            .collect();
        let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.0.bytes.len()).sum());
        for (buf, rejected) in parts {
            bytes.extend_from_slice(&buf.bytes);
            summary.rejected.extend(rejected);
        }
        let tx = &senders[(summary.features / CHUNK as u64) as usize % senders.len()];
        summary.features += batch.len() as u64;
        if tx.blocking_send(Chunk { bytes, features: batch.len() as u64 }).is_err() {
            // The database side gave up; its error is the one to report.
            return Err(Error::Import("the import was interrupted".into()));
        }
    }
    Ok(summary)
}

fn encode_feature(
    f: &mut RawFeature,
    layer: &Layer,
    layout: &Layout,
    identity: bool,
    buf: &mut CopyBuffer,
    rejected: &mut Vec<(u64, String)>,
) {
    let shape = std::mem::replace(&mut f.shape, Err(String::new()));
    let geometry = shape.and_then(|mut g| {
        if !identity {
            to_wgs84(&layer.crs, &mut g).map_err(|e| format!("cannot transform to WGS84: {e}"))?;
        }
        if !encode::all_finite(&g) {
            return Err(format!("coordinates outside the domain of {}", layer.crs));
        }
        Ok(g)
    });
    let code = f.code.as_deref().unwrap_or(&layer.class);
    match (geometry, layout) {
        (Ok(g), Layout::Object { class, valid_from, release_id, comune }) => {
            let key = f.key.as_deref().expect("features without a key were rejected");
            buf.row(10);
            buf.text(class);
            buf.text(key);
            buf.timestamptz(*valid_from);
            buf.int8(*release_id);
            buf.text(code);
            buf.opt_text(comune.as_deref());
            buf.int8(f.index as i64);
            buf.jsonb(&f.attrs);
            buf.geometry(&g);
            buf.int8(encode::digest(&f.attrs, &g));
        }
        (Ok(g), Layout::Stage) => {
            let key = f.key.as_deref().expect("features without a key were rejected");
            buf.row(7);
            buf.int8(f.index as i64);
            buf.text(key);
            buf.text(code);
            buf.jsonb(&f.attrs);
            buf.geometry(&g);
            buf.int8(encode::digest(&f.attrs, &g));
            buf.null();
        }
        (Err(reason), layout) => {
            if let (Layout::Stage, Some(key)) = (layout, f.key.as_deref()) {
                buf.row(7);
                buf.int8(f.index as i64);
                buf.text(key);
                buf.text(code);
                buf.jsonb(&f.attrs);
                buf.null();
                buf.int8(0);
                buf.text(&reason);
            }
            rejected.push((f.index, reason));
        }
    }
}
