/// Everything that can go wrong in `tiles`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tile address outside the pyramid.
    #[error("tile {z}/{x}/{y} does not exist (zoom 0–24, x and y below 2^zoom)")]
    OutOfRange { z: u8, x: u32, y: u32 },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
