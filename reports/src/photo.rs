//! Report photos: checked, decoded, re-encoded without metadata, resized, thumbnailed and stored by content hash.
//!
//! [`process`] refuses what is not the image it claims to be (the format is sniffed from the bytes, never taken
//! from the declared type), decodes within limits, applies the EXIF orientation, scales the picture down to at most
//! [`MAX_SIDE`] pixels on its longest side and encodes it again from the pixels alone: nothing of the original file
//! but its pixels survives, so EXIF (GPS position, camera serial numbers), XMP, IPTC and comments are gone. JPEG
//! stays JPEG (quality 85), PNG stays PNG; WebP becomes JPEG (the `image` crate writes only lossless WebP, several
//! times larger than the lossy original), and the output's content type says so. Every photo gets a JPEG thumbnail
//! of at most [`THUMB_SIDE`] pixels.
//!
//! [`PhotoStore`] keeps the results as `<dir>/<first two hex digits>/<sha256>.<ext>`: a file's name is the SHA-256
//! of its bytes, so the same photo is stored once, files are never rewritten, and a name read from a URL is checked
//! to be 64 hexadecimal digits before it touches the file system.
//!
//! Decoding is CPU-bound (tens to hundreds of milliseconds for a phone photo): call [`process`] inside
//! `tokio::task::spawn_blocking`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The largest photo file accepted, in bytes (10 MiB).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// The longest side of a stored photo, in pixels.
pub const MAX_SIDE: u32 = 2048;
/// The longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// The longest side of an image that is decoded at all, in pixels.
pub const MAX_INPUT_SIDE: u32 = 12_000;
/// The most pixels of an image that is decoded at all (40 megapixels: a 2024 flagship phone takes 50 only in its
/// special mode).
pub const MAX_INPUT_PIXELS: u64 = 40_000_000;
/// The most memory the decoder may allocate (a 40-megapixel RGBA picture takes 160 MB).
const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;
/// JPEG quality of stored photos.
const JPEG_QUALITY: u8 = 85;
/// JPEG quality of thumbnails.
const THUMB_QUALITY: u8 = 80;

/// The content type of every thumbnail.
pub const THUMB_CONTENT_TYPE: &str = "image/jpeg";

/// A photo ready to store: re-encoded without metadata, resized, with its thumbnail.
#[derive(Clone, PartialEq, Eq)]
pub struct Processed {
    /// `image/jpeg` or `image/png` (a WebP upload is stored as JPEG).
    pub content_type: &'static str,
    /// The encoded photo.
    pub bytes: Vec<u8>,
    /// Its width in pixels (≤ [`MAX_SIDE`]).
    pub width: u32,
    /// Its height in pixels (≤ [`MAX_SIDE`]).
    pub height: u32,
    /// Lower-case hex SHA-256 of `bytes`: the photo's id and file name.
    pub sha256: String,
    /// The JPEG thumbnail (≤ [`THUMB_SIDE`] pixels a side).
    pub thumb: Vec<u8>,
    /// Lower-case hex SHA-256 of `thumb`.
    pub thumb_sha256: String,
    /// The thumbnail's width in pixels.
    pub thumb_width: u32,
    /// The thumbnail's height in pixels.
    pub thumb_height: u32,
}

impl std::fmt::Debug for Processed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processed")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("sha256", &self.sha256)
            .field("thumb", &self.thumb.len())
            .field("thumb_sha256", &self.thumb_sha256)
            .finish()
    }
}

/// The photo formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Jpeg,
    Png,
    Webp,
}

impl Kind {
    /// The kind a declared content type names (`image/jpeg`, `image/jpg`, `image/png`, `image/webp`; parameters and
    /// case ignored).
    fn declared(content_type: &str) -> Result<Kind> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Ok(Kind::Jpeg),
            "image/png" => Ok(Kind::Png),
            "image/webp" => Ok(Kind::Webp),
            _ => Err(Error::PhotoType { declared: printable(content_type) }),
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            Kind::Jpeg => ImageFormat::Jpeg,
            Kind::Png => ImageFormat::Png,
            Kind::Webp => ImageFormat::WebP,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Webp => "WebP",
        }
    }
}

