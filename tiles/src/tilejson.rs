//! TileJSON 3.0 documents of layers and layer sets.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use tilejson::{TileJSON, VectorLayer};

use crate::{Layer, LayerSet};

/// Where the data comes from, for the map's attribution.
pub const ATTRIBUTION: &str =
    "Vedetta; ISTAT; ANNCSU (Agenzia delle Entrate, ISTAT); DB Topografico regionale";

/// The TileJSON of `layers`, its tiles at `{public_url}/tiles/{layers}/{z}/{x}/{y}.mvt` (with `?date=` when given
/// and a layer reads it).
pub fn tilejson(layers: LayerSet, public_url: &str, date: Option<NaiveDate>) -> TileJSON {
    let mut url = format!("{}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt", public_url.trim_end_matches('/'));
    if let Some(date) = date.filter(|_| layers.takes_date()) {
        url.push_str(&format!("?date={date}"));
    }
    let vector_layers: Vec<VectorLayer> = layers.iter().map(vector_layer).collect();
    let minzoom = layers.iter().map(|l| l.zooms().0).min().unwrap_or(0);
    let maxzoom = layers.iter().map(|l| l.zooms().1).max().unwrap_or(0);
    let name = layers.iter().map(Layer::title).collect::<Vec<_>>().join(", ");
    let description = layers.iter().map(Layer::description).collect::<Vec<_>>().join(". ");
    tilejson::tilejson! {
        tiles: vec![url],
        vector_layers: vector_layers,
        name: name,
        description: description,
        attribution: ATTRIBUTION.to_string(),
        minzoom: minzoom,
        maxzoom: maxzoom,
    }
}

fn vector_layer(layer: Layer) -> VectorLayer {
    let fields: BTreeMap<String, String> = layer
        .fields()
        .iter()
        .map(|f| (f.name.to_string(), format!("{}: {}", f.kind, f.description)))
        .collect();
    let mut v = VectorLayer::new(layer.name().to_string(), fields);
    let (min, max) = layer.zooms();
    v.description = Some(format!("{} (feature id: {})", layer.description(), layer.id_field()));
    v.minzoom = Some(min);
    v.maxzoom = Some(max);
    v.other.insert("title".into(), layer.title().into());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilejson_names_its_tiles_and_layers() {
        let doc = tilejson(LayerSet::parse("stations,zoning").unwrap(), "http://vedetta.test/", None);
        let v = serde_json::to_value(&doc).unwrap();
        assert_eq!(v["tilejson"], "3.0.0");
        assert_eq!(v["tiles"][0], "http://vedetta.test/tiles/zoning,stations/{z}/{x}/{y}.mvt");
        assert_eq!(v["vector_layers"][1]["id"], "stations");
        assert_eq!(v["minzoom"], 0);
        assert_eq!(v["maxzoom"], 18);
        let dated =
            tilejson(LayerSet::parse("zoning").unwrap(), "http://v", NaiveDate::from_ymd_opt(2020, 1, 2));
        assert_eq!(dated.tiles[0], "http://v/tiles/zoning/{z}/{x}/{y}.mvt?date=2020-01-02");
    }
}
