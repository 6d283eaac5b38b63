//! apalis (Rust job queue + apalis-workflow) peer benchmark on its SQLite backend.
//! Usage: apalis-peer-bench <w1seq|w1|w2|w3> ; env REPS, CONC, N, STEPS, DB, SYNC, POOL, BATCH, WARM.
//! stdout: JSON lines in durin-bench's field names (bench/peers/lib.sh). Adapted from the team's earlier
//! peer measurement (shared/bench/apalis).
//! Each workflow step is a task row in SQLite: a step's output is written as the next step's task
//! before that step runs (apalis-workflow SteppedFlow). Completion is signalled in-process by the
//! last step. One process = worker + client, like the other peers.
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use apalis::layers::retry::{HasherRng, RetryPolicy};
use apalis::prelude::*;
use apalis_sqlite::{Config, SqliteStorage};
use apalis_workflow::*;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{oneshot, Semaphore};
use tower::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Msg {
    id: String,
    step: u32,
    attempt: u32,
}

fn waiters() -> &'static Mutex<HashMap<String, oneshot::Sender<Msg>>> {
    static W: OnceLock<Mutex<HashMap<String, oneshot::Sender<Msg>>>> = OnceLock::new();
    W.get_or_init(|| Mutex::new(HashMap::new()))
}
fn counters() -> &'static Mutex<HashMap<String, u32>> {
    static C: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::new()))
}
fn bump(id: &str) -> u32 {
    let mut c = counters().lock().unwrap();
    let e = c.entry(id.to_string()).or_insert(0);
    *e += 1;
    *e
}
fn finish(m: &Msg) {
    if let Some(tx) = waiters().lock().unwrap().remove(&m.id) {
        let _ = tx.send(m.clone());
    }
}
fn env<T: FromStr>(k: &str, d: T) -> T {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

type BoxErr = BoxDynError;
static PUSH_RETRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn s1(m: Msg) -> Result<Msg, BoxErr> {
    Ok(Msg { step: 1, ..m })
}
async fn s2(m: Msg) -> Result<Msg, BoxErr> {
    Ok(Msg { step: 2, ..m })
}
async fn s3(m: Msg) -> Result<Msg, BoxErr> {
    let out = Msg { step: 3, ..m };
    finish(&out);
    Ok(out)
}
async fn flaky(m: Msg) -> Result<Msg, BoxErr> {
    let attempt = bump(&m.id) - 1; // 0-based
    if attempt < 2 {
        return Err(format!("flaky attempt {attempt}").into());
    }
    Ok(Msg { step: 2, attempt, ..m })
}
async fn fan_step(m: Msg) -> Result<Option<Msg>, BoxErr> {
    let n = bump(&m.id);
    let steps: u32 = env("STEPS", 1000);
    if n >= steps {
        let out = Msg { step: n, ..m };
        finish(&out);
        Ok(Some(out))
    } else {
        Ok(None)
    }
}

async fn pool(db: &str) -> sqlx::SqlitePool {
    let _ = std::fs::remove_file(db);
    let _ = std::fs::remove_file(format!("{db}-wal"));
    let _ = std::fs::remove_file(format!("{db}-shm"));
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{db}"))
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    // apalis' setup() sets `PRAGMA synchronous = OFF` on the connection it runs on; run it on a
    // throw-away pool, then benchmark on connections with an explicit synchronous level.
    let setup = SqlitePoolOptions::new().max_connections(1).connect_with(opts.clone()).await.unwrap();
    SqliteStorage::setup(&setup).await.unwrap();
    setup.close().await;
    let sync = match std::env::var("SYNC").unwrap_or_else(|_| "full".into()).as_str() {
        "off" => SqliteSynchronous::Off,
        "normal" => SqliteSynchronous::Normal,
        _ => SqliteSynchronous::Full,
    };
    SqlitePoolOptions::new()
        .max_connections(env("POOL", 10))
        .connect_with(opts.synchronous(sync).busy_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
}

fn median(v: &mut Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}
fn pct(v: &mut Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((p * v.len() as f64) as usize).min(v.len() - 1)]
}

/// Submit `n` runs with at most `conc` in flight; returns (wall ms, latencies ms, outputs).
async fn run_many<B>(backend: &B, n: usize, conc: usize, tag: &str) -> (f64, Vec<f64>, Vec<Msg>)
where
    B: WorkflowSink<Msg> + Clone + Send + Sync + 'static,
    B::Codec: apalis_core::backend::codec::Codec<Msg, Compact = B::Compact>,
{
    let sem = std::sync::Arc::new(Semaphore::new(conc));
    let t0 = Instant::now();
    let mut hs = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let mut b = backend.clone();
        let id = format!("{tag}-{i}");
        let (tx, rx) = oneshot::channel();
        waiters().lock().unwrap().insert(id.clone(), tx);
        hs.push(tokio::spawn(async move {
            let t = Instant::now();
            // SQLite can answer "database is locked" under write contention: retry the submission.
            let mut tries = 0;
            loop {
                match b.push_start(Msg { id: id.clone(), step: 0, attempt: 0 }).await {
                    Ok(()) => break,
                    Err(e) if tries < 100 && e.to_string().contains("locked") => {
                        tries += 1;
                        PUSH_RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(e) => panic!("push failed: {e}"),
                }
            }
            let out = rx.await.unwrap();
            drop(permit);
            (t.elapsed().as_secs_f64() * 1000.0, out)
        }));
    }
    let mut lats = Vec::with_capacity(n);
    let mut outs = Vec::with_capacity(n);
    for h in hs {
        let (l, o) = h.await.unwrap();
        lats.push(l);
        outs.push(o);
    }
    (t0.elapsed().as_secs_f64() * 1000.0, lats, outs)
}

fn emit(s: String) {
    println!("{{\"engine\":\"apalis\",\"sdk\":\"rust\",{s}}}");
}

fn loadavg() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// `,"loadavgBefore":…,"loadavgAfter":…` for a repetition that started at `before`.
fn load_fields(before: &str) -> String {
    format!(",\"loadavgBefore\":\"{before}\",\"loadavgAfter\":\"{}\"", loadavg())
}

/// Mean ms of 200 × (8 KiB write + fdatasync) in `dir`, as durin-bench measures before a workload.
fn fdatasync_ms(dir: &str) -> f64 {
    use std::io::{Seek, SeekFrom, Write};
    let path = format!("{dir}/.fsync-probe-{}", std::process::id());
    let mut file = std::fs::File::create(&path).unwrap();
    let buf = vec![7u8; 8192];
    let t0 = Instant::now();
    for i in 0..200u64 {
        file.seek(SeekFrom::Start((i % 16) * 8192)).unwrap();
        file.write_all(&buf).unwrap();
        file.sync_data().unwrap();
    }
    let _ = std::fs::remove_file(&path);
    (t0.elapsed().as_secs_f64() * 1000.0 / 200.0 * 1000.0).round() / 1000.0
}

#[tokio::main]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "w1".into());
    let reps: usize = env("REPS", 3);
    let conc: usize = env("CONC", 100);
    let db: String = env("DB", "/tmp/peerbench/apalis/apalis.db".to_string());
    let pool = pool(&db).await;
    let cfg = Config::default().queue(mode.as_str()).batch_size(env("BATCH", 10));
    let storage: SqliteStorage<Msg> = SqliteStorage::new(&pool).with_config(cfg.clone());
    // connect_with_callback opens its own pool (default per-connection pragmas, i.e. no
    // `synchronous=OFF`); it is used for both pushing and fetching when POLL=hook.
    let (hpool, hl) = SqliteStorage::connect_with_callback(&format!("sqlite://{db}")).unwrap();
    let sync_level: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&hpool).await.unwrap();
    let jm: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&hpool).await.unwrap();
    eprintln!("hooked pool: PRAGMA synchronous={sync_level} journal_mode={jm}");
    let hooked: Option<SqliteStorage<Msg>> = Some(SqliteStorage::new(&hpool).with_config(cfg));
    let mut listener = Some(hl);
    let storage = if env("POLL", "hook".to_string()) == "hook" { hooked.clone().unwrap() } else { storage };
    let backoff = ExponentialBackoffMaker::new(
        Duration::from_millis(10),
        Duration::from_millis(10),
        0.0,
        HasherRng::default(),
    )
    .unwrap()
    .make_backoff();

    macro_rules! start_worker {
        ($flow:expr, $backend:expr) => {{
            let worker = WorkerBuilder::new(format!("bench-{mode}"))
                .backend($backend)
                .retry(RetryPolicy::retries(5).with_backoff(backoff.clone()))
                .concurrency(conc)
                .build($flow);
            tokio::spawn(async move { worker.run().await.unwrap() });
        }};
    }

    // Each step's flow is built per backend type (the flow type is tied to the backend type).
    macro_rules! go {
        ($backend:expr) => {{
            match mode.as_str() {
                "w1" | "w1seq" => start_worker!(SteppedFlow::new("three").and_then(s1).and_then(s2).and_then(s3), $backend),
                "w2" => start_worker!(SteppedFlow::new("flaky").and_then(s1).and_then(flaky).and_then(s3), $backend),
                "w3" => start_worker!(SteppedFlow::new("fan").repeat_until(fan_step), $backend),
                _ => panic!("mode"),
            }
        }};
    }
    let poll: String = env("POLL", "hook".to_string());
    if poll == "hook" {
        // event-driven: SQLite update hook on the pool's connections wakes the worker
        go!(hooked.clone().unwrap().poll_with_stream(listener.take().unwrap()));
    } else {
        let ms: u64 = poll.parse().expect("POLL=hook or an interval in ms");
        go!(storage.clone().poll_with_interval(Duration::from_millis(ms)));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dir = std::path::Path::new(&db).parent().map(|p| p.display().to_string()).unwrap_or_else(|| ".".into());
    emit(format!("\"w\":\"{mode}\",\"kind\":\"conditions\",\"loadavg\":\"{}\",\"fdatasync_8k_ms\":{}", loadavg(), fdatasync_ms(&dir)));

    match mode.as_str() {
        "w1" | "w1seq" => {
            let (n, c, name) = if mode == "w1seq" { (env("N", 100), 1, "W1seq") } else { (env("N", 1000), conc, "W1") };
            run_many(&storage, env("WARM", 200), conc, "warm").await;
            let (mut rates, mut meds) = (vec![], vec![]);
            let mut p99s = vec![];
            for rep in 0..reps {
                let load = loadavg();
                let (wall, mut lats, outs) = run_many(&storage, n, c, &format!("{mode}-{n}-{rep}")).await;
                assert!(outs.iter().all(|o| o.step == 3));
                let completed = outs.len();
                let rps = n as f64 / (wall / 1000.0);
                let med = median(&mut lats);
                rates.push(rps);
                meds.push(med);
                let p99 = pct(&mut lats, 0.99);
                p99s.push(p99);
                emit(format!("\"w\":\"{name}\",\"rep\":{rep},\"n\":{n},\"conc\":{c},\"wallMs\":{wall:.1},\"runsPerS\":{rps:.1},\"stepsPerS\":{:.1},\"medLatMs\":{med:.1},\"p99LatMs\":{p99:.1},\"completed\":{completed}{}", 3.0 * rps, load_fields(&load)));
            }
            let r = median(&mut rates);
            emit(format!("\"w\":\"{name}\",\"summary\":true,\"n\":{n},\"conc\":{c},\"runsPerS\":{r:.1},\"stepsPerS\":{:.1},\"medLatMs\":{:.1},\"p99LatMs\":{:.1}", 3.0 * r, median(&mut meds), median(&mut p99s)));
        }
        "w2" => {
            let n = env("N", 200);
            let mut walls = vec![];
            for rep in 0..reps {
                let tag = format!("w2-{rep}");
                let load = loadavg();
                let (wall, mut lats, outs) = run_many(&storage, n, conc, &tag).await;
                let c = counters().lock().unwrap();
                let ok = outs.iter().filter(|o| o.step == 3 && o.attempt == 2 && c.get(&o.id) == Some(&3)).count();
                drop(c);
                walls.push(wall);
                emit(format!("\"w\":\"W2\",\"rep\":{rep},\"n\":{n},\"conc\":{conc},\"wallMs\":{wall:.1},\"completed\":{},\"exactly3Attempts\":{ok},\"medLatMs\":{:.1},\"retry\":\"tower retry layer, 10 ms constant backoff, in-process\"{}", outs.iter().filter(|o| o.step == 3).count(), median(&mut lats), load_fields(&load)));
                assert_eq!(ok, n, "W2 verification failed");
            }
            emit(format!("\"w\":\"W2\",\"summary\":true,\"n\":{n},\"wallS\":{:.3}", median(&mut walls) / 1000.0));
        }
        "w3" => {
            let steps: u32 = env("STEPS", 1000);
            let mut per = vec![];
            for rep in 0..reps {
                let load = loadavg();
                let (wall, _, outs) = run_many(&storage, 1, 1, &format!("w3-{rep}")).await;
                assert_eq!(outs[0].step, steps);
                per.push(wall / steps as f64);
                emit(format!("\"w\":\"W3\",\"rep\":{rep},\"steps\":{steps},\"wallMs\":{wall:.1},\"msPerStep\":{:.3}{}", wall / steps as f64, load_fields(&load)));
            }
            emit(format!("\"w\":\"W3\",\"summary\":true,\"steps\":{steps},\"msPerStep\":{:.3}", median(&mut per)));
        }
        _ => unreachable!(),
    }
    eprintln!("submission retries after 'database is locked': {}", PUSH_RETRIES.load(std::sync::atomic::Ordering::Relaxed));
    std::process::exit(0);
}
