//! Email to reporters: an outbox (`reports.notification`) written in the transaction that changes a report, and a
//! [`Mailer`] that drains it over SMTP from any number of processes.
//!
//! - [`enqueue`] adds a message inside the caller's transaction (so a status change and its email commit together)
//!   and wakes the mailers at commit (`NOTIFY` on [`NOTIFY_CHANNEL`]).
//! - [`status_change`] writes the status-change message: Italian first, English second, the public tracking link,
//!   and nothing private (it reads only a [`PublicReport`]).
//! - [`Mailer::run`] claims due messages with `FOR UPDATE SKIP LOCKED`, reserving each for a lease (the attempt is
//!   counted at the claim), sends them with `lettre`, and records `sent`, a retry with exponential backoff, or
//!   `dead` after [`MailConfig::max_attempts`] attempts or at the first permanent refusal (SMTP 5xx).
//!
//! With an empty [`MailConfig::smtp_host`] mail is off: messages stay queued, nothing is sent.

use std::time::Duration;

use database::outbox::{error_chain, next_notification};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool, Row};
use tokio_util::sync::CancellationToken;

use crate::report::PublicReport;
use crate::{Error, Result, Status};

/// The channel [`enqueue`] notifies (at commit) and the mailers listen on.
pub const NOTIFY_CHANNEL: &str = "vedetta_mail";

/// Longest subject accepted by [`enqueue`], in characters.
const MAX_SUBJECT: usize = 500;
/// Longest body accepted by [`enqueue`], in bytes.
const MAX_BODY: usize = 64 * 1024;
/// How much of an SMTP error is kept in `last_error`.
const MAX_ERROR: usize = 500;

/// The `[mail]` section of the configuration: how reporters' emails leave.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP relay; empty (the default) turns mail off: messages stay queued.
    pub smtp_host: String,
    /// Its port (default 25; 587 with `starttls`).
    pub smtp_port: u16,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    /// SMTP AUTH user name, if the relay wants one (needs `password` too).
    pub username: Option<String>,
    /// SMTP AUTH password.
    pub password: Option<String>,
    /// Upgrade the connection with STARTTLS (required, certificate checked against the system's roots); plain SMTP
    /// otherwise, for a relay on the same host or network.
    pub starttls: bool,
    /// Attempts before a message is given up (`dead`).
    pub max_attempts: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_host: String::new(),
            smtp_port: 25,
            from: "Vedetta <noreply@localhost>".into(),
            username: None,
            password: None,
            starttls: false,
            max_attempts: 8,
        }
    }
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("starttls", &self.starttls)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl MailConfig {
    /// Whether mail is sent at all (a host is set).
    pub fn enabled(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }

    /// Checks what can be checked without a connection: the sender address, the port, the credentials pair, the
    /// attempts.
    pub fn check(&self) -> Result<()> {
        self.sender()?;
        if self.enabled() && self.smtp_port == 0 {
            return Err(Error::MailSetup("smtp_port must be above 0".into()));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(Error::MailSetup("username and password go together".into()));
        }
        if self.max_attempts == 0 {
            return Err(Error::MailSetup("max_attempts must be at least 1".into()));
        }
        Ok(())
    }

    fn sender(&self) -> Result<Mailbox> {
        self.from.parse::<Mailbox>().map_err(|e| {
            Error::MailSetup(format!("`from` = `{}` is not an email address: {e}", printable(&self.from)))
        })
    }
}

/// Text as it may appear in an error message: no control characters, at most 200 characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Checks that `address` is one email address (`user@example.org`) mail can be sent to: the check [`enqueue`]
/// makes, for callers that want to refuse a bad address when they receive it (on filing a report).
pub fn check_address(address: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::MailAddress { address: printable(address), reason: reason.into() });
    if address.len() > 254 {
        return bad("longer than 254 characters");
    }
    if address.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("it holds spaces or control characters");
    }
    match address.parse::<Address>() {
        Ok(_) => Ok(()),
        Err(e) => bad(&e.to_string()),
    }
}

