//! `multipart/form-data` (RFC 7578) of a body already read and bounded: the parts of a report filed with photos.
//! The parts are slices of the body (no copy).

use axum::body::Bytes;

/// One part of a form.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// The form field (`name` of its Content-Disposition).
    pub(crate) name: String,
    /// Its Content-Type header, if any, lowercased and without parameters.
    pub(crate) content_type: Option<String>,
    pub(crate) data: Bytes,
}

/// Most parts a form may have (a report, five photos and a few fields).
const MAX_PARTS: usize = 16;
/// Most bytes of one part's headers.
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// The `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut pieces = content_type.split(';');
    if !pieces.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    pieces
        .find_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_string())
        })
        .filter(|b| (1..=70).contains(&b.len()) && b.bytes().all(|c| (b' '..=b'~').contains(&c)))
}

/// Where `needle` first occurs in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= haystack.len() {
        let at = i + haystack[i..=haystack.len() - needle.len()].iter().position(|&b| b == first)?;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The parts of `body`, a `multipart/form-data` body delimited by `boundary`. The error says what is wrong.
pub(crate) fn parse(body: &Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos = find(body, delimiter.as_bytes(), 0)
        .ok_or_else(|| "the multipart body does not contain its boundary".to_string())?
        + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding (spaces, tabs) may follow the delimiter before its line break.
        let line_end = find(body, b"\r\n", pos)
            .ok_or_else(|| "the multipart body ends inside a delimiter line".to_string())?;
        if body[pos..line_end].iter().any(|b| !matches!(b, b' ' | b'\t')) {
            return Err("a multipart delimiter is followed by something else than a line break".into());
        }
        let start = line_end + 2;
        let (header_text, data_start) = if body[start..].starts_with(b"\r\n") {
            ("", start + 2)
        } else {
            let end = find(body, b"\r\n\r\n", start)
                .filter(|end| end - start <= MAX_HEADER_BYTES)
                .ok_or_else(|| {
                    "a part of the multipart body has no end of headers (or headers over 8 KB)".to_string()
                })?;
            let text = std::str::from_utf8(&body[start..end])
                .map_err(|_| "the headers of a part are not UTF-8".to_string())?;
            (text, end + 4)
        };
        let data_end = find(body, next_delimiter.as_bytes(), data_start)
            .ok_or_else(|| "the multipart body ends before its closing boundary".to_string())?;
        if parts.len() == MAX_PARTS {
            return Err(format!("a report takes at most {MAX_PARTS} form parts"));
        }
        parts.push(part(header_text, body.slice(data_start..data_end))?);
        pos = data_end + next_delimiter.len();
    }
}

/// A part from its header lines and its data.
fn part(headers: &str, data: Bytes) -> Result<Part, String> {
    let mut name = None;
    let mut content_type = None;
    for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("a part header is not `Name: value`: {line:?}"));
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            let mut params = value.split(';');
            if !params.next().is_some_and(|kind| kind.trim().eq_ignore_ascii_case("form-data")) {
                return Err("every part must be `Content-Disposition: form-data`".into());
            }
            for param in params {
                let Some((k, v)) = param.split_once('=') else { continue };
                let v = v.trim().trim_matches('"').to_string();
                if k.trim().eq_ignore_ascii_case("name") {
                    name = Some(v);
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            content_type = value.split(';').next().map(|t| t.trim().to_ascii_lowercase());
        }
    }
    let name = name.ok_or_else(|| "a part has no `name` in its Content-Disposition".to_string())?;
    Ok(Part { name, content_type, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(boundary: &str) -> Bytes {
        let body = format!(
            "preamble\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"report\"\r\n\
             Content-Type: application/json\r\n\r\n{{\"a\":1}}\r\n--{boundary}\r\n\
             Content-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n\
             Content-Type: image/JPEG\r\n\r\n\x00\r\n--x\r\n\r\n--{boundary}--\r\n"
        );
        Bytes::from(body)
    }

    #[test]
    fn parts_are_read_with_their_names_types_and_bytes() {
        let ct = "multipart/form-data; boundary=\"XyZ123\"";
        let b = boundary(ct).unwrap();
        assert_eq!(b, "XyZ123");
        let parts = parse(&form(&b), &b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].data.as_ref()), ("report", &b"{\"a\":1}"[..]));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/jpeg"));
        // A line starting with `--` inside the data that is not the boundary stays data.
        assert_eq!(parts[1].data.as_ref(), b"\x00\r\n--x\r\n");
    }

    #[test]
    fn broken_forms_are_refused_with_a_reason() {
        assert!(boundary("application/json").is_none());
        assert!(boundary("multipart/form-data").is_none());
        let b = "B";
        for bad in [
            "no boundary here",
            "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nunterminated",
            "--B\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nv\r\n--B--",
            "--B\r\nContent-Disposition: form-data\r\n\r\nv\r\n--B--",
            "--Bjunk\r\n",
        ] {
            assert!(parse(&Bytes::from(bad), b).is_err(), "{bad:?}");
        }
        let many: String = (0..20)
            .map(|i| format!("--B\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n"))
            .collect::<String>()
            + "--B--";
        assert!(parse(&Bytes::from(many), b).unwrap_err().contains("at most"));
    }
}
