//! A deterministic storm over Genova: demo stations and the readings they would send.
//!
//! Pure and reproducible: no I/O, no clock, no global randomness. The same stations, seed and sequence of step
//! times always give the same readings (a SplitMix64 generator lives in this file).
//!
//! # Stations
//!
//! [`demo_stations`] spreads rain gauges (about 60 %) and hydrometers (about 40 %) along seven real valleys of the
//! Genova area (Bisagno, Polcevera, Varenna, Leira, Sturla, Cerusa, upper Scrivia), inland of the coast, within
//! longitude 8.70–9.20 and latitude 44.36–44.52.
//!
//! # Model
//!
//! Rain rates are in mm/h, rain reports in mm since the previous report, levels in m above the hydrometric zero.
//!
//! - **Drizzle** (always): time is cut in 10-minute slots; in about one slot in seven a station's site gets a light
//!   drizzle of 0.3–1.2 mm/h, otherwise nothing.
//! - **Storm cell** (with `storm`): a Gaussian convective cell of peak intensity `I` = 80–120 mm/h and radius
//!   `σ` = 5–8 km enters from the sea south-west of Genova at the scenario's start and crosses the territory
//!   towards the north-east (heading 40–50°) at 27–33 km/h, over the city about one hour after the start. At a
//!   site `d` km from the cell centre it rains `I · exp(−d² / 2σ²)` mm/h.
//! - **Rain gauges** integrate the rate at their site into a tipping bucket of 0.2 mm: each report is a whole number
//!   of tips, the remainder waits in the bucket for the next report.
//! - **Hydrometers** drain their catchment, modelled as two linear reservoirs in series (a Nash cascade: the
//!   hillslopes, then the channel network). The hillslopes take the mean rain rate at the hydrometer and at its
//!   nearest rain gauges (up to two, within 12 km); each reservoir holding `S` mm releases `k·S` mm/h into the next
//!   (`k` = 1.2–2.4 per hour, per station). The level is `base + a · Q^0.6` m, where `Q` is the outflow of the
//!   channel in mm/h, `base` (0.3–0.8 m) the base flow and `a` chosen so that an outflow of 25–35 mm/h reaches the
//!   station's orange threshold, plus a noise of ±5 mm. The level peaks 20–60 minutes after the rain over the
//!   catchment (a single reservoir would lag the short burst of a passing cell by barely 15–25 minutes), then
//!   recedes.
//!
//! Time between steps may be irregular: the model integrates over the real elapsed time in sub-steps of at most
//! 30 s. The first step of a station reports no rain.
//!
//! # Coordinates
//!
//! Longitudes and latitudes are WGS84 degrees (EPSG:4326). Distances use an equirectangular approximation around
//! latitude 44.44° (errors well under 1 % over the area), in km.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::station::{Levels, QcParams, Thresholds};
use crate::{Quantity, StationInput, StationKind};

/// Reporting interval declared for the demo stations, in seconds.
pub const DEFAULT_INTERVAL_S: i32 = 300;

/// Resolution of a tipping-bucket rain gauge, in mm.
pub const TIP_MM: f64 = 0.2;

/// Bounding box of the demo stations: west, south, east, north (WGS84 degrees).
pub const AREA: [f64; 4] = [8.70, 44.36, 9.20, 44.52];

/// Mean Earth radius, km.
const EARTH_RADIUS_KM: f64 = 6371.0;
/// Origin of the local km grid (WGS84 degrees); the storm crosses near it.
const ORIGIN: (f64, f64) = (8.93, 44.44);
/// Longest sub-step of the integration, in seconds.
const MAX_SUBSTEP_S: f64 = 30.0;
/// Most sub-steps of one step (longer gaps are integrated more coarsely).
const MAX_SUBSTEPS: f64 = 2880.0;
/// Length of a drizzle slot, in seconds.
const DRIZZLE_SLOT_S: i64 = 600;
/// Share of drizzle slots in which it drizzles.
const DRIZZLE_CHANCE: f64 = 0.15;
/// Mean drizzle rate over time, mm/h (the steady state hydrometers start from).
const DRIZZLE_MEAN_MM_H: f64 = DRIZZLE_CHANCE * 0.75;
/// Exponent of the outflow in the level law.
const LEVEL_EXPONENT: f64 = 0.6;