/// Queues an email to `to` about report `report_id`, inside the caller's transaction: it is sent only if that
/// transaction commits, and the mailers are woken at commit.
///
/// Errors: [`Error::MailAddress`] when `to` is no address; [`Error::Invalid`] for an empty or oversized subject or
/// body (a subject of at most 500 characters, one line; a body of at most 64 KiB).
pub async fn enqueue(
    conn: &mut PgConnection,
    report_id: i64,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<()> {
    check_address(to)?;
    if subject.trim().is_empty() || subject.chars().count() > MAX_SUBJECT || subject.contains(['\r', '\n']) {
        return Err(Error::Invalid("an email subject is one line of 1 to 500 characters".into()));
    }
    if body.trim().is_empty() || body.len() > MAX_BODY {
        return Err(Error::Invalid("an email body holds 1 byte to 64 KiB".into()));
    }
    sqlx::query(
        "insert into reports.notification (report_id, to_address, subject, body) values ($1, $2, $3, $4)",
    )
    .bind(report_id)
    .bind(to)
    .bind(subject)
    .bind(body)
    .execute(&mut *conn)
    .await?;
    sqlx::query("select pg_notify($1, '')").bind(NOTIFY_CHANNEL).execute(&mut *conn).await?;
    Ok(())
}

/// The English name of a status, for the second half of an email.
fn label_en(status: Status) -> &'static str {
    match status {
        Status::New => "New",
        Status::Acknowledged => "Taken in charge",
        Status::InProgress => "In progress",
        Status::Resolved => "Resolved",
        Status::Closed => "Closed",
        Status::Rejected => "Rejected",
        Status::Duplicate => "Duplicate",
        Status::Reopened => "Reopened",
    }
}

/// The subject and body of the email telling a reporter that `report` changed status: Italian, then English; the
/// report's public page `{public_url}/segnalazioni/{id}`. Reads public fields only (there is no other kind in a
/// [`PublicReport`]), so it can reveal nothing about anyone.
pub fn status_change(report: &PublicReport, public_url: &str) -> (String, String) {
    let link = format!("{}/segnalazioni/{}", public_url.trim_end_matches('/'), report.id);
    let id = report.id;
    let label_it = report.status.label_it();
    let label_en = label_en(report.status);
    let subject = format!("Segnalazione n. {id}: {label_it} / Report no. {id}: {label_en}");
    let place = match &report.address {
        Some(address) if !address.trim().is_empty() => format!("{address}, {}", report.comune_name),
        _ => report.comune_name.clone(),
    };
    let mut it = format!(
        "Gentile segnalatrice, gentile segnalatore,\n\nla segnalazione n. {id} ({}, {place}) ora è: {label_it}.\n",
        report.category_name
    );
    let mut en = format!(
        "Dear reporter,\n\nreport no. {id} ({}, {place}) is now: {label_en}.\n",
        report.category_name
    );
    if report.status == Status::Duplicate
        && let Some(original) = report.duplicate_of
    {
        it.push_str(&format!(
            "Riguarda lo stesso problema della segnalazione n. {original}: gli aggiornamenti seguiranno quella.\n"
        ));
        en.push_str(&format!(
            "It is about the same problem as report no. {original}, which updates will follow.\n"
        ));
    }
    if let Some(note) = report.public_note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        it.push_str(&format!("\nNota del Comune: {note}\n"));
        en.push_str(&format!("\nNote from the comune: {note}\n"));
    }
    it.push_str(&format!("\nPuò seguirla qui: {link}\n"));
    en.push_str(&format!("\nFollow it here: {link}\n"));
    let body = format!(
        "{it}\n----------------------------------------\n\n{en}\n--\nMessaggio automatico, non rispondere. / \
         Automatic message, please do not reply.\n"
    );
    (subject, body)
}

/// One claimed message.
struct Job {
    id: i64,
    attempt: u32,
    to: String,
    subject: String,
    body: String,
}

/// What an attempt came to.
enum Outcome {
    Sent,
    /// Worth another attempt (connection refused, timeout, SMTP 4xx).
    Retry(String),
    /// Never going to work (bad address, SMTP 5xx).
    Permanent(String),
}

