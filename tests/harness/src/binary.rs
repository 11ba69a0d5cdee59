//! The release `vedetta` binary the benchmarks measure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The workspace's root folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cargo target folder (`CARGO_TARGET_DIR`, or `target/` of the workspace).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// `target/release/vedetta` of this workspace (or `explicit`), built with cargo when missing; a warning on stderr
/// when it is older than the sources it is built from, so that a benchmark never measures stale code unnoticed.
pub fn release_vedetta(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("no Vedetta binary at {}", path.display()))
        };
    }
    let root = workspace_root();
    let path = target_dir().join("release/vedetta");
    if !path.is_file() {
        eprintln!("{} is missing; building it: cargo build --release -p vedetta", path.display());
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "vedetta"])
            .current_dir(&root)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build --release -p vedetta failed ({status})"));
        }
        if !path.is_file() {
            return Err(format!("cargo built Vedetta but {} is not there", path.display()));
        }
    }
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    let newest = ["vedetta", "webmap", "geodata", "sensors", "database", "ingest"]
        .iter()
        .filter_map(|krate| newest_file(&root.join(krate).join("src")))
        .max();
    if let (Some(built), Some(newest)) = (built, newest)
        && newest > built
    {
        eprintln!(
            "warning: {} is older than the sources; `cargo build --release -p vedetta` to measure the code as it is",
            path.display()
        );
    }
    Ok(path.canonicalize().unwrap_or(path))
}

/// The binary's path and when it was built (UTC), so that a stale build shows in a report.
pub fn describe_binary(path: &Path) -> String {
    let built = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| "?".into());
    format!("`{}` built {built}", path.display())
}

/// The newest modification time of a file under `dir`.
fn newest_file(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time =
            if path.is_dir() { newest_file(&path) } else { entry.metadata().and_then(|m| m.modified()).ok() };
        newest = newest.max(time);
    }
    newest
}