/// A valley of the Genova area: a segment from near its mouth (inland) up the valley.
struct Valley {
    name: &'static str,
    /// Lower end (lon, lat), WGS84 degrees.
    low: (f64, f64),
    /// Upper end (lon, lat), WGS84 degrees.
    high: (f64, f64),
    /// Elevation at the two ends, m.
    elevation: (f64, f64),
}

const VALLEYS: [Valley; 7] = [
    Valley { name: "Bisagno", low: (8.952, 44.414), high: (9.045, 44.472), elevation: (20.0, 350.0) },
    Valley { name: "Polcevera", low: (8.888, 44.422), high: (8.906, 44.496), elevation: (15.0, 90.0) },
    Valley { name: "Varenna", low: (8.815, 44.436), high: (8.800, 44.480), elevation: (15.0, 250.0) },
    Valley { name: "Leira", low: (8.752, 44.438), high: (8.768, 44.478), elevation: (20.0, 280.0) },
    Valley { name: "Sturla", low: (8.990, 44.403), high: (9.022, 44.432), elevation: (15.0, 200.0) },
    Valley { name: "Cerusa", low: (8.737, 44.437), high: (8.722, 44.472), elevation: (20.0, 300.0) },
    Valley { name: "Scrivia", low: (9.035, 44.505), high: (9.140, 44.514), elevation: (380.0, 700.0) },
];

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast and good enough for a simulation.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// Mixes two words into one (a SplitMix64 step of their combination).
fn mix(a: u64, b: u64) -> u64 {
    SplitMix64(a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

/// FNV-1a of a string: the key of a station, independent of its position in the list.
fn key_of(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// A point of the local grid: km east and north of [`ORIGIN`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Km {
    x: f64,
    y: f64,
}

impl Km {
    /// Equirectangular projection of WGS84 degrees around [`ORIGIN`].
    fn from_lon_lat(lon: f64, lat: f64) -> Km {
        let k = EARTH_RADIUS_KM * std::f64::consts::PI / 180.0;
        Km { x: (lon - ORIGIN.0) * k * ORIGIN.1.to_radians().cos(), y: (lat - ORIGIN.1) * k }
    }

    fn dist2(self, other: Km) -> f64 {
        (self.x - other.x).powi(2) + (self.y - other.y).powi(2)
    }
}

/// `v` rounded to `decimals` decimal places (the nearest double, so that it prints short).
fn round_to(v: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (v * scale).round() / scale
}

/// `n` demo stations over the Genova area, the same for the same `seed`: about 60 % rain gauges
/// (`SIM-PLUV-0001`, …) then about 40 % hydrometers (`SIM-IDRO-0001`, …), spread over the valleys in turn.
///
/// # Units
///
/// Coordinates in WGS84 degrees (EPSG:4326), elevations in m, hydrometer thresholds and range in m, rain
/// thresholds in mm per window (`1h`, `3h`, `24h`), range in mm.
pub fn demo_stations(n: usize, seed: u64) -> Vec<StationInput> {
    let hydrometers = (n as f64 * 0.4).round() as usize;
    let gauges = n - hydrometers;
    let mut rng = SplitMix64(mix(seed, key_of("demo_stations")));
    let mut out = Vec::with_capacity(n);
    for i in 0..gauges {
        let valley = &VALLEYS[i % VALLEYS.len()];
        let along = rng.range(0.15, 0.95);
        let (lon, lat, elevation) = place(valley, along, &mut rng);
        let rain = |yellow: f64, orange: f64, red: f64| Levels {
            yellow: Some(yellow),
            orange: Some(orange),
            red: Some(red),
        };
        let windows = BTreeMap::from([
            ("1h".to_string(), rain(30.0, 50.0, 70.0)),
            ("3h".to_string(), rain(50.0, 90.0, 120.0)),
            ("24h".to_string(), rain(120.0, 180.0, 250.0)),
        ]);
        out.push(StationInput {
            code: format!("SIM-PLUV-{:04}", i + 1),
            name: format!("Pluviometro simulato {} – Val {}", i + 1, valley.name),
            kind: StationKind::RainGauge,
            lon,
            lat,
            elevation_m: Some(elevation),
            comune: None,
            river: None,
            basin: None,
            range: Some([0.0, 300.0]),
            interval_s: DEFAULT_INTERVAL_S,
            thresholds: Thresholds::Rain(windows),
            qc: QcParams::default(),
            properties: properties(valley),
        });
    }
    for i in 0..hydrometers {
        let valley = &VALLEYS[i % VALLEYS.len()];
        // Hydrometers sit in the lower valley, where the towns are.
        let along = rng.range(0.05, 0.5);
        let (lon, lat, elevation) = place(valley, along, &mut rng);
        let yellow = round_to(rng.range(1.4, 1.9), 1);
        let orange = round_to(yellow + rng.range(0.6, 0.8), 1);
        let red = round_to(orange + rng.range(0.7, 1.0), 1);
        out.push(StationInput {
            code: format!("SIM-IDRO-{:04}", i + 1),
            name: format!("Idrometro simulato {} – Torrente {}", i + 1, valley.name),
            kind: StationKind::Hydrometer,
            lon,
            lat,
            elevation_m: Some(elevation),
            comune: None,
            river: Some(valley.name.to_string()),
            basin: Some(valley.name.to_string()),
            range: Some([0.0, 8.0]),
            interval_s: DEFAULT_INTERVAL_S,
            thresholds: Thresholds::Level {
                levels: Levels { yellow: Some(yellow), orange: Some(orange), red: Some(red) },
                clear: None,
            },
            qc: QcParams::default(),
            properties: properties(valley),
        });
    }
    out
}

/// A site `along` (0 = lower end, 1 = upper end) the valley, jittered by up to ±0.005°, kept in [`AREA`].
fn place(valley: &Valley, along: f64, rng: &mut SplitMix64) -> (f64, f64, f64) {
    let lon = valley.low.0 + along * (valley.high.0 - valley.low.0) + rng.range(-0.005, 0.005);
    let lat = valley.low.1 + along * (valley.high.1 - valley.low.1) + rng.range(-0.005, 0.005);
    let lon = round_to(lon.clamp(AREA[0], AREA[2]), 5);
    let lat = round_to(lat.clamp(AREA[1], AREA[3]), 5);
    let elevation = (valley.elevation.0 + along * (valley.elevation.1 - valley.elevation.0)).round();
    (lon, lat, elevation)
}

fn properties(valley: &Valley) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("simulated".into(), Value::Bool(true));
    map.insert("valley".into(), Value::String(valley.name.to_string()));
    map
}

/// One simulated reading.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReading {
    /// The station code.
    pub code: String,
    /// `rain` for rain gauges, `level` for hydrometers.
    pub quantity: Quantity,
    /// The time of the reading (the time of the step).
    pub t: DateTime<Utc>,
    /// mm since the previous report (a multiple of 0.2 mm), or m above the hydrometric zero (to the cm).
    pub value: f64,
}

