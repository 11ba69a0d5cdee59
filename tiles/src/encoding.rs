//! Content encodings of tiles: which one a client accepts, and compressing to it.

use std::io::Write;

/// A content encoding Vedetta answers tiles with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` value (`None` for identity).
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// The best encoding an `Accept-Encoding` header allows: brotli, then gzip, then none. A coding with `q=0`
    /// is refused; `*` stands for any coding not named.
    pub fn negotiate(accept: Option<&str>) -> Encoding {
        let Some(accept) = accept else { return Encoding::Identity };
        let (mut br, mut gzip, mut any) = (None, None, None);
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let accepted = q > 0.0;
            match name.as_str() {
                "br" => br = Some(accepted),
                "gzip" | "x-gzip" => gzip = Some(accepted),
                "*" => any = Some(accepted),
                _ => {}
            }
        }
        if br.or(any) == Some(true) {
            Encoding::Brotli
        } else if gzip.or(any) == Some(true) {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }

    /// `raw` compressed to this encoding.
    pub fn compress(self, raw: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Identity => raw.to_vec(),
            Encoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(raw.len() / 2),
                    flate2::Compression::new(6),
                );
                // Writing into a Vec cannot fail.
                let _ = encoder.write_all(raw);
                encoder.finish().unwrap_or_default()
            }
            Encoding::Brotli => {
                let mut out = Vec::with_capacity(raw.len() / 2);
                let params = brotli::enc::BrotliEncoderParams { quality: 6, lgwin: 22, ..Default::default() };
                let mut input = raw;
                // Reading a slice and writing a Vec cannot fail.
                let _ = brotli::BrotliCompress(&mut input, &mut out, &params);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_best_accepted_encoding_wins() {
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(Encoding::negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("br;q=0, gzip;q=0.5")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some("*")), Encoding::Brotli);
        assert_eq!(Encoding::negotiate(Some("*;q=0, identity")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("deflate")), Encoding::Identity);
        assert_eq!(Encoding::negotiate(Some("GZIP;Q=1")), Encoding::Gzip);
        assert_eq!(Encoding::negotiate(Some(";;,,q=")), Encoding::Identity);
    }

    #[test]
    fn compressed_bytes_decompress_to_the_tile() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let gz = Encoding::Gzip.compress(&raw);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, raw);
        let br = Encoding::Brotli.compress(&raw);
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut back).unwrap();
        assert_eq!(back, raw);
        assert!(br.len() < raw.len() && gz.len() < raw.len());
    }
}