/// A declared type as it may appear in a message: at most 100 characters, no control characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// The name of a sniffed format, for messages (`a GIF image`, …).
fn describe(format: ImageFormat) -> String {
    let name = match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        ImageFormat::Gif => "image/gif",
        ImageFormat::Bmp => "image/bmp",
        ImageFormat::Tiff => "image/tiff",
        ImageFormat::Avif => "image/avif",
        ImageFormat::Ico => "image/x-icon",
        other => return format!("an image of another kind ({other:?})"),
    };
    name.to_string()
}

/// Checks, decodes and re-encodes an uploaded photo whose sender declared `declared` (its content type).
///
/// Errors: [`Error::PhotoTooLarge`] over [`MAX_BYTES`]; [`Error::PhotoType`] when `declared` is not JPEG, PNG or
/// WebP; [`Error::PhotoNotImage`] when the bytes are no image; [`Error::PhotoMismatch`] when they are an image of
/// another kind than declared; [`Error::PhotoDimensions`] beyond [`MAX_INPUT_SIDE`] or [`MAX_INPUT_PIXELS`];
/// [`Error::PhotoDecode`] when the image is corrupt. CPU-bound: run it in `spawn_blocking`.
pub fn process(bytes: &[u8], declared: &str) -> Result<Processed> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::PhotoTooLarge { bytes: bytes.len(), max: MAX_BYTES });
    }
    let kind = Kind::declared(declared)?;
    let sniffed =
        image::guess_format(bytes).map_err(|_| Error::PhotoNotImage { declared: printable(declared) })?;
    if sniffed != kind.format() {
        return Err(Error::PhotoMismatch { declared: printable(declared), actual: describe(sniffed) });
    }
    let picture = decode(bytes, kind)?;
    let picture = fit(picture, MAX_SIDE);
    let (content_type, encoded) = match kind {
        Kind::Png => ("image/png", encode_png(&picture)?),
        Kind::Jpeg | Kind::Webp => ("image/jpeg", encode_jpeg(&picture, JPEG_QUALITY)?),
    };
    let thumb = fit(picture.clone(), THUMB_SIDE);
    let thumb_bytes = encode_jpeg(&thumb, THUMB_QUALITY)?;
    Ok(Processed {
        content_type,
        sha256: sha256_hex(&encoded),
        bytes: encoded,
        width: picture.width(),
        height: picture.height(),
        thumb_sha256: sha256_hex(&thumb_bytes),
        thumb: thumb_bytes,
        thumb_width: thumb.width(),
        thumb_height: thumb.height(),
    })
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn decode(bytes: &[u8], kind: Kind) -> Result<DynamicImage> {
    let failed = |e: image::ImageError| match e {
        image::ImageError::Limits(limit) => Error::PhotoDecode {
            format: kind.name(),
            reason: format!("it needs more memory than allowed ({limit})"),
        },
        other => Error::PhotoDecode { format: kind.name(), reason: other.to_string() },
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE);
    limits.max_image_height = Some(MAX_INPUT_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(limits);
    let too_big = |width: u32, height: u32| Error::PhotoDimensions {
        width,
        height,
        max_side: MAX_INPUT_SIDE,
        max_megapixels: (MAX_INPUT_PIXELS / 1_000_000) as u32,
    };
    let mut decoder = match reader.into_decoder() {
        Ok(decoder) => decoder,
        Err(image::ImageError::Limits(_)) => {
            // The header alone already said the image is too large: say how large.
            let mut plain = ImageReader::with_format(Cursor::new(bytes), kind.format());
            plain.no_limits();
            let (width, height) = plain.into_dimensions().unwrap_or((0, 0));
            return Err(too_big(width, height));
        }
        Err(e) => return Err(failed(e)),
    };
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::PhotoDecode { format: kind.name(), reason: "it has no pixels".into() });
    }
    if u64::from(width) * u64::from(height) > MAX_INPUT_PIXELS {
        return Err(too_big(width, height));
    }
    // A broken orientation tag is no reason to refuse the picture: it is shown as stored.
    let orientation = decoder.orientation().ok();
    let mut picture = DynamicImage::from_decoder(decoder).map_err(failed)?;
    if let Some(orientation) = orientation {
        picture.apply_orientation(orientation);
    }
    Ok(picture)
}