/// Drains `reports.notification` over SMTP. Build one per process with [`Mailer::new`] and [`run`](Mailer::run) it
/// until shutdown; several processes may run one at once.
///
/// A claim counts the attempt and moves `next_attempt_at` to the end of a lease in one short statement; the message
/// is sent with no row lock held; a second statement records the outcome. A process that dies mid-send leaves the
/// message to be claimed again when the lease ends. A message is therefore sent at least once.
pub struct Mailer {
    pool: PgPool,
    config: MailConfig,
    from: Mailbox,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    poll_interval: Duration,
    backoff_base: Duration,
    backoff_max: Duration,
    lease: Duration,
    batch: i64,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("config", &self.config).finish_non_exhaustive()
    }
}

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Mailer {
    /// A mailer on `pool` with `config` (errors: [`Error::MailSetup`] for an unusable sender, port, credentials or
    /// attempts). Retries wait 1 min after the first failure, doubling up to 1 h.
    pub fn new(pool: PgPool, config: MailConfig) -> Result<Mailer> {
        config.check()?;
        let from = config.sender()?;
        let transport = if config.enabled() {
            let host = config.smtp_host.trim();
            let builder = if config.starttls {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                    .map_err(|e| Error::MailSetup(format!("STARTTLS to {host}: {e}")))?
            } else {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            };
            let mut builder = builder.port(config.smtp_port).timeout(Some(SMTP_TIMEOUT));
            if let (Some(user), Some(password)) = (&config.username, &config.password) {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            Some(builder.build())
        } else {
            None
        };
        Ok(Mailer {
            pool,
            config,
            from,
            transport,
            poll_interval: Duration::from_secs(5),
            backoff_base: Duration::from_secs(60),
            backoff_max: Duration::from_secs(3600),
            lease: SMTP_TIMEOUT + Duration::from_secs(30),
            batch: 16,
        })
    }

    /// Looks for due messages every `poll` when no `NOTIFY` wakes the mailer (default 5 s).
    pub fn with_poll_interval(mut self, poll: Duration) -> Mailer {
        self.poll_interval = poll.max(Duration::from_millis(10));
        self
    }

    /// Waits `base` after the first failure, doubling each time up to `max` (defaults 1 min and 1 h).
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Mailer {
        self.backoff_base = base;
        self.backoff_max = max.max(base);
        self
    }

    /// Whether this mailer sends at all (an SMTP host is configured).
    pub fn enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// The wait after the `attempt`-th failure (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        database::outbox::backoff(self.backoff_base, self.backoff_max, attempt)
    }

    /// Sends until `cancel` fires (a message being sent is finished first). Database and SMTP errors are logged and
    /// retried: the mailer outlives a restart of either. With mail off it only waits for `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        if !self.enabled() {
            tracing::info!("Mail is off (no smtp_host): reporters' emails stay queued.");
            cancel.cancelled().await;
            return;
        }
        tracing::info!(host = %self.config.smtp_host, port = self.config.smtp_port, "Mailer started.");
        let mut listener: Option<PgListener> = None;
        while !cancel.is_cancelled() {
            if listener.is_none() {
                listener = self.listen().await;
            }
            match self.send_due().await {
                // A full batch: there may be more due at once.
                Ok(sent) if sent as i64 >= self.batch => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "Mailer could not work the queue."),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                notified = next_notification(&mut listener) => {
                    if let Err(error) = notified {
                        tracing::warn!(%error, "Mailer lost its LISTEN connection; polling meanwhile.");
                        listener = None;
                    }
                }
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
        }
        tracing::info!("Mailer stopped.");
    }

    async fn listen(&self) -> Option<PgListener> {
        let attempt = async {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match attempt.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "Mailer cannot LISTEN; polling only for now.");
                None
            }
        }
    }

    /// One pass: buries messages abandoned on their last attempt, claims up to a batch of due ones and sends them
    /// one after the other. Returns how many were claimed (0 with mail off).
    pub async fn send_due(&self) -> Result<usize> {
        let Some(transport) = &self.transport else {
            return Ok(0);
        };
        self.bury_abandoned().await?;
        let jobs = self.claim().await?;
        let claimed = jobs.len();
        for job in jobs {
            let outcome = self.send(transport, &job).await;
            if let Err(error) = self.record(&job, &outcome).await {
                tracing::warn!(notification = job.id, %error, "Mail outcome not recorded; the lease will retry it.");
            }
        }
        Ok(claimed)
    }

    fn max_attempts(&self) -> i32 {
        i32::try_from(self.config.max_attempts).unwrap_or(i32::MAX)
    }

    async fn bury_abandoned(&self) -> Result<()> {
        let buried = sqlx::query(
            "update reports.notification
                set state = 'dead',
                    last_error = 'attempt ' || attempts || ' never reported back (its mailer stopped mid-send)'
                                 || coalesce('; before it: ' || last_error, '')
              where state = 'pending' and attempts >= $1 and next_attempt_at <= now()",
        )
        .bind(self.max_attempts())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if buried > 0 {
            tracing::warn!(buried, "Emails abandoned mid-send are dead.");
            metrics::counter!("vedetta_report_emails_total", "outcome" => "dead").increment(buried);
        }
        Ok(())
    }

    async fn claim(&self) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "with due as (
                 select id from reports.notification
                  where state = 'pending' and next_attempt_at <= now() and attempts < $2
                  order by next_attempt_at, id
                  limit $1
                    for update skip locked
             )
             update reports.notification n
                set attempts = n.attempts + 1, next_attempt_at = now() + make_interval(secs => $3)
               from due
              where n.id = due.id
          returning n.id, n.attempts, n.to_address, n.subject, n.body",
        )
        .bind(self.batch)
        .bind(self.max_attempts())
        .bind(self.lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let attempts: i32 = row.try_get("attempts")?;
                Ok(Job {
                    id: row.try_get("id")?,
                    attempt: u32::try_from(attempts).unwrap_or(1),
                    to: row.try_get("to_address")?,
                    subject: row.try_get("subject")?,
                    body: row.try_get("body")?,
                })
            })
            .collect()
    }

    async fn send(&self, transport: &AsyncSmtpTransport<Tokio1Executor>, job: &Job) -> Outcome {
        let to = match job.to.parse::<Mailbox>() {
            Ok(to) => to,
            Err(e) => return Outcome::Permanent(format!("`{}` is not an address: {e}", printable(&job.to))),
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(job.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(job.body.clone());
        let message = match message {
            Ok(message) => message,
            Err(e) => return Outcome::Permanent(format!("cannot build the message: {e}")),
        };
        match transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Permanent(error_text(&e)),
            Err(e) => Outcome::Retry(error_text(&e)),
        }
    }

    async fn record(&self, job: &Job, outcome: &Outcome) -> Result<()> {
        let attempt = i32::try_from(job.attempt).unwrap_or(i32::MAX);
        match outcome {
            Outcome::Sent => {
                sqlx::query(
                    "update reports.notification set state = 'sent', sent_at = now(), last_error = null
                      where id = $1 and state = 'pending'",
                )
                .bind(job.id)
                .execute(&self.pool)
                .await?;
                metrics::counter!("vedetta_report_emails_total", "outcome" => "sent").increment(1);
                tracing::info!(notification = job.id, attempt = job.attempt, "Email sent.");
            }
            Outcome::Retry(error) | Outcome::Permanent(error) => {
                let dead =
                    matches!(outcome, Outcome::Permanent(_)) || job.attempt >= self.config.max_attempts;
                let wait = self.backoff(job.attempt);
                sqlx::query(
                    "update reports.notification
                        set state = case when $3 then 'dead' else 'pending' end,
                            next_attempt_at = case when $3 then now() else now() + make_interval(secs => $4) end,
                            last_error = $5
                      where id = $1 and state = 'pending' and attempts = $2",
                )
                .bind(job.id)
                .bind(attempt)
                .bind(dead)
                .bind(wait.as_secs_f64())
                .bind(error)
                .execute(&self.pool)
                .await?;
                if dead {
                    metrics::counter!("vedetta_report_emails_total", "outcome" => "dead").increment(1);
                    tracing::warn!(notification = job.id, attempt = job.attempt, %error, "Email given up.");
                } else {
                    metrics::counter!("vedetta_report_emails_total", "outcome" => "retry").increment(1);
                    tracing::info!(
                        notification = job.id,
                        attempt = job.attempt,
                        retry_in_s = wait.as_secs(),
                        %error,
                        "Email not sent; will retry."
                    );
                }
            }
        }
        Ok(())
    }
}

