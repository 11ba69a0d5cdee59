use std::time::Duration;

/// Everything that can go wrong in `tiles`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tile address outside the pyramid.
    #[error("tile {z}/{x}/{y} does not exist (zoom 0–24, x and y below 2^zoom)")]
    OutOfRange { z: u8, x: u32, y: u32 },
    /// A tile address that is not three whole numbers and `.mvt`.
    #[error(
        "`{path}` is not a tile address: write /tiles/{{layers}}/{{z}}/{{x}}/{{y}}.mvt with whole numbers"
    )]
    BadAddress { path: String },
    /// A layer name Vedetta does not serve.
    #[error(
        "no layer `{name}`: the layers are comuni, alert_zones, stations, reports, dbt, zoning, civici, streets"
    )]
    UnknownLayer { name: String },
    /// A list of layers that cannot be read.
    #[error("{detail}")]
    BadLayers { detail: String },
    /// A `date` that is not `YYYY-MM-DD` within the years 1000–9999.
    #[error("`date` {value:?} is not a date: write YYYY-MM-DD (years 1000–9999)")]
    BadDate { value: String },
    /// Connecting the tile pool to PostgreSQL/PostGIS failed (bad URL, server down, PostGIS missing or too old).
    #[error("cannot open the tile pool: {detail}")]
    Connect { detail: String },
    /// The query of a layer's tile failed.
    #[error("the {layer} tile {z}/{x}/{y} could not be made: {detail}")]
    Query { layer: &'static str, z: u8, x: u32, y: u32, detail: String },
    /// A tile took longer than its time limit (cancelled by PostgreSQL or given up waiting for a connection).
    #[error("the {layer} tile {z}/{x}/{y} took longer than {} ms", limit.as_millis())]
    Timeout { layer: &'static str, z: u8, x: u32, y: u32, limit: Duration },
    /// PostgreSQL cannot be reached for tiles (no connection, connection lost, server shutting down).
    #[error("the database is unavailable for tiles: {detail}")]
    Unavailable { detail: String },
    /// A lookup of the invalidator (station positions, zone extents) failed.
    #[error("tile invalidation could not read {what}: {source}")]
    Lookup {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

impl Error {
    /// Whether the request was at fault (4xx) rather than the server (5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Error::OutOfRange { .. }
                | Error::BadAddress { .. }
                | Error::UnknownLayer { .. }
                | Error::BadLayers { .. }
                | Error::BadDate { .. }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
