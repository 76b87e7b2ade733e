//! The outbox on PostgreSQL: the statements of `crate::outbox`, with row locks where SQLite
//! relied on its single writer. Fanning out takes the new events `FOR UPDATE SKIP LOCKED` and
//! claiming takes the due rows the same way, so deliverers in several processes never fan
//! out one event twice or work on one row at once.

use tokio_postgres::Row;

use super::PgStore;
use super::common::pg_text;
use crate::error::{Error, Result};
use crate::outbox::{
    Delivery, DeliveryFilter, DeliveryOutcome, DeliveryState, OutboxEvent, RetrySelection,
    TargetSpec, new_event_id, now_ms,
};
use crate::types::MessageId;

const DELIVERY_COLUMNS: &str = "d.id, d.target, d.state, d.attempts, d.next_at, d.last_status,
    d.last_error, d.created_at, d.updated_at, e.seq, e.id, e.type, e.account, e.message, e.data,
    e.created_at FROM outbox_deliveries d JOIN outbox_events e ON e.seq = d.event_seq";

fn delivery(row: &Row) -> Result<Delivery> {
    let state: String = row.try_get(2)?;
    Ok(Delivery {
        id: row.try_get(0)?,
        target: row.try_get(1)?,
        state: match state.as_str() {
            "pending" => DeliveryState::Pending,
            "done" => DeliveryState::Done,
            "dead" => DeliveryState::Dead,
            other => return Err(Error::Corrupt(format!("unknown delivery state {other:?}"))),
        },
        attempts: row.try_get::<_, i64>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
        next_at_ms: row.try_get(4)?,
        last_status: row
            .try_get::<_, Option<i64>>(5)?
            .and_then(|s| u16::try_from(s).ok()),
        last_error: row.try_get(6)?,
        created_at_ms: row.try_get(7)?,
        updated_at_ms: row.try_get(8)?,
        event: OutboxEvent {
            seq: row.try_get(9)?,
            id: row.try_get(10)?,
            kind: row.try_get(11)?,
            account: row.try_get(12)?,
            message: row.try_get::<_, Option<i64>>(13)?.map(MessageId),
            data: row.try_get(14)?,
            created_at_ms: row.try_get(15)?,
        },
    })
}

fn names(targets: &[&str]) -> Vec<String> {
    targets.iter().map(|t| (*t).to_owned()).collect()
}

impl PgStore {
    pub(crate) fn record_event(
        &mut self,
        kind: &str,
        account: &str,
        data: Option<&str>,
    ) -> Result<String> {
        let pool = self.pool.clone();
        let now = now_ms();
        let id = new_event_id(now);
        let (kind, account, data) = (kind.to_owned(), account.to_owned(), data.map(pg_text));
        let event_id = id.clone();
        self.run(async move {
            let client = pool.get().await?;
            client
                .execute(
                    "INSERT INTO outbox_events (id, type, account, message, data, created_at)
                     VALUES ($1, $2, $3, NULL, $4, $5)",
                    &[&event_id, &kind, &account, &data, &now],
                )
                .await?;
            Ok(())
        })?;
        Ok(id)
    }

