//! The retry decision and its inputs: `decide()` on every path, the backoff delay, `Retry-After` parsing.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use durin_core::{Backoff, BackoffKnobs, FailedAttempt, RetryPolicy, decide, parse_retry_after};

const NOW: i64 = 1_790_000_000_000;

fn failed(attempt: u32, retry_at: Option<i64>) -> FailedAttempt {
    FailedAttempt {
        attempt,
        non_retriable: false,
        retry_at,
    }
}

fn bench_decide(c: &mut Criterion) {
    let policy = RetryPolicy::default();
    let knobs = BackoffKnobs::default();
    let scaled = BackoffKnobs {
        scale: 0.01,
        fixed_interval_ms: None,
    };
    let mut group = c.benchmark_group("decide");
    group.bench_function("retry_with_backoff", |b| {
        b.iter(|| {
            decide(
                black_box(&policy),
                &knobs,
                black_box(&failed(1, None)),
                NOW,
                1234,
            )
        })
    });
    group.bench_function("retry_with_scaled_backoff", |b| {
        b.iter(|| {
            decide(
                black_box(&policy),
                &scaled,
                black_box(&failed(2, None)),
                NOW,
                1234,
            )
        })
    });
    group.bench_function("retry_at_retry_after", |b| {
        b.iter(|| {
            decide(
                black_box(&policy),
                &knobs,
                black_box(&failed(0, Some(NOW + 5_000))),
                NOW,
                0,
            )
        })
    });
    group.bench_function("give_up_exhausted", |b| {
        b.iter(|| {
            decide(
                black_box(&policy),
                &knobs,
                black_box(&failed(4, None)),
                NOW,
                0,
            )
        })
    });
    group.finish();

    c.bench_function("backoff/delay_ms_table", |b| {
        b.iter(|| {
            Backoff::InngestTable.delay_ms(black_box(&knobs), black_box(3), black_box(17_000))
        })
    });
}

fn bench_retry_after(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_retry_after");
    for (name, value) in [
        ("seconds", "30"),
        ("rfc3339_millis", "2026-11-28T17:48:23.288Z"),
        ("http_date", "Sat, 28 Nov 2026 17:48:23 GMT"),
        ("asctime", "Sat Nov 28 17:48:23 2026"),
        ("garbage", "soon, probably"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| parse_retry_after(black_box(value), NOW))
        });
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
    targets = bench_decide, bench_retry_after
}
criterion_main!(benches);