/// An SMTP error with its causes, cut to [`MAX_ERROR`] characters.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    error_chain(error).chars().filter(|c| !c.is_control()).take(MAX_ERROR).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_off_and_valid() {
        let config = MailConfig::default();
        assert!(!config.enabled());
        config.check().unwrap();
        let parsed: MailConfig = serde_json::from_str(r#"{"smtp_host": "mail.example.org"}"#).unwrap();
        assert!(parsed.enabled());
        assert_eq!(parsed.smtp_port, 25);
        assert!(serde_json::from_str::<MailConfig>(r#"{"smtp_hots": "x"}"#).is_err());
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad_from = MailConfig { from: "not an address".into(), ..MailConfig::default() };
        assert!(matches!(bad_from.check(), Err(Error::MailSetup(_))));
        let half_auth = MailConfig { username: Some("u".into()), ..MailConfig::default() };
        assert!(matches!(half_auth.check(), Err(Error::MailSetup(_))));
    }

    #[test]
    fn the_password_is_not_in_debug_output() {
        let config = MailConfig {
            username: Some("u".into()),
            password: Some("hunter2-secret".into()),
            ..MailConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn addresses_are_checked() {
        check_address("mario.rossi@example.org").unwrap();
        for bad in ["", "mario", "mario@", "a b@example.org", "x@example.org\r\nBcc: y@example.org"] {
            assert!(matches!(check_address(bad), Err(Error::MailAddress { .. })), "{bad:?}");
        }
    }
}
