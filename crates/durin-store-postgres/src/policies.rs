//! The retry policy document: one row, replaced whole. Saving it fires the `durin_functions` wake-up
//! (the trigger of migration 4), so that every instance reloads it.

use durin_core::UnixMillis;
use serde_json::Value;
use sqlx::PgConnection;

use crate::codec::{from_json, get, to_json};
use crate::error::Result;

pub(crate) async fn load(c: &mut PgConnection) -> Result<Option<(Value, UnixMillis)>> {
    let row = sqlx::query("SELECT document, updated_at FROM retry_policy_document WHERE id = 1")
        .fetch_optional(&mut *c)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let text: String = get(&row, 0)?;
            Ok(Some((from_json(&text)?, get(&row, 1)?)))
        }
    }
}

pub(crate) async fn save(c: &mut PgConnection, document: &Value, at: UnixMillis) -> Result<()> {
    sqlx::query(
        "INSERT INTO retry_policy_document (id, document, updated_at) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
    )
    .bind(to_json(document)?)
    .bind(at)
    .execute(&mut *c)
    .await?;
    Ok(())
}
