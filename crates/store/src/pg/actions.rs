//! Pending server actions (delete, move) on PostgreSQL (the pending-action half of
//! `sync.rs`), and the fence check made before every action on the server.

use tokio_postgres::Row;

use super::PgStore;
use super::common::pg_text;
use super::lease::check_lease;
use crate::codec;
use crate::error::{Error, Result};
use crate::store::now;
use crate::types::{MessageId, Pending, PendingAction};

fn pending_row(row: &Row) -> Result<Pending> {
    let id: i64 = row.try_get(0)?;
    let kind: String = row.try_get(7)?;
    let target: Option<String> = row.try_get(8)?;
    let action = match (kind.as_str(), target) {
        ("delete", None) => PendingAction::Delete,
        ("move", Some(folder)) => PendingAction::MoveTo(folder),
        _ => return Err(Error::Corrupt(format!("pending action {id} is malformed"))),
    };
    Ok(Pending {
        id,
        message: MessageId(row.try_get(1)?),
        account: row.try_get(2)?,
        folder: row.try_get(3)?,
        server_ref: codec::ref_from_columns(row.try_get(4)?, row.try_get(5)?, row.try_get(6)?)?,
        action,
        attempts: u32::try_from(row.try_get::<_, i64>(9)?).unwrap_or(u32::MAX),
        last_error: row.try_get(10)?,
        created_at: row.try_get(11)?,
    })
}

impl PgStore {
    fn actions(&self, account: &str, state: &'static str) -> Result<Vec<Pending>> {
        let pool = self.pool.clone();
        let account = account.to_owned();
        self.run(async move {
            let client = pool.get().await?;
            let rows = client
                .query(
                    "SELECT p.id, p.message_id, m.account, m.folder, m.uidvalidity, m.uid, m.uidl,
                            p.action, p.target, p.attempts, p.last_error, p.created_at
                     FROM pending_actions p JOIN messages m ON m.id = p.message_id
                     WHERE m.account = $1 AND p.state = $2
                     ORDER BY p.id",
                    &[&account, &state],
                )
                .await?;
            rows.iter().map(pending_row).collect()
        })
    }

    /// Runs one statement updating a pending action (`$1` id, `$2` text, `$3` now); fails
    /// with [`Error::NoSuchAction`] when it matched no row.
    fn update_action(&self, id: i64, sql: &'static str, text: &str) -> Result<()> {
        let pool = self.pool.clone();
        let text = pg_text(text);
        self.run(async move {
            let client = pool.get().await?;
            let n = client.execute(sql, &[&id, &text, &now()]).await?;
            if n == 0 {
                return Err(Error::NoSuchAction(id));
            }
            Ok(())
        })
    }

    pub(crate) fn pending_actions(&self, account: &str) -> Result<Vec<Pending>> {
        self.actions(account, "pending")
    }

    pub(crate) fn abandoned_actions(&self, account: &str) -> Result<Vec<Pending>> {
        self.actions(account, "abandoned")
    }

    pub(crate) fn complete_action(&mut self, id: i64) -> Result<()> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await?;
            let n = client
                .execute("DELETE FROM pending_actions WHERE id = $1", &[&id])
                .await?;
            if n == 0 {
                return Err(Error::NoSuchAction(id));
            }
            Ok(())
        })
    }

    pub(crate) fn complete_actions(&mut self, ids: &[i64]) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let pool = self.pool.clone();
        let ids = ids.to_vec();
        self.run(async move {
            let client = pool.get().await?;
            let n = client
                .execute("DELETE FROM pending_actions WHERE id = ANY($1)", &[&ids])
                .await?;
            Ok(n as usize)
        })
    }

    pub(crate) fn fail_action(&mut self, id: i64, error: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET attempts = attempts + 1, last_error = $2, updated_at = $3
             WHERE id = $1",
            error,
        )
    }

    pub(crate) fn move_copied(&mut self, id: i64, error: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET action = 'delete', target = NULL,
                 attempts = attempts + 1, last_error = $2, updated_at = $3
             WHERE id = $1 AND action = 'move'",
            error,
        )
    }

    pub(crate) fn abandon_action(&mut self, id: i64, reason: &str) -> Result<()> {
        self.update_action(
            id,
            "UPDATE pending_actions SET state = 'abandoned', last_error = $2, updated_at = $3
             WHERE id = $1",
            reason,
        )
    }

    pub(crate) fn check_fence(&self, account: &str) -> Result<()> {
        let Some(fence) = self.fences.check(account)? else {
            return Ok(());
        };
        let pool = self.pool.clone();
        let account = account.to_owned();
        self.run(async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            check_lease(&tx, &account, Some(fence)).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
