//! Prepares the web app's assets for embedding: the pages' own HTML, JS and CSS (`assets/*.{html,js,css}`) and the
//! vendored browser library (MapLibre GL JS, copied into `assets/vendor/` by `scripts/webapp.sh`, which `make`
//! runs), so that Vedetta serves every asset itself (no CDN: it works on an intranet).
//!
//! For each asset it writes to `OUT_DIR/assets/` the bytes as served, their gzip (level 9) and brotli (quality 11)
//! compressions (kept only when smaller), and generates `assets.rs`: a table of every asset with its content type
//! and strong ETag, for `src/pages.rs`. Compressing at build time costs nothing per request; a compression is
//! reused from an earlier build while its input is unchanged (MapLibre's ~1.6 MB take ~20 s in an unoptimised
//! build script).
//!
//! The vendored files are served under a versioned path, `/assets/vendor/<version>/<file>` (the version is a hash
//! of their contents), so that they can be cached for a year: the pages' references to `/assets/vendor/` are
//! rewritten to it here. MapLibre loads its worker relative to its own URL, so the worker gets the version too.
//!
//! Without the vendored files — a `cargo build` on a clean clone, without npm — a small placeholder is embedded
//! instead and the pages say to run `make deps`; the build never fails for their absence.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// (file in assets/vendor, placeholder).
const VENDORED: [(&str, &str); 3] = [
    ("maplibre-gl.mjs", "export const unavailable = \"run make deps\";\n"),
    ("maplibre-gl-worker.mjs", "// MapLibre is not vendored: run make deps\n"),
    ("maplibre-gl.css", "/* MapLibre is not vendored: run make deps */\n"),
];

/// One asset to embed: its name under `/assets/` (unversioned), its bytes as served, whether it is vendored.
struct Source {
    name: String,
    bytes: Vec<u8>,
    vendored: bool,
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let assets = manifest.join("assets");
    let vendor = assets.join("vendor");
    // The whole assets directory (scanned recursively by cargo): vendor/ appearing or changing rebuilds, and a
    // missing vendor/ does not make every build rerun this script.
    println!("cargo::rerun-if-changed=assets");
    println!("cargo::rerun-if-changed=build.rs");

    let all = VENDORED.iter().all(|(file, _)| vendor.join(file).is_file());
    let mut sources = Vec::new();
    for (file, placeholder) in VENDORED {
        let bytes = if all { read(&vendor.join(file)) } else { placeholder.as_bytes().to_vec() };
        sources.push(Source { name: format!("vendor/{file}"), bytes, vendored: true });
    }
    let mut hash = Sha256::new();
    for s in &sources {
        hash.update(s.name.as_bytes());
        hash.update((s.bytes.len() as u64).to_le_bytes());
        hash.update(&s.bytes);
    }
    let version = hex(&hash.finalize()[..8]);

    let mut own: Vec<PathBuf> = std::fs::read_dir(&assets)
        .expect("webmap/assets is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && content_type(p).is_some())
        .collect();
    own.sort();
    for path in own {
        let name = path.file_name().and_then(|n| n.to_str()).expect("asset names are UTF-8").to_string();
        let text = String::from_utf8(read(&path)).unwrap_or_else(|_| panic!("{name} is not UTF-8"));
        let text = text.replace("/assets/vendor/", &format!("/assets/vendor/{version}/"));
        sources.push(Source { name, bytes: text.into_bytes(), vendored: false });
    }

    let dir = out.join("assets");
    std::fs::create_dir_all(dir.join("vendor")).expect("OUT_DIR is writable");
    // Compressed in parallel (brotli at quality 11 is slow in an unoptimised build script).
    let compressed: Vec<(Option<PathBuf>, Option<PathBuf>)> = std::thread::scope(|scope| {
        let dir = &dir;
        let jobs: Vec<_> = sources.iter().map(|s| scope.spawn(move || compress(dir, s))).collect();
        jobs.into_iter().map(|j| j.join().expect("compressing an asset")).collect()
    });

    let mut code = String::new();
    writeln!(
        code,
        "/// The version of the vendored files in their URLs (`/assets/vendor/<version>/<file>`)."
    )
    .unwrap();
    writeln!(code, "pub(crate) const VENDOR_VERSION: &str = {version:?};").unwrap();
    writeln!(code, "/// Whether the vendored files are the real ones (not placeholders).").unwrap();
    writeln!(code, "pub(crate) const VENDORED: bool = {all};").unwrap();
    writeln!(code, "pub(crate) const ASSETS: &[super::Asset] = &[").unwrap();
    for (s, (gz, br)) in sources.iter().zip(compressed) {
        let identity = dir.join(&s.name);
        write_if_changed(&identity, &s.bytes);
        let include = |p: &Option<PathBuf>| match p {
            Some(p) => format!("Some(include_bytes!({:?}))", p.display().to_string()),
            None => "None".to_string(),
        };
        writeln!(
            code,
            "    super::Asset {{ name: {:?}, content_type: {:?}, vendored: {}, etag: {:?}, identity: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            s.name,
            content_type(Path::new(&s.name)).expect("every asset has a known type"),
            s.vendored,
            hex(&Sha256::digest(&s.bytes)[..12]),
            identity.display().to_string(),
            include(&gz),
            include(&br),
        )
        .unwrap();
    }
    writeln!(code, "];").unwrap();
    write_if_changed(&out.join("assets.rs"), code.as_bytes());
}

/// The content type of an asset by its extension, or None for files that are not assets.
fn content_type(path: &Path) -> Option<&'static str> {
    match path.extension().and_then(|e| e.to_str())? {
        "html" => Some("text/html; charset=utf-8"),
        "js" | "mjs" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        _ => None,
    }
}

/// Writes the gzip and brotli forms of `s` next to it in `dir` (unless an earlier build did, from the same bytes);
/// answers their paths, None for a form not smaller than the bytes themselves.
fn compress(dir: &Path, s: &Source) -> (Option<PathBuf>, Option<PathBuf>) {
    let digest = hex(&Sha256::digest(&s.bytes));
    let gz = dir.join(format!("{}.gz", s.name));
    let br = dir.join(format!("{}.br", s.name));
    let stamp = dir.join(format!("{}.sha256", s.name));
    let fresh = std::fs::read_to_string(&stamp).is_ok_and(|d| d == digest) && gz.is_file() && br.is_file();
    if !fresh {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&s.bytes).expect("gzip into memory");
        write_if_changed(&gz, &encoder.finish().expect("gzip into memory"));
        let mut out = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
        brotli::BrotliCompress(&mut &s.bytes[..], &mut out, &params).expect("brotli into memory");
        write_if_changed(&br, &out);
        std::fs::write(&stamp, &digest).expect("OUT_DIR is writable");
    }
    let smaller = |p: PathBuf| {
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(u64::MAX);
        (len < s.bytes.len() as u64).then_some(p)
    };
    (smaller(gz), smaller(br))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Writes `bytes` unless the file already holds them (an unchanged file keeps its time: no needless recompiles).
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
