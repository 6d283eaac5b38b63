//! A stable idempotency key for each step (issue 8, feature 7), against a real `durin dev`: inside a step's
//! closure `durin_sdk::idempotency_key()` is the same on every attempt of that step, and different between
//! steps, between the uses of a repeated step id, and between runs; outside a step there is none.

mod common;

use std::sync::{Arc, Mutex};

use common::{RUN_TIMEOUT, start};
use durin_sdk::{Context, Error, Function};
use serde_json::json;

/// Keys seen, as (run's event marker, step label, attempt, key).
type Seen = Arc<Mutex<Vec<(String, String, u32, Option<String>)>>>;

fn keyed(seen: Seen) -> Function {
    Function::new("keyed")
        .trigger_event("app/keyed")
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                let marker = ctx.event.data["marker"].as_str().unwrap_or("").to_owned();
                let attempt = ctx.attempt;
                let note = |label: &str, key: Option<String>| {
                    if let Ok(mut seen) = seen.lock() {
                        seen.push((marker.clone(), label.to_owned(), attempt, key));
                    }
                };
                note("body", durin_sdk::idempotency_key());
                ctx.step
                    .run("charge", || async {
                        note("charge", durin_sdk::idempotency_key());
                        if attempt < 2 {
                            return Err(Error::msg("the payment API timed out"));
                        }
                        Ok::<_, Error>(())
                    })
                    .await?;
                for n in 0..2 {
                    ctx.step
                        .run("item", || async {
                            note(&format!("item-{n}"), durin_sdk::idempotency_key());
                            Ok::<_, Error>(n)
                        })
                        .await?;
                }
                Ok(json!(null))
            }
        })
}

#[tokio::test]
async fn each_step_keeps_one_key_across_its_attempts_and_no_two_steps_or_runs_share_one() {
    let seen: Seen = Arc::default();
    let h = start(vec![keyed(seen.clone())], &["--backoff-scale", "0.001"]).await;
    let mut run_ids = Vec::new();
    for marker in ["first", "second"] {
        let event = h
            .engine
            .send("app/keyed", json!({ "marker": marker }))
            .await
            .expect("send");
        let run = h
            .engine
            .wait_for_run_end(&event, RUN_TIMEOUT)
            .await
            .expect("the run ends");
        assert_eq!(run["status"], "Completed", "{run}");
        run_ids.push(run["run_id"].as_str().expect("run id").to_owned());
    }
    let seen = seen.lock().expect("the keys").clone();
    let keys_of = |marker: &str, label: &str| -> Vec<(u32, Option<String>)> {
        seen.iter()
            .filter(|(m, l, _, _)| m == marker && l == label)
            .map(|(_, _, attempt, key)| (*attempt, key.clone()))
            .collect()
    };

    for (marker, run_id) in ["first", "second"].iter().zip(&run_ids) {
        // Outside a step: none, on every replay of the body.
        let body = keys_of(marker, "body");
        assert!(!body.is_empty());
        assert!(body.iter().all(|(_, key)| key.is_none()), "{body:?}");

        // Three attempts of `charge`, one key, naming the run.
        let charge = keys_of(marker, "charge");
        let attempts: Vec<u32> = charge.iter().map(|(attempt, _)| *attempt).collect();
        assert_eq!(attempts, vec![0, 1, 2]);
        let key = charge[0].1.clone().expect("a key inside the step");
        assert!(
            charge
                .iter()
                .all(|(_, k)| k.as_deref() == Some(key.as_str()))
        );
        assert!(key.starts_with(&format!("{run_id}-")), "{key}");
        assert_eq!(key.len(), 67, "{key}");

        // The two uses of `item` and `charge`: three different keys.
        let item0 = keys_of(marker, "item-0")[0].1.clone().expect("key");
        let item1 = keys_of(marker, "item-1")[0].1.clone().expect("key");
        assert_ne!(item0, item1);
        assert_ne!(item0, key);
        assert_ne!(item1, key);
    }
    // The same step of two runs: different keys.
    assert_ne!(
        keys_of("first", "charge")[0].1,
        keys_of("second", "charge")[0].1
    );
    assert_ne!(
        keys_of("first", "item-0")[0].1,
        keys_of("second", "item-0")[0].1
    );
}
