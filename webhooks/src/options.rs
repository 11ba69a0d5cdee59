//! How a dispatcher behaves: timeout, attempts, backoff, lease, polling and concurrency.

use std::time::Duration;

use crate::{Error, Result};

/// How a dispatcher behaves. [`Default`] gives the production values of the alerts' webhooks.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryOptions {
    /// Longest a request may take, connection and answer included (default 10 s).
    pub timeout: Duration,
    /// Attempts before a delivery is dead (default 8).
    pub max_attempts: u32,
    /// Wait after the first failure; each later failure doubles it (default 1 s: 1, 2, 4 … s).
    pub backoff_base: Duration,
    /// The longest wait between two attempts (default 10 min).
    pub backoff_max: Duration,
    /// How long a claimed delivery is reserved for the process that claimed it before another may take it over
    /// (if that process died mid-request). Raised to `timeout + 5 s` when shorter (default 60 s).
    pub lease: Duration,
    /// How often to look for due deliveries when nothing wakes the dispatcher (default 500 ms; new deliveries
    /// also wake it through LISTEN/NOTIFY).
    pub poll_interval: Duration,
    /// Requests in flight at once in this process (default 8).
    pub concurrency: usize,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            concurrency: 8,
        }
    }
}

impl DeliveryOptions {
    /// The wait after the `attempt`-th failed attempt (1-based): `backoff_base · 2^(attempt−1)`, at most
    /// `backoff_max`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        database::outbox::backoff(self.backoff_base, self.backoff_max, attempt)
    }

    /// Refuses inconsistent options ([`Error::InvalidOptions`]): a zero timeout or poll interval, no attempt, no
    /// concurrency.
    pub fn check(&self) -> Result<()> {
        let bad = |reason: &'static str| Err(Error::InvalidOptions { reason });
        if self.timeout.is_zero() {
            return bad("the request timeout must be above zero");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1");
        }
        if self.poll_interval.is_zero() {
            return bad("the poll interval must be above zero");
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1");
        }
        Ok(())
    }

    /// How long a claim reserves a delivery: the lease, at least `timeout + 5 s`.
    pub fn effective_lease(&self) -> Duration {
        self.lease.max(self.timeout + Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let opts = DeliveryOptions::default();
        let waits: Vec<u64> = (1..=12).map(|n| opts.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(opts.backoff(u32::MAX), Duration::from_secs(600));
        assert_eq!(opts.effective_lease(), Duration::from_secs(60));
        let short = DeliveryOptions { lease: Duration::from_secs(1), ..DeliveryOptions::default() };
        assert_eq!(short.effective_lease(), Duration::from_secs(15));
    }

    #[test]
    fn inconsistent_options_are_refused() {
        for opts in [
            DeliveryOptions { max_attempts: 0, ..DeliveryOptions::default() },
            DeliveryOptions { concurrency: 0, ..DeliveryOptions::default() },
            DeliveryOptions { timeout: Duration::ZERO, ..DeliveryOptions::default() },
            DeliveryOptions { poll_interval: Duration::ZERO, ..DeliveryOptions::default() },
        ] {
            assert!(matches!(opts.check(), Err(Error::InvalidOptions { .. })), "{opts:?}");
        }
        DeliveryOptions::default().check().unwrap();
    }
}