/// The convective cell of a storm.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    start: DateTime<Utc>,
    /// Position at `start`, km.
    from: Km,
    /// Velocity, km/h east and north.
    velocity: Km,
    /// Peak intensity, mm/h.
    intensity: f64,
    /// Radius (standard deviation of the Gaussian), km.
    sigma: f64,
}

impl Cell {
    fn new(seed: u64, start: DateTime<Utc>) -> Cell {
        let mut rng = SplitMix64(mix(seed, key_of("storm cell")));
        let intensity = rng.range(80.0, 120.0);
        let sigma = rng.range(5.0, 8.0);
        let speed = rng.range(27.0, 33.0);
        let heading = rng.range(40.0, 50.0).to_radians();
        let offset = rng.range(-3.0, 3.0);
        let (dx, dy) = (heading.sin(), heading.cos());
        // Over the origin (shifted sideways by `offset`) one hour after the start.
        let over = Km { x: offset * dy, y: -offset * dx };
        let from = Km { x: over.x - dx * speed, y: over.y - dy * speed };
        Cell { start, from, velocity: Km { x: dx * speed, y: dy * speed }, intensity, sigma }
    }

    /// Rain rate at `at` at time `t`, mm/h.
    fn rate(&self, at: Km, t: DateTime<Utc>) -> f64 {
        let hours = (t - self.start).num_milliseconds() as f64 / 3_600_000.0;
        if hours < 0.0 {
            return 0.0;
        }
        let centre =
            Km { x: self.from.x + self.velocity.x * hours, y: self.from.y + self.velocity.y * hours };
        self.intensity * (-at.dist2(centre) / (2.0 * self.sigma * self.sigma)).exp()
    }
}

