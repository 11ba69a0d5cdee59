//! The MapLibre style of Vedetta's layers: one vector source per layer (so that a live layer's tiles can be
//! refreshed alone), circle, line and fill layers only — no glyphs or sprites to fetch, nothing outside Vedetta.
//! Layer titles are in Italian (`metadata."vedetta:title"`), for the layer switcher and the legend.

use serde_json::{Value, json};

use crate::{Layer, LayerSet};

/// Colours of the alert levels (verde, gialla, arancione, rossa), as the Italian civil protection shows them.
pub const LEVEL_COLOURS: [(&str, &str); 4] =
    [("verde", "#2e7d32"), ("gialla", "#f9a825"), ("arancione", "#ef6c00"), ("rossa", "#c62828")];

/// The style document, its tiles under `public_url`.
pub fn style(public_url: &str) -> Value {
    let base = public_url.trim_end_matches('/');
    let mut sources = serde_json::Map::new();
    for layer in Layer::ALL {
        let (minzoom, maxzoom) = layer.zooms();
        let mut source = json!({
            "type": "vector",
            "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", layer.name())],
            "minzoom": minzoom,
            "maxzoom": maxzoom,
            "attribution": crate::tilejson::ATTRIBUTION,
        });
        if layer == Layer::AlertZones {
            // Zones are named by code (feature-state by zone code).
            source["promoteId"] = json!({ "alert_zones": "code" });
        }
        sources.insert(layer.name().to_string(), source);
    }
    let level_colour = {
        let mut m = vec![json!("match"), json!(["get", "level"])];
        for (level, colour) in LEVEL_COLOURS {
            m.push(json!(level));
            m.push(json!(colour));
        }
        m.push(json!("#757575"));
        Value::Array(m)
    };
    let title = |layer: Layer| json!({ "vedetta:title": layer.title(), "vedetta:layer": layer.name() });
    let layers = json!([
        {"id": "sfondo", "type": "background", "paint": {"background-color": "#f4f1ea"},
         "metadata": {"vedetta:title": "Sfondo"}},
        {"id": "zoning-fill", "type": "fill", "source": "zoning", "source-layer": "zoning",
         "metadata": title(Layer::Zoning), "layout": {"visibility": "none"},
         "paint": {"fill-opacity": 0.45, "fill-color": ["match", ["get", "class"],
            "A", "#b71c1c", "B", "#ef6c00", "C", "#fdd835", "D", "#6a1b9a", "E", "#7cb342", "F", "#0277bd",
            "#9e9e9e"]}},
        {"id": "zoning-line", "type": "line", "source": "zoning", "source-layer": "zoning",
         "metadata": title(Layer::Zoning), "layout": {"visibility": "none"},
         "paint": {"line-color": "#424242", "line-width": 0.8}},
        {"id": "dbt-fill", "type": "fill", "source": "dbt", "source-layer": "dbt",
         "filter": ["==", ["geometry-type"], "Polygon"], "metadata": title(Layer::Dbt),
         "paint": {"fill-color": "#d7ccc8", "fill-outline-color": "#8d6e63"}},
        {"id": "dbt-line", "type": "line", "source": "dbt", "source-layer": "dbt",
         "filter": ["==", ["geometry-type"], "LineString"], "metadata": title(Layer::Dbt),
         "paint": {"line-color": "#8d6e63", "line-width": 1}},
        {"id": "comuni-line", "type": "line", "source": "comuni", "source-layer": "comuni",
         "metadata": title(Layer::Comuni),
         "paint": {"line-color": "#5d4037", "line-width": ["interpolate", ["linear"], ["zoom"], 6, 0.6, 14, 2]}},
        {"id": "alert_zones-fill", "type": "fill", "source": "alert_zones", "source-layer": "alert_zones",
         "metadata": title(Layer::AlertZones),
         "paint": {"fill-color": level_colour.clone(),
                   "fill-opacity": ["match", ["get", "level"], "verde", 0.06, 0.3]}},
        {"id": "alert_zones-line", "type": "line", "source": "alert_zones", "source-layer": "alert_zones",
         "metadata": title(Layer::AlertZones),
         "paint": {"line-color": level_colour.clone(), "line-width": 2}},
        {"id": "streets-circle", "type": "circle", "source": "streets", "source-layer": "streets",
         "minzoom": 15, "metadata": title(Layer::Streets),
         "paint": {"circle-radius": 2, "circle-color": "#616161"}},
        {"id": "civici-circle", "type": "circle", "source": "civici", "source-layer": "civici",
         "minzoom": 17, "metadata": title(Layer::Civici),
         "paint": {"circle-radius": 2.5, "circle-color": "#37474f"}},
        {"id": "reports-circle", "type": "circle", "source": "reports", "source-layer": "reports",
         "metadata": title(Layer::Reports),
         "paint": {"circle-radius": ["interpolate", ["linear"], ["zoom"], 8, 3, 16, 7],
                   "circle-color": ["match", ["get", "status"],
                       "new", "#1565c0", "reopened", "#1565c0", "acknowledged", "#00838f",
                       "in_progress", "#6a1b9a", "#757575"],
                   "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5}},
        {"id": "stations-circle", "type": "circle", "source": "stations", "source-layer": "stations",
         "metadata": title(Layer::Stations),
         "paint": {"circle-radius": ["interpolate", ["linear"], ["zoom"], 6, 4, 14, 9],
                   "circle-color": ["case", ["get", "silent"], "#9e9e9e", level_colour],
                   "circle-stroke-color": ["match", ["get", "kind"], "hydrometer", "#0d47a1", "#263238"],
                   "circle-stroke-width": 2}}
    ]);
    json!({
        "version": 8,
        "name": "Vedetta",
        "metadata": {"vedetta:live": LayerSet::default().with(Layer::Stations).with(Layer::Reports)
            .with(Layer::AlertZones).iter().map(Layer::name).collect::<Vec<_>>()},
        "center": [8.93, 44.41],
        "zoom": 11,
        "sources": sources,
        "layers": layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_style_needs_nothing_from_outside() {
        let s = style("http://vedetta.test");
        assert_eq!(s["version"], 8);
        assert!(s.get("glyphs").is_none() && s.get("sprite").is_none());
        let text = s.to_string();
        assert!(!text.contains("text-field") && !text.contains("https://"), "{text}");
        for layer in s["layers"].as_array().unwrap() {
            if let Some(source) = layer["source"].as_str() {
                assert!(s["sources"][source].is_object(), "{layer}");
                assert_eq!(layer["source-layer"], source);
            }
        }
        assert_eq!(
            s["sources"]["stations"]["tiles"][0],
            "http://vedetta.test/tiles/stations/{z}/{x}/{y}.mvt"
        );
    }
}
