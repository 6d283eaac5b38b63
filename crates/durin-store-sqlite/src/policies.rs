//! The retry policy document: one row, replaced whole.

use durin_core::UnixMillis;
use durin_store::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::codec::{from_json, to_json, unavailable};

pub(crate) fn load(c: &Connection) -> Result<Option<(Value, UnixMillis)>> {
    let row: Option<(String, UnixMillis)> = c
        .prepare_cached("SELECT document, updated_at FROM retry_policy_document WHERE id = 1")
        .map_err(unavailable)?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(unavailable)?;
    row.map(|(text, at)| Ok((from_json(&text)?, at)))
        .transpose()
}

pub(crate) fn save(c: &Connection, document: &Value, at: UnixMillis) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO retry_policy_document (id, document, updated_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
    )
    .map_err(unavailable)?
    .execute(params![to_json(document)?, at])
    .map_err(unavailable)?;
    Ok(())
}