/// What a station keeps between steps.
#[derive(Debug, Clone)]
enum Model {
    Gauge {
        at: Km,
        /// Rain in the bucket not yet reported, mm (< one tip).
        bucket_mm: f64,
    },
    Hydrometer {
        /// The sites whose rain feeds the catchment: the hydrometer and its nearest rain gauges.
        catchment: Vec<Km>,
        base_m: f64,
        /// Outflow coefficient, per hour.
        k_per_h: f64,
        /// Level per outflow^0.6.
        a: f64,
        /// Water on the hillslopes, mm.
        hillslope_mm: f64,
        /// Water in the channel network, mm.
        channel_mm: f64,
    },
}

#[derive(Debug, Clone)]
struct SimStation {
    code: String,
    key: u64,
    rng: SplitMix64,
    last: Option<DateTime<Utc>>,
    model: Model,
}

/// A running scenario: the weather over a set of stations and the state of each station.
#[derive(Debug, Clone)]
pub struct Scenario {
    seed: u64,
    cell: Option<Cell>,
    stations: Vec<SimStation>,
}

impl Scenario {
    /// A scenario over `stations` (coordinates in WGS84 degrees), with a storm cell entering at `start` when
    /// `storm`, drizzle otherwise. The same arguments give the same scenario.
    pub fn new(stations: &[StationInput], storm: bool, seed: u64, start: DateTime<Utc>) -> Scenario {
        let cell = storm.then(|| Cell::new(seed, start));
        let gauges: Vec<Km> = stations
            .iter()
            .filter(|s| s.kind == StationKind::RainGauge)
            .map(|s| Km::from_lon_lat(s.lon, s.lat))
            .collect();
        let stations = stations
            .iter()
            .map(|input| {
                let key = key_of(&input.code);
                let mut rng = SplitMix64(mix(seed, key));
                let at = Km::from_lon_lat(input.lon, input.lat);
                let model = match input.kind {
                    StationKind::RainGauge => Model::Gauge { at, bucket_mm: 0.0 },
                    StationKind::Hydrometer => {
                        let base_m = rng.range(0.3, 0.8);
                        let k_per_h = rng.range(1.2, 2.4);
                        let reference_outflow = rng.range(25.0, 35.0);
                        let orange = match &input.thresholds {
                            Thresholds::Level { levels, .. } => levels.orange.or(levels.red),
                            Thresholds::Rain(_) => None,
                        };
                        let a = match orange {
                            Some(o) if o - base_m > 0.1 => {
                                (o - base_m) / reference_outflow.powf(LEVEL_EXPONENT)
                            }
                            _ => 0.2,
                        };
                        let mut nearest: Vec<Km> =
                            gauges.iter().copied().filter(|g| g.dist2(at) <= 12.0 * 12.0).collect();
                        nearest.sort_by(|p, q| p.dist2(at).total_cmp(&q.dist2(at)));
                        nearest.truncate(2);
                        let mut catchment = vec![at];
                        catchment.extend(nearest);
                        // Both reservoirs start in balance with the mean drizzle.
                        let steady_mm = DRIZZLE_MEAN_MM_H / k_per_h;
                        Model::Hydrometer {
                            catchment,
                            base_m,
                            k_per_h,
                            a,
                            hillslope_mm: steady_mm,
                            channel_mm: steady_mm,
                        }
                    }
                };
                SimStation { code: input.code.clone(), key, rng, last: None, model }
            })
            .collect();
        Scenario { seed, cell, stations }
    }

    /// How many stations the scenario drives.
    pub fn len(&self) -> usize {
        self.stations.len()
    }

    /// Whether the scenario has no station.
    pub fn is_empty(&self) -> bool {
        self.stations.is_empty()
    }

