#![doc = include_str!("../README.md")]

mod cache;
mod coord;
mod encoding;
mod error;
mod invalidate;
mod layer;
mod service;
mod style;
mod tilejson;

pub use cache::{Tile, TileCache, TileKey};
pub use coord::{BUFFER, TileCoord};
pub use encoding::Encoding;
pub use error::{Error, Result};
pub use invalidate::Invalidator;
pub use layer::{Field, Layer, LayerSet};
pub use service::{TileRequest, Tiles, TilesOptions, parse_date};
pub use style::{LEVEL_COLOURS, style};
pub use tilejson::{ATTRIBUTION, tilejson};