/// The dimensions of `width`×`height` scaled down to at most `side` on the longest side, ratio kept (rounded to the
/// nearest pixel, at least 1); unchanged when already within.
pub fn fitted(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= side || longest == 0 {
        return (width, height);
    }
    let scale = |n: u32| -> u32 {
        let scaled = (u64::from(n) * u64::from(side) + u64::from(longest) / 2) / u64::from(longest);
        u32::try_from(scaled).unwrap_or(side).clamp(1, side)
    };
    (scale(width), scale(height))
}

fn fit(picture: DynamicImage, side: u32) -> DynamicImage {
    let (width, height) = fitted(picture.width(), picture.height(), side);
    if (width, height) == (picture.width(), picture.height()) {
        return picture;
    }
    // Area averaging (each output pixel the mean of the input pixels it covers): the right filter for a reduction,
    // and three times faster than the `Triangle` convolution (0.17 s against 0.5 s for 12 megapixels to 3).
    picture.thumbnail_exact(width, height)
}

/// The picture as 8-bit RGB, transparent parts laid on white (JPEG has no alpha).
fn rgb_on_white(picture: &DynamicImage) -> RgbImage {
    if !picture.color().has_alpha() {
        return picture.to_rgb8();
    }
    let rgba = picture.to_rgba8();
    let (width, height) = rgba.dimensions();
    let mut raw = Vec::with_capacity(width as usize * height as usize * 3);
    for pixel in rgba.pixels() {
        let [r, g, b, a] = pixel.0;
        let a = u32::from(a);
        for channel in [r, g, b] {
            let blended = (u32::from(channel) * a + 255 * (255 - a) + 127) / 255;
            raw.push(u8::try_from(blended).unwrap_or(u8::MAX));
        }
    }
    RgbImage::from_raw(width, height, raw).unwrap_or_else(|| picture.to_rgb8())
}

fn encode_jpeg(picture: &DynamicImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let encoder = JpegEncoder::new_with_quality(&mut out, quality);
    let result = if picture.color().channel_count() <= 2 && !picture.color().has_alpha() {
        DynamicImage::ImageLuma8(picture.to_luma8()).write_with_encoder(encoder)
    } else {
        DynamicImage::ImageRgb8(rgb_on_white(picture)).write_with_encoder(encoder)
    };
    result.map_err(|e| Error::PhotoEncode { format: "JPEG", reason: e.to_string() })?;
    Ok(out)
}

fn encode_png(picture: &DynamicImage) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let encoder = PngEncoder::new_with_quality(&mut out, CompressionType::Default, PngFilter::Adaptive);
    // 8-bit output: 16-bit channels double the size for a difference no screen shows.
    let picture = match picture {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageLumaA8(_) => picture.clone(),
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => picture.clone(),
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    };
    picture
        .write_with_encoder(encoder)
        .map_err(|e| Error::PhotoEncode { format: "PNG", reason: e.to_string() })?;
    Ok(out)
}

/// Whether `id` is a photo id: 64 lower-case hexadecimal digits.
pub fn is_photo_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The file extension of each stored content type, in the order [`PhotoStore::open`] looks for them.
const EXTENSIONS: [(&str, &str); 3] = [("jpg", "image/jpeg"), ("png", "image/png"), ("webp", "image/webp")];

fn extension_of(content_type: &str) -> &'static str {
    EXTENSIONS.iter().find(|(_, ct)| *ct == content_type).map_or("jpg", |(ext, _)| ext)
}