    /// One reading per station at `t`, in the order of the stations given to [`Scenario::new`].
    pub fn step(&mut self, t: DateTime<Utc>) -> Vec<SimReading> {
        (0..self.stations.len()).filter_map(|i| self.step_station(i, t)).collect()
    }

    /// The reading of the station at `index` (in the order given to [`Scenario::new`]) at `t`: rain since the
    /// station's previous step, or the level now. `None` when there is no such station. A `t` not after the
    /// station's previous step reports no rain and the level as it was.
    pub fn step_station(&mut self, index: usize, t: DateTime<Utc>) -> Option<SimReading> {
        let (seed, cell) = (self.seed, self.cell);
        let station = self.stations.get_mut(index)?;
        let elapsed_s = match station.last {
            Some(last) if t > last => (t - last).num_milliseconds() as f64 / 1000.0,
            _ => 0.0,
        };
        let from = station.last.filter(|last| t > *last);
        if station.last.is_none_or(|last| t > last) {
            station.last = Some(t);
        }
        let substeps = (elapsed_s / MAX_SUBSTEP_S).ceil().min(MAX_SUBSTEPS);
        let dt_h = if substeps > 0.0 { elapsed_s / substeps / 3600.0 } else { 0.0 };
        // Middle of each sub-step.
        let times = from.into_iter().flat_map(move |from| {
            (0..substeps as u32).map(move |i| {
                from + chrono::Duration::milliseconds(((i as f64 + 0.5) * dt_h * 3_600_000.0).round() as i64)
            })
        });
        let rate =
            |at: Km, t: DateTime<Utc>| drizzle(seed, station.key, t) + cell.map_or(0.0, |c| c.rate(at, t));
        let (quantity, value) = match &mut station.model {
            Model::Gauge { at, bucket_mm } => {
                let fallen: f64 = times.map(|t| rate(*at, t) * dt_h).sum();
                *bucket_mm += fallen;
                let tips = (*bucket_mm / TIP_MM + 1e-9).floor();
                *bucket_mm = (*bucket_mm - tips * TIP_MM).max(0.0);
                // Two tenths per tip, computed so that the value is the nearest double to a multiple of 0.2.
                (Quantity::Rain, tips * 2.0 / 10.0)
            }
            Model::Hydrometer { catchment, base_m, k_per_h, a, hillslope_mm, channel_mm } => {
                let decay = (-*k_per_h * dt_h).exp();
                for t in times {
                    let p = catchment.iter().map(|at| rate(*at, t)).sum::<f64>() / catchment.len() as f64;
                    // dS/dt = I − kS solved exactly with the inflow I constant over the sub-step: the hillslopes
                    // take the rain, the channel takes the mean outflow of the hillslopes over the sub-step.
                    let hillslope_before = *hillslope_mm;
                    *hillslope_mm = p / *k_per_h + (*hillslope_mm - p / *k_per_h) * decay;
                    let inflow = *k_per_h * (hillslope_before + *hillslope_mm) / 2.0;
                    *channel_mm = inflow / *k_per_h + (*channel_mm - inflow / *k_per_h) * decay;
                }
                let outflow = (*k_per_h * *channel_mm).max(0.0);
                let noise = station.rng.range(-0.005, 0.005);
                let level = *base_m + *a * outflow.powf(LEVEL_EXPONENT) + noise;
                (Quantity::Level, (level.max(0.0) * 100.0).round() / 100.0)
            }
        };
        Some(SimReading { code: station.code.clone(), quantity, t, value })
    }
}

