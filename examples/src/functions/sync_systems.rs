//! Retries per step: each step has its own budget, and a completed step is never run again.

use durin_sdk::{Context, Error, Function};
use serde_json::{Value, json};

/// `sync-systems`, on `app/sync.requested`, 4 retries: step `get-data`, then step `save-data`.
///
/// To watch the retries, the event can ask a step to fail its first attempts:
/// `{"get_data_failures": 1, "save_data_failures": 4}` makes `get-data` fail once and `save-data` four
/// times; the run still completes, because `save-data` gets 5 attempts of its own, and `get-data` is not
/// run again while `save-data` is retried.
pub fn sync_systems() -> Function {
    Function::new("sync-systems")
        .name("Sync systems")
        .trigger_event("app/sync.requested")
        .retries(4)
        .handler(|ctx: Context| async move {
            let failures = |key: &str| ctx.event.data.get(key).and_then(Value::as_u64).unwrap_or(0);

            let records: Vec<u32> = ctx
                .step
                .run("get-data", || async {
                    if u64::from(ctx.attempt) < failures("get_data_failures") {
                        return Err(Error::msg("source system timed out"));
                    }
                    Ok(vec![1, 2, 3])
                })
                .await?;

            let saved: usize = ctx
                .step
                .run("save-data", || async {
                    if u64::from(ctx.attempt) < failures("save_data_failures") {
                        return Err(Error::msg("destination system refused the write"));
                    }
                    Ok(records.len())
                })
                .await?;

            Ok(json!({ "saved": saved }))
        })
}
