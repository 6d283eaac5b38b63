//! The wire types meet outside input first: register payloads, SDK answers (ops), call and checkpoint
//! requests, events. Whatever bytes arrive, decoding ends with a value or an error: no panic, no stack
//! overflow, no hang. Inputs: arbitrary bytes, arbitrary JSON, and the official SDKs' real captures
//! (`benches/fixtures/captures.json`) cut and corrupted at random.

use durin_protocol::ops::parse_ops;
use durin_protocol::{
    CallRequest, CheckpointRequest, EventPayload, RegisterRequest, hashed_step_id,
};
use proptest::prelude::*;
use serde_json::Value;

const CAPTURES: &str = include_str!("../benches/fixtures/captures.json");

fn capture_bodies() -> Vec<String> {
    let captures: Value = serde_json::from_str(CAPTURES).expect("captures.json is JSON");
    ["ops", "register"]
        .iter()
        .flat_map(|kind| captures[kind].as_array().cloned().unwrap_or_default())
        .filter_map(|capture| capture["body"].as_str().map(str::to_owned))
        .collect()
}

/// Every decoder that takes outside bytes. Each result is dropped: only panics and overflows fail.
fn decode_everything(bytes: &[u8]) {
    let _ = parse_ops(bytes);
    let _ = serde_json::from_slice::<RegisterRequest>(bytes);
    let _ = serde_json::from_slice::<CallRequest>(bytes);
    let _ = serde_json::from_slice::<CheckpointRequest>(bytes);
    let _ = serde_json::from_slice::<EventPayload>(bytes);
    let _ = serde_json::from_slice::<Vec<EventPayload>>(bytes);
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        prop::sample::select(vec![
            "StepRun",
            "StepError",
            "Step",
            "StepPlanned",
            "Sleep",
            "WaitForEvent",
            "InvokeFunction",
            "RunComplete",
            "id",
            "op",
            "data",
            "error"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "op",
                    "name",
                    "data",
                    "error",
                    "opts",
                    "timeout",
                    "event",
                    "if",
                    "function_id",
                    "functions",
                    "triggers",
                    "steps",
                    "retries",
                    "attempts",
                    "ctx",
                    "steps",
                    "stack",
                    "url",
                    "appName",
                    "displayName",
                    "userland",
                    "timing",
                    "runtime",
                    "expression",
                    "cron",
                    "ts",
                    "v"
                ]),
                inner,
                0..8,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

#[test]
fn nesting_far_beyond_the_recursion_limit_is_an_error_not_an_overflow() {
    for open in ["[", "{\"a\":"] {
        let deep = open.repeat(100_000);
        decode_everything(deep.as_bytes());
        assert!(parse_ops(deep.as_bytes()).is_err());
    }
}

#[test]
fn every_prefix_of_every_capture_decodes_or_fails_cleanly() {
    for body in capture_bodies() {
        for end in 0..=body.len() {
            decode_everything(&body.as_bytes()[..end]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        decode_everything(&bytes);
    }

    #[test]
    fn arbitrary_json(value in any_json()) {
        decode_everything(&serde_json::to_vec(&value).expect("a Value serializes"));
        // An array of arbitrary ops, the shape of a 206 answer.
        decode_everything(&serde_json::to_vec(&Value::Array(vec![value])).expect("serializes"));
    }

    #[test]
    fn corrupted_captures(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let bodies = capture_bodies();
        let mut bytes = bodies[pick.index(bodies.len())].clone().into_bytes();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        decode_everything(&bytes);
    }

    #[test]
    fn any_step_id_hashes(id in "\\PC{0,200}", index in any::<usize>()) {
        let hashed = hashed_step_id(&id, index);
        prop_assert_eq!(hashed.len(), 40);
        prop_assert!(hashed.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
