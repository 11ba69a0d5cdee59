//! Embeds the vendored browser libraries (MapLibre GL JS, copied into `assets/vendor/` by `scripts/webapp.sh`,
//! which `make` runs) into the binary, so that Vedetta serves every asset itself (no CDN: it works on an intranet).
//! Without them — a `cargo build` on a clean clone, without npm — a small placeholder is embedded instead and the
//! pages say to run `make deps`; the build never fails for their absence.

use std::path::Path;

/// (constant, file in assets/vendor, placeholder).
const VENDORED: [(&str, &str, &str); 3] = [
    ("MAPLIBRE_JS", "maplibre-gl.mjs", "export const unavailable = \"run make deps\";\n"),
    ("MAPLIBRE_WORKER", "maplibre-gl-worker.mjs", "// MapLibre is not vendored: run make deps\n"),
    ("MAPLIBRE_CSS", "maplibre-gl.css", "/* MapLibre is not vendored: run make deps */\n"),
];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let vendor = Path::new(&manifest).join("assets").join("vendor");
    // The whole assets directory (scanned recursively by cargo): vendor/ appearing or changing rebuilds, and a
    // missing vendor/ does not make every build rerun this script.
    println!("cargo::rerun-if-changed=assets");
    println!("cargo::rerun-if-changed=build.rs");
    let all = VENDORED.iter().all(|(_, file, _)| vendor.join(file).is_file());
    let mut code = String::new();
    for (name, file, placeholder) in VENDORED {
        let path = vendor.join(file);
        let bytes = if all {
            format!("include_bytes!({:?})", path.display().to_string())
        } else {
            format!("{placeholder:?}.as_bytes()")
        };
        code.push_str(&format!("pub(crate) const {name}: &[u8] = {bytes};\n"));
    }
    std::fs::write(Path::new(&out).join("vendor.rs"), code).expect("OUT_DIR is writable");
}