/// Processed photos on disk, named by the SHA-256 of their bytes.
#[derive(Debug, Clone)]
pub struct PhotoStore {
    dir: PathBuf,
}

impl PhotoStore {
    /// A store under `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> PhotoStore {
        PhotoStore { dir: dir.into() }
    }

    /// The directory the store writes to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, sha256: &str, extension: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(format!("{sha256}.{extension}"))
    }

    /// Stores the photo and its thumbnail (each written to a temporary file, then renamed into place, so a reader
    /// never sees half a file). A file already there is kept: its name is its content's hash.
    pub async fn save(&self, photo: &Processed) -> Result<()> {
        self.put(&photo.sha256, photo.content_type, &photo.bytes).await?;
        self.put(&photo.thumb_sha256, THUMB_CONTENT_TYPE, &photo.thumb).await
    }

    async fn put(&self, sha256: &str, content_type: &str, bytes: &[u8]) -> Result<()> {
        if !is_photo_id(sha256) {
            return Err(Error::PhotoId { given: printable(sha256) });
        }
        let path = self.path_of(sha256, extension_of(content_type));
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::PhotoStore { action, path, source }
        };
        let folder = path.parent().unwrap_or(&self.dir).to_path_buf();
        tokio::fs::create_dir_all(&folder).await.map_err(io("create", &folder))?;
        let temporary = folder.join(format!(".{sha256}.{:016x}.tmp", rand::random::<u64>()));
        let written = async {
            let mut file = tokio::fs::File::create(&temporary).await.map_err(io("create", &temporary))?;
            tokio::io::AsyncWriteExt::write_all(&mut file, bytes).await.map_err(io("write", &temporary))?;
            file.sync_all().await.map_err(io("sync", &temporary))?;
            tokio::fs::rename(&temporary, &path).await.map_err(io("rename into", &path))
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
        written
    }

    /// The stored file named `sha256` (a photo or a thumbnail) and its content type; `None` when there is none.
    /// [`Error::PhotoId`] when `sha256` is not 64 lower-case hexadecimal digits (so a name taken from a URL never
    /// reaches the file system unchecked).
    pub async fn open(&self, sha256: &str) -> Result<Option<(Vec<u8>, &'static str)>> {
        if !is_photo_id(sha256) {
            return Err(Error::PhotoId { given: printable(sha256) });
        }
        for (extension, content_type) in EXTENSIONS {
            let path = self.path_of(sha256, extension);
            match tokio::fs::read(&path).await {
                Ok(bytes) => return Ok(Some((bytes, content_type))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(Error::PhotoStore { action: "read", path, source }),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_the_ratio() {
        assert_eq!(fitted(3000, 1000, 2048), (2048, 683));
        assert_eq!(fitted(1000, 3000, 2048), (683, 2048));
        assert_eq!(fitted(2048, 10, 320), (320, 2));
        assert_eq!(fitted(12000, 1, 2048), (2048, 1));
        assert_eq!(fitted(800, 600, 2048), (800, 600));
    }

    #[test]
    fn declared_types_are_read_leniently_and_others_refused() {
        assert_eq!(Kind::declared("image/jpeg").unwrap(), Kind::Jpeg);
        assert_eq!(Kind::declared("Image/JPG; q=1").unwrap(), Kind::Jpeg);
        assert_eq!(Kind::declared("image/webp").unwrap(), Kind::Webp);
        assert!(matches!(Kind::declared("image/gif"), Err(Error::PhotoType { .. })));
        assert!(matches!(Kind::declared("text/plain"), Err(Error::PhotoType { .. })));
    }

    #[test]
    fn photo_ids_are_64_lower_case_hex_digits() {
        assert!(is_photo_id(&"a".repeat(64)));
        assert!(!is_photo_id(&"A".repeat(64)));
        assert!(!is_photo_id(&"a".repeat(63)));
        assert!(!is_photo_id(&format!("../{}", "a".repeat(61))));
    }
}
