//! What an `Idempotency-Key` answers: the reservation it created and an HMAC of its request.

use super::*;

/// The stored answer to an `Idempotency-Key` of a `sub`.
pub(super) const IDEMPOTENCY_ANSWER: &str =
    "SELECT request_hmac, status, reservation_id FROM idempotency_keys WHERE sub = $1 AND key = $2";

impl Store {
    /// The stored answer to an `Idempotency-Key` of `sub`: a replay when `hash` matches the
    /// first request's, `KeyReused` when not; `None` for a new key.
    pub async fn idempotent_answer(
        &self,
        sub: &str,
        key: &str,
        hash: &str,
    ) -> Result<Option<HoldOutcome>, StoreError> {
        let row = on_pool!(self, read, |p| {
            sqlx::query(IDEMPOTENCY_ANSWER)
                .bind(sub.to_owned())
                .bind(key.to_owned())
                .fetch_optional(p)
                .await?
                .map(|r| {
                    Ok::<_, sqlx::Error>((
                        r.try_get::<String, _>(0)?,
                        r.try_get::<i64, _>(1)?,
                        r.try_get::<String, _>(2)?,
                    ))
                })
                .transpose()
        })?;
        Ok(row.map(|(stored, status, id)| stored_answer(&stored, hash, status, &id)))
    }

    /// Forgets idempotency keys older than `before`.
    pub async fn prune_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, write, |p| {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(before.timestamp_micros())
                .execute(p)
                .await?
                .rows_affected()
        }))
    }
}

/// A stored idempotent answer, for a request whose body hashes to `hash`.
pub(super) fn stored_answer(
    stored_hash: &str,
    hash: &str,
    status: i64,
    reservation_id: &str,
) -> HoldOutcome {
    if stored_hash == hash {
        HoldOutcome::Replay {
            status: u16::try_from(status).unwrap_or(201),
            reservation_id: reservation_id.to_owned(),
        }
    } else {
        HoldOutcome::KeyReused
    }
}
