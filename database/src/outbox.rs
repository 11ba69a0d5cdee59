//! What every outbox drainer shares (alert and report webhooks, reporters' emails): the retry backoff, the wait for
//! a NOTIFY, and the text of an error with its causes for `last_error` and the log.

use std::time::Duration;

use sqlx::postgres::PgListener;

/// The wait after the `attempt`-th failed attempt (1-based): `base · 2^(attempt−1)`, at most `max`.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    base.saturating_mul(factor).min(max)
}

/// The next notification of `listener`; without one (LISTEN failed, the drainer polls) it never comes.
pub async fn next_notification(listener: &mut Option<PgListener>) -> Result<(), sqlx::Error> {
    match listener {
        Some(listener) => listener.recv().await.map(|_| ()),
        None => std::future::pending().await,
    }
}

/// An error with its causes, `outer: inner: innermost` (a cause already in the text is not repeated).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(600));
        let waits: Vec<u64> = (1..=12).map(|n| backoff(base, max, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff(base, max, u32::MAX), max);
        assert_eq!(backoff(base, max, 0), base);
    }

    #[test]
    fn an_error_chain_names_each_cause_once() {
        #[derive(Debug)]
        struct Wrap(std::io::Error);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("request failed")
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(error_chain(&Wrap(std::io::Error::other("timed out"))), "request failed: timed out");
        // A cause whose text the outer message already carries is not repeated.
        let said = std::io::Error::other("request failed");
        assert_eq!(error_chain(&Wrap(said)), "request failed");
    }
}
