//! A webhook receiver for the tests of the dispatchers: plain HTTP/1.1 on 127.0.0.1, a thread per connection (a
//! slow answer holds up no other request), several requests per connection (keep-alive). It records every request
//! it answers (the status it answered, the headers, the body) and answers as its [`Behaviour`] says.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The status the receiver answered.
    pub status: u16,
    /// The request's headers, names in lower case (a repeated header keeps its last value).
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Hit {
    /// The value of header `name` (lower case); panics when the request had none.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap_or_else(|| panic!("header {name} missing: {:?}", self.headers))
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Answer `fail_status` to this many requests first.
    pub fail_first: usize,
    /// Answer `fail_status` to every request (see [`WebhookReceiver::set_always_fail`]).
    pub always_fail: bool,
    /// The status of a failure (500 unless told), sent with `fail_body`.
    pub fail_status: u16,
    pub fail_body: String,
    /// The status of a success (200 unless told), sent with no body.
    pub ok_status: u16,
    /// Wait this long before answering (and recording).
    pub delay: Duration,
}

impl Default for Behaviour {
    fn default() -> Behaviour {
        Behaviour {
            fail_first: 0,
            always_fail: false,
            fail_status: 500,
            fail_body: "database down\n".into(),
            ok_status: 200,
            delay: Duration::ZERO,
        }
    }
}

impl Behaviour {
    /// Answers `fail_status` to the first `n` requests, then `ok_status`.
    pub fn fail_first(n: usize) -> Behaviour {
        Behaviour { fail_first: n, ..Behaviour::default() }
    }
}

#[derive(Debug)]
struct Shared {
    behaviour: Mutex<Behaviour>,
    hits: Mutex<Vec<Hit>>,
}

/// A running receiver; its threads live as long as the test process.
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl WebhookReceiver {
    /// Listens on a free loopback port and answers as `behaviour` says.
    pub fn start(behaviour: Behaviour) -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("the receiver's address");
        let shared = Arc::new(Shared { behaviour: Mutex::new(behaviour), hits: Mutex::new(Vec::new()) });
        let state = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        WebhookReceiver { addr, shared }
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request answered so far, in the order of the answers.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Starts or stops failing every request.
    pub fn set_always_fail(&self, always_fail: bool) {
        self.shared.behaviour.lock().unwrap().always_fail = always_fail;
    }
}

/// Answers the requests of one connection until the client closes it, asks to close it or sends no HTTP.
fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Some((headers, body)) = read_request(&mut reader) {
        let close = headers.get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let delay = shared.behaviour.lock().unwrap().delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let (status, answer) = {
            let mut behaviour = shared.behaviour.lock().unwrap();
            let fail = behaviour.always_fail || behaviour.fail_first > 0;
            if fail {
                if !behaviour.always_fail {
                    behaviour.fail_first -= 1;
                }
                (behaviour.fail_status, behaviour.fail_body.clone())
            } else {
                (behaviour.ok_status, String::new())
            }
        };
        shared.hits.lock().unwrap().push(Hit { status, headers, body });
        let connection = if close { "close" } else { "keep-alive" };
        // A 204 or 304 carries no body and no Content-Length.
        let length = if matches!(status, 204 | 304) {
            String::new()
        } else {
            format!("Content-Length: {}\r\nContent-Type: text/plain\r\n", answer.len())
        };
        let response =
            format!("HTTP/1.1 {status} Webhook\r\n{length}Connection: {connection}\r\n\r\n{answer}");
        if writer.write_all(response.as_bytes()).and_then(|()| writer.flush()).is_err() || close {
            return;
        }
    }
}

/// One request: `None` at the end of the connection or on anything that is not HTTP/1.x (a TLS handshake).
fn read_request(reader: &mut impl BufRead) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let request_line = read_line(reader)?;
    let mut parts = request_line.split(' ');
    let (Some(_method), Some(_target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut headers = BTreeMap::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let chunked = headers.get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        let mut body = Vec::new();
        loop {
            let size = read_line(reader)?;
            let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !read_line(reader)?.is_empty() {}
                break body;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).ok()?;
            read_line(reader)?;
        }
    } else {
        let length: usize = match headers.get("content-length") {
            Some(value) => value.parse().ok()?,
            None => 0,
        };
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        body
    };
    Some((headers, body))
}

/// A line without its CRLF; `None` at the end of the stream or when it is not text.
fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    if reader.by_ref().take(64 * 1024).read_until(b'\n', &mut line).ok()? == 0 || !line.ends_with(b"\n") {
        return None;
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    String::from_utf8(line).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(stream: &mut TcpStream, request: &str) -> String {
        stream.write_all(request.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        head + &String::from_utf8(body).unwrap()
    }

    #[test]
    fn keep_alive_requests_fail_first_then_succeed_and_are_recorded() {
        let receiver = WebhookReceiver::start(Behaviour { ok_status: 204, ..Behaviour::fail_first(1) });
        let mut stream = TcpStream::connect(receiver.addr()).unwrap();
        let first = exchange(
            &mut stream,
            "POST /hook HTTP/1.1\r\nHost: x\r\nX-Vedetta-Event: a\r\nContent-Length: 5\r\n\r\nhello",
        );
        assert!(first.starts_with("HTTP/1.1 500 "), "{first}");
        assert!(first.ends_with("database down\n"), "{first}");
        let second = exchange(
            &mut stream,
            "POST /hook HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        );
        assert!(second.starts_with("HTTP/1.1 204 ") && second.contains("Connection: close"), "{second}");
        let hits = receiver.hits();
        assert_eq!(hits.iter().map(|h| h.status).collect::<Vec<_>>(), [500, 204]);
        assert_eq!((hits[0].header("x-vedetta-event"), hits[0].body.as_slice()), ("a", &b"hello"[..]));
        assert_eq!(hits[1].body, b"abcde");
    }

    #[test]
    fn what_is_not_http_is_not_recorded_and_always_fail_can_be_switched() {
        let receiver = WebhookReceiver::start(Behaviour { always_fail: true, ..Behaviour::default() });
        let mut tls = TcpStream::connect(receiver.addr()).unwrap();
        tls.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00, b'\n']).unwrap();
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "no answer to a TLS handshake");
        let mut stream = TcpStream::connect(receiver.addr()).unwrap();
        assert!(exchange(&mut stream, "POST /hook HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 500 "));
        receiver.set_always_fail(false);
        assert!(exchange(&mut stream, "POST /hook HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 "));
        assert_eq!(receiver.hits().iter().map(|h| h.status).collect::<Vec<_>>(), [500, 200]);
    }
}