    pub(crate) fn fan_out_events(
        &mut self,
        targets: &[TargetSpec<'_>],
        limit: usize,
    ) -> Result<usize> {
        let pool = self.pool.clone();
        let targets: Vec<(String, Option<Vec<String>>)> = targets
            .iter()
            .map(|t| (t.name.to_owned(), t.accounts.map(<[String]>::to_vec)))
            .collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let now = now_ms();
            let next_seq: i64 = tx
                .query_one("SELECT coalesce(max(seq), 0) + 1 FROM outbox_events", &[])
                .await?
                .try_get(0)?;
            let mut known = Vec::with_capacity(targets.len());
            for (name, accounts) in &targets {
                tx.execute(
                    "INSERT INTO outbox_targets (name, since_seq) VALUES ($1, $2)
                     ON CONFLICT (name) DO NOTHING",
                    &[name, &next_seq],
                )
                .await?;
                let row = tx
                    .query_one(
                        "SELECT since_seq, stop_reason FROM outbox_targets WHERE name = $1",
                        &[name],
                    )
                    .await?;
                let (since, stopped): (i64, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
                known.push((name, accounts, since, stopped));
            }
            let events = tx
                .query(
                    "SELECT seq, account FROM outbox_events WHERE fanned_out = 0
                     ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                    &[&limit],
                )
                .await?;
            let mut made = 0;
            for event in &events {
                let (seq, account): (i64, String) = (event.try_get(0)?, event.try_get(1)?);
                for (name, accounts, since, stopped) in &known {
                    if seq < *since || accounts.as_ref().is_some_and(|a| !a.contains(&account)) {
                        continue;
                    }
                    let (state, error) = match stopped {
                        Some(reason) => ("dead", Some(format!("target stopped: {reason}"))),
                        None => ("pending", None),
                    };
                    made += tx
                        .execute(
                            "INSERT INTO outbox_deliveries (event_seq, target, state, next_at,
                                 last_error, created_at, updated_at)
                             VALUES ($1, $2, $3, $4, $5, $4, $4)
                             ON CONFLICT (event_seq, target) DO NOTHING",
                            &[&seq, name, &state, &now, &error],
                        )
                        .await?;
                }
                tx.execute(
                    "UPDATE outbox_events SET fanned_out = 1 WHERE seq = $1",
                    &[&seq],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(made as usize)
        })
    }

    pub(crate) fn claim_due_deliveries(
        &mut self,
        targets: &[&str],
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        if targets.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let pool = self.pool.clone();
        let names = names(targets);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let sql = format!(
                "SELECT {DELIVERY_COLUMNS}
                 WHERE d.state = 'pending' AND d.next_at <= $1 AND d.target = ANY($2)
                 ORDER BY d.next_at, d.id LIMIT $3
                 FOR UPDATE OF d SKIP LOCKED"
            );
            let rows = tx.query(&sql, &[&now_ms, &names, &limit]).await?;
            let mut claimed = rows.iter().map(delivery).collect::<Result<Vec<_>>>()?;
            for d in &mut claimed {
                d.attempts += 1;
                d.next_at_ms = now_ms + lease_ms;
                d.updated_at_ms = now_ms;
                tx.execute(
                    "UPDATE outbox_deliveries SET attempts = $2, next_at = $3, updated_at = $4
                     WHERE id = $1",
                    &[&d.id, &i64::from(d.attempts), &d.next_at_ms, &now_ms],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(claimed)
        })
    }

    pub(crate) fn next_delivery_due(&self, targets: &[&str]) -> Result<Option<i64>> {
        let pool = self.pool.clone();
        let names = names(targets);
        self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .query_one(
                    "SELECT min(next_at) FROM outbox_deliveries
                     WHERE state = 'pending' AND target = ANY($1)",
                    &[&names],
                )
                .await?
                .try_get(0)?)
        })
    }

    pub(crate) fn has_new_events(&self) -> Result<bool> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT 1 FROM outbox_events WHERE fanned_out = 0 LIMIT 1",
                    &[],
                )
                .await?
                .is_some())
        })
    }

    pub(crate) fn finish_deliveries(&mut self, outcomes: &[DeliveryOutcome]) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let pool = self.pool.clone();
        let outcomes: Vec<DeliveryOutcome> = outcomes
            .iter()
            .map(|o| DeliveryOutcome {
                error: o.error.as_deref().map(pg_text),
                ..o.clone()
            })
            .collect();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let now = now_ms();
            for o in &outcomes {
                tx.execute(
                    "UPDATE outbox_deliveries SET state = $2, next_at = coalesce($3, next_at),
                         last_status = $4, last_error = $5, updated_at = $6
                     WHERE id = $1",
                    &[
                        &o.id,
                        &o.state.as_str(),
                        &o.next_at_ms,
                        &o.status.map(i64::from),
                        &o.error,
                        &now,
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub(crate) fn set_delivery(
        &mut self,
        id: i64,
        state: DeliveryState,
        next_at_ms: Option<i64>,
        status: Option<u16>,
        error: Option<&str>,
    ) -> Result<()> {
        self.finish_deliveries(&[DeliveryOutcome {
            id,
            state,
            next_at_ms,
            status,
            error: error.map(str::to_owned),
        }])
    }

    pub(crate) fn stop_target(&mut self, name: &str, reason: &str) -> Result<usize> {
        let pool = self.pool.clone();
        let (name, reason) = (name.to_owned(), pg_text(reason));
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO outbox_targets (name, since_seq, stopped_at, stop_reason)
                 VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM outbox_events), $2, $3)
                 ON CONFLICT (name) DO UPDATE SET stopped_at = $2, stop_reason = $3",
                &[&name, &now, &reason],
            )
            .await?;
            let died = tx
                .execute(
                    "UPDATE outbox_deliveries SET state = 'dead', updated_at = $2,
                         last_error = 'target stopped: ' || $3
                     WHERE target = $1 AND state = 'pending'",
                    &[&name, &now, &reason],
                )
                .await?;
            tx.commit().await?;
            Ok(died as usize)
        })
    }

    pub(crate) fn target_stopped(&self, name: &str) -> Result<Option<String>> {
        let pool = self.pool.clone();
        let name = name.to_owned();
        self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT stop_reason FROM outbox_targets WHERE name = $1",
                    &[&name],
                )
                .await?
                .map(|r| r.try_get::<_, Option<String>>(0))
                .transpose()?
                .flatten())
        })
    }

    pub(crate) fn list_deliveries(
        &self,
        filter: DeliveryFilter,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let condition = match filter {
            DeliveryFilter::All => "TRUE",
            DeliveryFilter::Failed => {
                "(d.state = 'dead' OR (d.state = 'pending' AND d.last_error IS NOT NULL))"
            }
            DeliveryFilter::Dead => "d.state = 'dead'",
        };
        let sql = format!("SELECT {DELIVERY_COLUMNS} WHERE {condition} ORDER BY d.id LIMIT $1");
        let pool = self.pool.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async move {
            let client = pool.get().await?;
            let rows = client.query(&sql, &[&limit]).await?;
            rows.iter().map(delivery).collect()
        })
    }

    pub(crate) fn retry_deliveries(&mut self, which: RetrySelection) -> Result<usize> {
        let (condition, id) = match which {
            RetrySelection::One(id) => ("id = $2", id),
            RetrySelection::AllDead => ("state = 'dead' AND $2::bigint = $2::bigint", 0),
        };
        let pool = self.pool.clone();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let now = now_ms();
            tx.execute(
                &format!(
                    "UPDATE outbox_targets SET stopped_at = NULL, stop_reason = NULL
                     WHERE name IN (SELECT target FROM outbox_deliveries WHERE {condition}
                                    AND $1::bigint = $1::bigint)"
                ),
                &[&now, &id],
            )
            .await?;
            let n = tx
                .execute(
                    &format!(
                        "UPDATE outbox_deliveries SET state = 'pending', attempts = 0,
                             next_at = $1, created_at = $1, updated_at = $1
                         WHERE {condition}"
                    ),
                    &[&now, &id],
                )
                .await?;
            tx.commit().await?;
            Ok(n as usize)
        })
    }
}
