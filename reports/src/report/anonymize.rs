//! Privacy by design: the reporter's data of reports that ended long enough ago is removed.

use chrono::Utc;
use sqlx::PgPool;

use crate::{Error, Result};

/// Removes the reporter's name, email, phone and account from every report closed, rejected or marked duplicate
/// more than `older_than` ago (by `closed_at`, else `updated_at`), and the emails sent to them; marks them
/// `anonymized_at`. Returns how many reports were anonymized.
pub async fn anonymize(pool: &PgPool, older_than: chrono::Duration) -> Result<u64> {
    if older_than < chrono::Duration::zero() {
        return Err(Error::Invalid("the age of the reports to anonymize cannot be negative".into()));
    }
    let cutoff = Utc::now()
        .checked_sub_signed(older_than)
        .ok_or_else(|| Error::Invalid(format!("{older_than} reaches before any date")))?;
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "update reports.report set reporter_name = null, reporter_email = null, reporter_phone = null,
             reporter_account_id = null, anonymized_at = now()
         where status in ('closed', 'rejected', 'duplicate') and coalesce(closed_at, updated_at) < $1
           and (anonymized_at is null or reporter_name is not null or reporter_email is not null
                or reporter_phone is not null or reporter_account_id is not null)
         returning id",
    )
    .bind(cutoff)
    .fetch_all(&mut *tx)
    .await?;
    // The emails carry the address: gone with it.
    sqlx::query("delete from reports.notification where report_id = any($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let count = ids.len() as u64;
    if count > 0 {
        tracing::info!(count, %cutoff, "Reporter data removed from ended reports.");
    }
    Ok(count)
}