/// Drizzle at a station's site at `t`, mm/h: in about one 10-minute slot in seven, 0.3–1.2 mm/h.
fn drizzle(seed: u64, key: u64, t: DateTime<Utc>) -> f64 {
    let slot = t.timestamp().div_euclid(DRIZZLE_SLOT_S);
    let mut rng = SplitMix64(mix(mix(seed, key), slot as u64));
    if rng.unit() < DRIZZLE_CHANCE { rng.range(0.3, 1.2) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn start() -> DateTime<Utc> {
        "2026-11-22T09:00:00Z".parse().unwrap()
    }

    /// Readings of every station every `step_s` seconds for `hours`.
    fn run(
        stations: &[StationInput],
        storm: bool,
        seed: u64,
        hours: i64,
        step_s: i64,
    ) -> Vec<Vec<SimReading>> {
        let mut scenario = Scenario::new(stations, storm, seed, start());
        (0..=hours * 3600 / step_s).map(|i| scenario.step(start() + Duration::seconds(i * step_s))).collect()
    }

    fn yellow(station: &StationInput) -> f64 {
        match &station.thresholds {
            Thresholds::Level { levels, .. } => levels.yellow.unwrap(),
            Thresholds::Rain(_) => panic!("{} is not a hydrometer", station.code),
        }
    }

    /// The series of the station at `index`.
    fn series(steps: &[Vec<SimReading>], index: usize) -> Vec<f64> {
        steps.iter().map(|s| s[index].value).collect()
    }

    fn argmax(v: &[f64]) -> usize {
        v.iter().enumerate().fold(0, |best, (i, x)| if *x > v[best] { i } else { best })
    }

    #[test]
    fn demo_stations_are_valid_and_spread_over_genova() {
        let stations = demo_stations(20, 1);
        assert_eq!(stations.len(), 20);
        let gauges = stations.iter().filter(|s| s.kind == StationKind::RainGauge).count();
        assert_eq!((gauges, 20 - gauges), (12, 8));
        assert_eq!(stations[0].code, "SIM-PLUV-0001");
        assert_eq!(stations[12].code, "SIM-IDRO-0001");
        assert_eq!(stations[0].name, "Pluviometro simulato 1 – Val Bisagno");
        for s in &stations {
            assert!((AREA[0]..=AREA[2]).contains(&s.lon) && (AREA[1]..=AREA[3]).contains(&s.lat), "{s:?}");
            // Round trip through the GeoJSON the importer reads: every check of a real station passes.
            let feature = serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": {
                    "code": s.code, "name": s.name, "kind": s.kind, "elevation": s.elevation_m,
                    "river": s.river, "basin": s.basin, "range": s.range, "interval_s": s.interval_s,
                    "thresholds": s.thresholds.to_json(), "properties": s.properties,
                }
            });
            assert_eq!(&StationInput::from_feature(&feature).unwrap(), s);
        }
        let idro = &stations[12];
        assert_eq!(idro.river.as_deref(), Some("Bisagno"));
        assert!((1.4..=1.9).contains(&yellow(idro)), "{idro:?}");
        assert!(demo_stations(0, 1).is_empty());
        assert_eq!(demo_stations(1, 1)[0].kind, StationKind::RainGauge);
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        assert_eq!(demo_stations(20, 7), demo_stations(20, 7));
        assert_ne!(demo_stations(20, 7), demo_stations(20, 8));
        let stations = demo_stations(20, 7);
        assert_eq!(run(&stations, true, 7, 2, 90), run(&stations, true, 7, 2, 90));
        assert_ne!(run(&stations, true, 7, 2, 90), run(&stations, true, 8, 2, 90));
    }

    #[test]
    fn rain_is_never_negative_and_comes_in_tips() {
        let stations = demo_stations(20, 3);
        let mut scenario = Scenario::new(&stations, true, 3, start());
        // Irregular steps, a repeated time and one going back.
        let mut t = start();
        let mut total = 0.0;
        for i in 0..400 {
            t += Duration::milliseconds(1_000 + (i * 7_919) % 170_000);
            if i % 50 == 10 {
                t -= Duration::seconds(30);
            }
            for r in scenario.step(t) {
                if r.quantity == Quantity::Rain {
                    assert!(r.value >= 0.0, "{r:?}");
                    let tips = r.value / TIP_MM;
                    assert!((tips - tips.round()).abs() < 1e-9, "{r:?}");
                    // The nearest double to a tenth, so that it prints as such in a payload.
                    assert_eq!(r.value, format!("{:.1}", r.value).parse::<f64>().unwrap(), "{r:?}");
                    total += r.value;
                }
            }
        }
        assert!(total > 0.0, "it rained during the storm");
    }

    #[test]
    fn the_rain_total_does_not_depend_on_the_steps() {
        let stations = demo_stations(10, 4);
        let fine = run(&stations, true, 4, 3, 60);
        let coarse = run(&stations, true, 4, 3, 540);
        for (i, s) in stations.iter().enumerate().filter(|(_, s)| s.kind == StationKind::RainGauge) {
            let (a, b): (f64, f64) = (series(&fine, i).iter().sum(), series(&coarse, i).iter().sum());
            // What differs is at most what is left in the bucket.
            assert!((a - b).abs() < TIP_MM + 1e-6, "{}: {a} vs {b}", s.code);
        }
    }

    #[test]
    fn the_first_step_reports_no_rain() {
        let stations = demo_stations(10, 5);
        let mut scenario = Scenario::new(&stations, true, 5, start());
        // Right under the cell, an hour in.
        let first = scenario.step(start() + Duration::hours(1));
        assert!(first.iter().filter(|r| r.quantity == Quantity::Rain).all(|r| r.value == 0.0), "{first:?}");
        assert_eq!(first.len(), 10);
    }

    #[test]
    fn in_a_storm_a_hydrometer_crosses_yellow_after_the_rain_peaks() {
        for seed in 1..=5 {
            let stations = demo_stations(20, seed);
            let steps = run(&stations, true, seed, 3, 60);
            let mut crossed = 0;
            for (i, s) in stations.iter().enumerate().filter(|(_, s)| s.kind == StationKind::Hydrometer) {
                let level = series(&steps, i);
                if !level.iter().any(|v| *v >= yellow(s)) {
                    continue;
                }
                crossed += 1;
                let at = Km::from_lon_lat(s.lon, s.lat);
                let (gauge, _) = stations
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| g.kind == StationKind::RainGauge)
                    .min_by(|(_, p), (_, q)| {
                        let d = |g: &StationInput| Km::from_lon_lat(g.lon, g.lat).dist2(at);
                        d(p).total_cmp(&d(q))
                    })
                    .unwrap();
                // Peak of the rain over 10 minutes, smoothing the tipping bucket.
                let rain = series(&steps, gauge);
                let rain_10: Vec<f64> =
                    (0..rain.len()).map(|m| rain[m.saturating_sub(9)..=m].iter().sum()).collect();
                let rain_peak = argmax(&rain_10) as i64 - 5;
                let level_peak = argmax(&level) as i64;
                let lag = level_peak - rain_peak;
                assert!((20..=60).contains(&lag), "seed {seed}, {}: lag {lag} min", s.code);
                // Then it recedes.
                assert!(level[level.len() - 1] < level[level_peak as usize] - 0.3, "{level:?}");
            }
            assert!(crossed >= 1, "seed {seed}: no hydrometer crossed yellow");
        }
    }

    #[test]
    fn without_a_storm_no_hydrometer_reaches_yellow() {
        for seed in 1..=5 {
            let stations = demo_stations(20, seed);
            let steps = run(&stations, false, seed, 24, 300);
            for (i, s) in stations.iter().enumerate() {
                let values = series(&steps, i);
                match s.kind {
                    StationKind::Hydrometer => {
                        let max = values.iter().copied().fold(0.0, f64::max);
                        assert!(max < yellow(s), "seed {seed}, {}: {max}", s.code);
                        assert!(max < 1.0, "seed {seed}, {}: {max}", s.code);
                    }
                    StationKind::RainGauge => {
                        let zeros = values.iter().filter(|v| **v == 0.0).count();
                        assert!(zeros * 10 >= values.len() * 7, "mostly dry: {values:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn levels_are_never_negative() {
        let mut stations = demo_stations(10, 9);
        // A hydrometer with odd thresholds (orange below the base flow) still behaves.
        stations.push(StationInput {
            code: "SIM-ODD".into(),
            thresholds: Thresholds::Level {
                levels: Levels { yellow: Some(0.1), orange: Some(0.2), red: None },
                clear: None,
            },
            ..stations[9].clone()
        });
        for storm in [false, true] {
            for step in run(&stations, storm, 9, 6, 120) {
                for r in step.iter().filter(|r| r.quantity == Quantity::Level) {
                    assert!(r.value >= 0.0 && r.value < 8.0, "{r:?}");
                    assert_eq!(r.value, (r.value * 100.0).round() / 100.0);
                }
            }
        }
    }
}
