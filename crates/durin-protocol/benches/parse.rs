//! The executor's response parsing (`parse_ops` on the official SDKs' captured 206 bodies), the register
//! payload, and the call request the engine sends (serialized by the engine, read by the SDK) with 3 and
//! with 1000 memoized steps: in the classic protocol every call carries every earlier step result.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use durin_protocol::ops::parse_ops;
use durin_protocol::{CallRequest, RegisterRequest, hashed_step_id};
use serde_json::{Value, json};

/// Captured bodies, extracted from `../shared/spec/probe/` (see the file's `_source`).
const CAPTURES: &str = include_str!("fixtures/captures.json");

fn captures() -> Value {
    serde_json::from_str(CAPTURES).expect("fixtures/captures.json is JSON")
}

fn bodies(captures: &Value, key: &str) -> Vec<(String, String)> {
    captures[key]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let label = format!(
                "{}:{}",
                c["sdk"].as_str().unwrap_or_default(),
                c["label"].as_str().unwrap_or_default()
            );
            (label, c["body"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn bench_parse_ops(c: &mut Criterion) {
    let captures = captures();
    let ops = bodies(&captures, "ops");
    assert!(!ops.is_empty(), "no captured op bodies");
    for (label, body) in &ops {
        parse_ops(body.as_bytes()).unwrap_or_else(|e| panic!("{label}: {e}"));
    }
    let mut group = c.benchmark_group("parse_ops");
    group.bench_function("all_captured_206_bodies", |b| {
        b.iter(|| {
            for (_, body) in &ops {
                black_box(parse_ops(black_box(body.as_bytes())).ok());
            }
        })
    });
    for wanted in [
        "ts:two-steps:first-call",
        "ts:step-error:attempt0(max3)",
        "ts:parallel:first-call",
    ] {
        if let Some((label, body)) = ops.iter().find(|(label, _)| label == wanted) {
            group.bench_function(label.as_str(), |b| {
                b.iter(|| black_box(parse_ops(black_box(body.as_bytes())).ok()))
            });
        }
    }
    group.finish();

    let register = bodies(&captures, "register");
    let mut group = c.benchmark_group("register_payload");
    for (i, (_, body)) in register.iter().enumerate() {
        let sdk = captures["register"][i]["sdk"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        serde_json::from_str::<RegisterRequest>(body).expect("captured register body parses");
        group.bench_function(sdk, |b| {
            b.iter(|| black_box(serde_json::from_str::<RegisterRequest>(black_box(body)).ok()))
        });
    }
    group.finish();
}

/// A call request of a run with `steps` memoized steps, as the engine would send it.
fn call_request(steps: usize) -> CallRequest {
    let event = json!({"name": "bench/fan", "data": {"id": "w3-0", "steps": 1000}, "id": "01KBENCHEVT0000000000000000", "ts": 1_767_225_600_000_i64, "user": {}});
    let hashes: Vec<String> = (0..steps)
        .map(|i| hashed_step_id(&format!("s{i}"), 0))
        .collect();
    let memos: serde_json::Map<String, Value> = hashes
        .iter()
        .enumerate()
        .map(|(i, hash)| (hash.clone(), json!({"data": {"i": i}})))
        .collect();
    serde_json::from_value(json!({
        "event": event,
        "events": [event],
        "steps": memos,
        "version": 1,
        "use_api": false,
        "ctx": {
            "run_id": "01KBENCHRUN0000000000000000", "attempt": 0, "disable_immediate_execution": false,
            "use_api": false, "env": "", "step_id": "step",
            "stack": {"stack": hashes, "current": steps},
        },
    }))
    .expect("a valid call request")
}

fn bench_call_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_request");
    for steps in [3usize, 1000] {
        let request = call_request(steps);
        let bytes = serde_json::to_vec(&request).expect("serializes");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("serialize", steps),
            &request,
            |b, request| b.iter(|| black_box(serde_json::to_vec(black_box(request)).ok())),
        );
        group.bench_with_input(
            BenchmarkId::new("deserialize", steps),
            &bytes,
            |b, bytes| {
                b.iter(|| black_box(serde_json::from_slice::<CallRequest>(black_box(bytes)).ok()))
            },
        );
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_parse_ops, bench_call_request
}
criterion_main!(benches);
