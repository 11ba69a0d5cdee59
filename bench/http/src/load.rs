//! The load generator: `clients` closed-loop clients, each an OS thread with one keep-alive HTTP/1.1 connection
//! (a ureq agent of its own), sending GETs back to back from a fixed list of URLs for a warm-up and then a measured
//! window. Every request started inside the window counts, however late it ends (bounded by the request timeout):
//! requests/s is those requests over the window, the latencies are theirs, an error is any answer but 200 or a
//! transport failure (a timeout included).

use std::io::Read;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// How a cell runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub clients: usize,
    pub warmup: Duration,
    pub measure: Duration,
    /// Longest a request may take (connect to the end of the body).
    pub timeout: Duration,
}

/// What one cell measured.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Requests started in the window.
    pub requests: u64,
    /// Of those, answers other than 200 and failures.
    pub errors: u64,
    /// The window, in seconds.
    pub seconds: f64,
    /// Latencies of the requests of the window, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Body bytes of the successful requests of the window.
    pub bytes: u64,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
}

impl Cell {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 { self.requests as f64 / self.seconds } else { 0.0 }
    }

    /// The `q` quantile (nearest rank), in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.latencies_us.len() as f64).ceil() as usize).clamp(1, self.latencies_us.len());
        self.latencies_us[rank - 1] as f64 / 1000.0
    }

    /// The slowest request, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.latencies_us.last().map_or(f64::NAN, |&us| us as f64 / 1000.0)
    }

    /// Mean body size of the successful requests, in kB.
    pub fn mean_kb(&self) -> f64 {
        let ok = self.requests - self.errors;
        if ok == 0 { f64::NAN } else { self.bytes as f64 / ok as f64 / 1000.0 }
    }
}

/// One client's share of a cell.
#[derive(Debug, Default)]
struct Share {
    requests: u64,
    errors: u64,
    latencies_us: Vec<u64>,
    bytes: u64,
    first_error: Option<String>,
}

/// Runs `plan.clients` clients over `urls` (client `i` starts at URL `i` and walks the list, so that every URL is
/// asked about equally often whatever the number of clients). `sample` is called when the measured window opens
/// and when it closes; both results are returned with the cell.
pub fn run<S>(urls: &[String], plan: Plan, mut sample: impl FnMut() -> S) -> Result<(Cell, S, S)> {
    anyhow::ensure!(!urls.is_empty() && plan.clients > 0, "a cell needs URLs and clients");
    let urls: Arc<Vec<String>> = Arc::new(urls.to_vec());
    let start = Arc::new(Barrier::new(plan.clients + 1));
    let mut handles = Vec::with_capacity(plan.clients);
    for i in 0..plan.clients {
        let (urls, start) = (Arc::clone(&urls), Arc::clone(&start));
        let handle = std::thread::Builder::new()
            .name(format!("client-{i}"))
            .stack_size(256 * 1024)
            .spawn(move || client(i, &urls, &start, plan))
            .context("cannot start a client thread")?;
        handles.push(handle);
    }
    start.wait();
    std::thread::sleep(plan.warmup);
    let opened = sample();
    std::thread::sleep(plan.measure);
    let closed = sample();
    let mut cell = Cell { seconds: plan.measure.as_secs_f64(), ..Cell::default() };
    for handle in handles {
        let share = handle.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
        cell.requests += share.requests;
        cell.errors += share.errors;
        cell.bytes += share.bytes;
        cell.latencies_us.extend(share.latencies_us);
        if cell.first_error.is_none() {
            cell.first_error = share.first_error;
        }
    }
    cell.latencies_us.sort_unstable();
    Ok((cell, opened, closed))
}

fn client(i: usize, urls: &[String], start: &Barrier, plan: Plan) -> Share {
    // One connection, kept alive between requests; none of the compression a browser would ask for.
    let agent = ureq::AgentBuilder::new()
        .timeout(plan.timeout)
        .max_idle_connections(1)
        .max_idle_connections_per_host(1)
        .build();
    let mut share = Share::default();
    let mut sink = vec![0u8; 64 * 1024];
    start.wait();
    let t0 = Instant::now();
    let (window_start, window_end) = (t0 + plan.warmup, t0 + plan.warmup + plan.measure);
    let mut n = i;
    loop {
        let begun = Instant::now();
        if begun >= window_end {
            break;
        }
        let url = &urls[n % urls.len()];
        n += 1;
        let outcome = fetch(&agent, url, &mut sink);
        let elapsed = begun.elapsed();
        if begun < window_start {
            continue;
        }
        share.requests += 1;
        share.latencies_us.push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
        match outcome {
            Ok(bytes) => share.bytes += bytes,
            Err(e) => {
                share.errors += 1;
                if share.first_error.is_none() {
                    share.first_error = Some(format!("{url}: {e}"));
                }
            }
        }
    }
    share
}

/// GETs `url` and reads the whole body (so that the connection can serve the next request): its size, or why the
/// request failed.
fn fetch(agent: &ureq::Agent, url: &str, sink: &mut [u8]) -> std::result::Result<u64, String> {
    let response = match agent.get(url).call() {
        Ok(response) => response,
        Err(ureq::Error::Status(status, response)) => {
            let body = response.into_string().unwrap_or_default();
            let short: String = body.chars().take(200).collect();
            return Err(format!("status {status}: {short}"));
        }
        Err(e) => return Err(e.to_string()),
    };
    let mut reader = response.into_reader();
    let mut total = 0u64;
    loop {
        match reader.read(sink) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) => return Err(format!("reading the body: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let cell = Cell { latencies_us: (1..=100).map(|ms| ms * 1000).collect(), ..Cell::default() };
        assert_eq!(cell.quantile_ms(0.5), 50.0);
        assert_eq!(cell.quantile_ms(0.95), 95.0);
        assert_eq!(cell.quantile_ms(0.99), 99.0);
        assert_eq!(cell.max_ms(), 100.0);
        assert!(Cell::default().quantile_ms(0.5).is_nan());
    }
}
