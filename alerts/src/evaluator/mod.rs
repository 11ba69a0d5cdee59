//! The alert evaluator: one at a time across every Vedetta process (a PostgreSQL advisory lock), fed by the
//! `readings.committed` events of the live-event spine.
//!
//! The leader reads events from its durable cursor (`alerts.consumer_cursor`, consumer `evaluator`), evaluates the
//! rules on the readings they announce, in observation-time order, and commits in one transaction the alerts that
//! changed, their history, the webhook deliveries, the ladder states, the `alert.changed` events and the new cursor.
//! A restart or a takeover therefore resumes exactly after the last batch that committed: no alert is duplicated or
//! lost, and a reading evaluated once is never evaluated again (replayed and duplicated readings change nothing: the
//! writer stores a reading once, and a ladder ignores samples not newer than the last it took).
//!
//! Every [`EvaluatorOptions::tick`] the leader also reloads rules, stations and zones, evaluates silent stations
//! (wall-clock time against each station's interval) and recomputes the zone rules.

mod batch;
mod series;

use std::sync::Arc;
use std::time::Duration;

use database::event::Spine;
use database::leader::Leadership;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::rule::RuleSet;

pub use batch::Leader;
pub use series::Series;

/// The advisory-lock key of the evaluator's leadership.
pub const LEADER_KEY: i32 = 2;

/// How the evaluator runs.
#[derive(Debug, Clone)]
pub struct EvaluatorOptions {
    /// Rules of the configuration file (the built-in ones and those of `alerts.rule` are added).
    pub rules: RuleSet,
    /// How often rules, stations and zones are reloaded and silent stations checked.
    pub tick: Duration,
    /// Most events evaluated in one transaction.
    pub max_batch: usize,
}

impl Default for EvaluatorOptions {
    fn default() -> Self {
        EvaluatorOptions { rules: RuleSet::default(), tick: Duration::from_secs(10), max_batch: 2000 }
    }
}

/// The evaluator of one process; it works only while it holds the leadership.
#[derive(Debug)]
pub struct Evaluator {
    pool: PgPool,
    spine: Arc<Spine>,
    opts: EvaluatorOptions,
}

impl Evaluator {
    pub fn new(pool: PgPool, spine: Arc<Spine>, opts: EvaluatorOptions) -> Evaluator {
        Evaluator { pool, spine, opts }
    }

    /// Competes for the leadership and evaluates while it holds it, until `cancel`. `on_lead` runs alongside the
    /// evaluation for as long as the leadership lasts (the MQTT publisher of alerts, in Vedetta), and is dropped
    /// when it ends.
    pub async fn run<F, Fut>(self, cancel: CancellationToken, on_lead: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        loop {
            let Some(mut leadership) =
                Leadership::acquire(&self.pool, LEADER_KEY, "alert evaluator", cancel.cancelled()).await
            else {
                return;
            };
            let mut leader = Leader::new(self.pool.clone(), self.opts.clone());
            let work = async {
                match leader.run(&self.spine).await {
                    Ok(()) => {}
                    Err(e) => error!(error = %e, "The alert evaluator stopped; it starts again."),
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => {
                    leadership.release().await;
                    return;
                }
                _ = leadership.lost() => {}
                _ = work => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    leadership.release().await;
                }
                _ = async { on_lead().await; std::future::pending::<()>().await } => {}
            }
            info!("The alert evaluator gave up the leadership.");
        }
    }
}
