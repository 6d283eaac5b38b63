//! Several `durin serve` instances on one PostgreSQL database (issue 6): 1,000 runs with failing and
//! retried steps (and 200 more with checkpoints), events sent round-robin to three instances, one instance
//! killed with SIGKILL half-way.
//! Every run ends, no accepted event is lost, no step whose result was stored runs again, and the attempt
//! records show no job attempt held by two instances at once. Also: an event id sent to two instances at
//! once starts one run.
//!
//! Needs a server: `eval "$(scripts/postgres)"` exports `DURIN_TEST_DATABASE_URL` (each test creates and
//! drops a database of its own on it). Without it the tests fail, saying so.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::time::{Duration, Instant};

use common::executions::{Execution, Executions, all_runs_of, now_ms, numbered_flaky};
use durin_sdk::{Client, Context, Error, Function, serve};
use durin_testkit::{EngineOptions, EngineProcess, ServedApp, TestDatabase, free_port, serve_app};
use futures::StreamExt;
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_durin");
const EVENT: &str = "test/scale.out";
const FUNCTION: &str = "scale-app-scale-out";
/// Requests in flight at once, sending events and reading the results back.
const PARALLEL: usize = 16;
/// Engine flags: fast retries (150-450 ms, then 300-600 ms), and a lease of 10 + 2 s, so that the killed
/// instance's attempts are taken over within the test.
const ENGINE_FLAGS: &[&str] = &[
    "--backoff-scale",
    "0.01",
    "--request-timeout",
    "10",
    "--lease-margin",
    "2",
];
/// The tests take turns: each runs several engines, and two cores are all CI has.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// Every run must have ended by then (a debug build, three engines and PostgreSQL on two cores).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(100);

fn scale_out_function(executions: &Executions) -> Function {
    numbered_flaky(
        "scale-out",
        EVENT,
        4,
        executions,
        Duration::from_millis(100),
    )
}

/// Engines serving one database, and the app they call.
struct Cluster {
    engines: Vec<EngineProcess>,
    /// The app every instance calls; its SDK talks to the first instance.
    app: ServedApp,
    database: TestDatabase,
    /// Whether the instances offer checkpointing: the SDK then reports each step to the first instance,
    /// whichever instance called it.
    checkpointing: bool,
}

impl Cluster {
    /// Serves `functions` in an app whose SDK talks to the first instance (on a port chosen now), on a
    /// fresh database; no instance runs yet.
    async fn new(functions: Vec<Function>, checkpointing: bool) -> (Self, u16) {
        let database = TestDatabase::create()
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let first_port = free_port().expect("a free port");
        let client = Client::with_base_url("scale-app", format!("http://127.0.0.1:{first_port}"))
            // `durin serve` signs its calls and requires the SDK's bearer token.
            .with_signing_key(durin_testkit::TEST_SIGNING_KEY)
            .expect("a valid signing key");
        let app = serve_app(serve(client, functions))
            .await
            .expect("serve the app");
        let cluster = Self {
            engines: Vec::new(),
            app,
            database,
            checkpointing,
        };
        (cluster, first_port)
    }

    /// Starts one more `durin serve` instance (named `node-<index>`) that syncs the app, and waits until
    /// the app shows as synced.
    async fn add_instance(&mut self, port: Option<u16>) -> &EngineProcess {
        let index = self.engines.len();
        let mut args: Vec<String> = ENGINE_FLAGS.iter().map(|a| (*a).to_owned()).collect();
        args.extend([
            "--database-url".to_owned(),
            self.database.url().to_owned(),
            "--instance-id".to_owned(),
            format!("node-{index}"),
        ]);
        if !self.checkpointing {
            args.push("--no-checkpointing".to_owned());
        }
        let options = EngineOptions {
            sdk_urls: vec![self.app.serve_url()],
            args,
            port,
        };
        let engine = EngineProcess::start_serve(BINARY, options)
            .await
            .unwrap_or_else(|e| panic!("start instance {index}: {e:#}"));
        engine
            .wait_for_app(&self.app.serve_url(), Duration::from_secs(30))
            .await
            .expect("the app syncs");
        self.engines.push(engine);
        &self.engines[index]
    }
}

/// Starts `instances` `durin serve` processes on a fresh database, all syncing one app whose SDK talks
/// to the first instance. The first instance syncs the app before the others start, so that they read
/// its functions from the database at start.
async fn start_cluster(instances: usize, functions: Vec<Function>, checkpointing: bool) -> Cluster {
    let (mut cluster, first_port) = Cluster::new(functions, checkpointing).await;
    for index in 0..instances {
        cluster
            .add_instance((index == 0).then_some(first_port))
            .await;
    }
    cluster
}

/// Sends event `n` to the live instances, starting with `first` and going round them while one cannot
/// take it (refused connection, 5xx). Returns the instance that answered 2xx and the event's internal id.
async fn send_event(engines: &[&EngineProcess], first: usize, n: usize) -> (usize, String) {
    let event = json!({ "name": EVENT, "id": format!("scale-{n}"), "data": { "n": n } });
    let mut failures = Vec::new();
    for turn in 0..engines.len() * 3 {
        let index = (first + turn) % engines.len();
        match engines[index].post_event(&event).await {
            Ok((200, body)) => {
                let id = body["ids"][0].as_str().expect("an event id").to_owned();
                return (index, id);
            }
            Ok((status, body)) => failures.push(format!("instance {index}: {status} {body}")),
            Err(error) => failures.push(format!("instance {index}: {error:#}")),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("event {n} was accepted by no instance: {failures:?}");
}

/// Every run of the function, through the API of `engine`.
async fn all_runs(engine: &EngineProcess) -> Vec<Value> {
    all_runs_of(engine, FUNCTION).await
}

/// Waits until `expected` runs exist and none is Running.
async fn wait_until_settled(engine: &EngineProcess, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let runs = all_runs(engine).await;
        let running = runs.iter().filter(|r| r["status"] == "Running").count();
        if runs.len() >= expected && running == 0 {
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "{running} of {} runs still Running after {SETTLE_TIMEOUT:?}; log of the instance asked:\n{}",
            runs.len(),
            tail(&engine.log(), 60)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// SIGKILL to a process: no shutdown code runs.
fn sigkill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL {pid} failed");
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One attempt record, as the API reports it.
#[derive(Debug, Clone)]
struct Attempt {
    run_id: String,
    job_id: String,
    step: Option<String>,
    attempt: u64,
    started_ms: i64,
    ended_ms: i64,
    outcome: String,
    next_ms: Option<i64>,
}

impl Attempt {
    fn of(run_id: &str, value: &Value) -> Self {
        Self {
            run_id: run_id.to_owned(),
            job_id: value["job_id"].as_str().expect("job_id").to_owned(),
            step: value["step_name"].as_str().map(str::to_owned),
            attempt: value["attempt"].as_u64().expect("attempt"),
            started_ms: value["started_at_ms"].as_i64().expect("started_at_ms"),
            ended_ms: value["ended_at_ms"].as_i64().expect("ended_at_ms"),
            outcome: value["outcome"].as_str().expect("outcome").to_owned(),
            next_ms: value["next_attempt_at_ms"].as_i64(),
        }
    }
}

async fn attempts_of(engines: &[&EngineProcess], run_ids: &[String]) -> Vec<Attempt> {
    let lists = futures::stream::iter(run_ids.iter().enumerate())
        .map(|(index, run_id)| async move {
            let engine = engines[index % engines.len()];
            let list = engine.attempts(run_id).await.expect("read attempts");
            list.iter()
                .map(|a| Attempt::of(run_id, a))
                .collect::<Vec<_>>()
        })
        .buffer_unordered(PARALLEL)
        .collect::<Vec<_>>()
        .await;
    lists.into_iter().flatten().collect()
}

/// The records of one attempt of one job: one without checkpoints; with them, also one per step the SDK
/// reported while the call was in flight.
type AttemptGroups<'a> = BTreeMap<(&'a str, u64), Vec<&'a Attempt>>;

fn attempt_groups(attempts: &[Attempt]) -> AttemptGroups<'_> {
    let mut groups = AttemptGroups::new();
    for attempt in attempts {
        groups
            .entry((attempt.job_id.as_str(), attempt.attempt))
            .or_default()
            .push(attempt);
    }
    groups
}

/// No job attempt was held by two instances at once. Per job, the attempt numbers are 0, 1, 2, ...; one
/// attempt is recorded once (two holders would both record it: without checkpoints, two records; with
/// them, one step reported twice), and each attempt starts after the one before it ended. An attempt
/// lost with a killed instance is recorded once, as `interrupted`, by the instance that took the job
/// over after its lease expired.
fn assert_no_attempt_held_twice(attempts: &[Attempt], checkpointing: bool) {
    let mut jobs: BTreeMap<&str, Vec<(u64, Vec<&Attempt>)>> = BTreeMap::new();
    for ((job, number), records) in attempt_groups(attempts) {
        jobs.entry(job).or_default().push((number, records));
    }
    for (job, groups) in jobs {
        let numbers: Vec<u64> = groups.iter().map(|(number, _)| *number).collect();
        let expected: Vec<u64> = (0..groups.len() as u64).collect();
        assert_eq!(
            numbers, expected,
            "job {job}: attempt numbers recorded {numbers:?}: {groups:#?}"
        );
        for (number, records) in &groups {
            let mut steps: Vec<(&Option<String>, &str)> = records
                .iter()
                .map(|a| (&a.step, a.outcome.as_str()))
                .collect();
            let recorded = steps.len();
            steps.sort_unstable();
            steps.dedup();
            assert!(
                if checkpointing {
                    steps.len() == recorded
                } else {
                    recorded == 1
                },
                "job {job} attempt {number} was recorded more than once (two holders): {records:#?}"
            );
        }
        let span = |records: &[&Attempt]| {
            let start = records.iter().map(|a| a.started_ms).min().unwrap_or(0);
            let end = records.iter().map(|a| a.ended_ms).max().unwrap_or(0);
            (start, end)
        };
        for pair in groups.windows(2) {
            let ((before, earlier), (after, later)) = (&pair[0], &pair[1]);
            let (_, earlier_end) = span(earlier);
            let (later_start, _) = span(later);
            assert!(
                later_start >= earlier_end,
                "job {job}: attempt {after} started at {later_start} before attempt {before} ended \
                 at {earlier_end}: {groups:#?}"
            );
        }
    }
}

/// No step whose result was stored ran again: the app never started a step after the attempt that
/// stored its result ended (and no step's result was stored twice).
fn assert_no_stored_step_ran_again(attempts: &[Attempt], executions: &[Execution]) {
    let mut stored: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for attempt in attempts.iter().filter(|a| a.outcome == "ok") {
        if let Some(step) = &attempt.step {
            let earlier = stored.insert((&attempt.run_id, step), attempt.ended_ms);
            assert!(
                earlier.is_none(),
                "run {} step {step}: two attempts stored a result",
                attempt.run_id
            );
        }
    }
    let again: Vec<&Execution> = executions
        .iter()
        .filter(|e| {
            stored
                .get(&(e.run_id.as_str(), e.step))
                .is_some_and(|stored_at| e.started_ms > *stored_at)
        })
        .collect();
    assert!(
        again.is_empty(),
        "{} step executions started after the step's result was stored, e.g. {:?}",
        again.len(),
        &again[..again.len().min(5)]
    );
}

/// How late each retry started after the time it was due (attempt records; one clock, one host).
fn retry_lateness_ms(attempts: &[Attempt]) -> Vec<i64> {
    let groups = attempt_groups(attempts);
    let mut lateness: Vec<i64> = attempts
        .iter()
        .filter(|a| a.outcome == "error")
        .filter_map(|a| {
            let due = a.next_ms?;
            let next = groups.get(&(a.job_id.as_str(), a.attempt + 1))?;
            // An interrupted attempt's start is its due time, not when an engine took it.
            if next.iter().any(|n| n.outcome == "interrupted") {
                return None;
            }
            Some(next.iter().map(|n| n.started_ms).min()? - due)
        })
        .collect();
    lateness.sort_unstable();
    lateness
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_finish_a_thousand_runs_when_one_is_killed() {
    fault_scenario(1_000, false).await;
}

/// The same with checkpoints (Durin's default): each step is reported to the first instance while
/// another instance's call is in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_with_checkpoints_finish_their_runs_when_one_is_killed() {
    fault_scenario(200, true).await;
}

/// `runs` events round-robin to three instances, the third killed with SIGKILL half-way.
async fn fault_scenario(runs: usize, checkpointing: bool) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    let executions = Executions::default();
    let mut cluster = start_cluster(3, vec![scale_out_function(&executions)], checkpointing).await;
    eprintln!("cluster up after {:?}", started.elapsed());

    // Round-robin over three instances. Once half the events are accepted, the third instance is killed
    // (SIGKILL) while it works on the runs it has just been sent; the rest go round the two left.
    let victim = cluster.engines[2].pid().expect("the third instance runs");
    let accepted_so_far = AtomicUsize::new(0);
    let engines: Vec<&EngineProcess> = cluster.engines.iter().collect();
    let (engines, accepted_so_far) = (&engines, &accepted_so_far);
    let accepted: Vec<(usize, usize, String)> = futures::stream::iter(0..runs)
        .map(|n| async move {
            let (index, id) = send_event(engines, n % engines.len(), n).await;
            if accepted_so_far.fetch_add(1, Ordering::SeqCst) + 1 == runs / 2 {
                sigkill(victim);
                eprintln!("killed instance 2 after {:?}", started.elapsed());
            }
            (n, index, id)
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    eprintln!(
        "{} events accepted after {:?}",
        accepted.len(),
        started.elapsed()
    );
    cluster.engines[2].kill();
    let killed = cluster.engines.pop().expect("the killed instance");
    let live: Vec<&EngineProcess> = cluster.engines.iter().collect();

    let ended = wait_until_settled(live[0], runs).await;
    eprintln!("all runs ended after {:?}", started.elapsed());

    // Every event answered 2xx is stored, whichever instance took it.
    let missing: Vec<&(usize, usize, String)> = futures::stream::iter(accepted.iter())
        .map(|accepted| {
            let engine = live[accepted.0 % live.len()];
            async move {
                let (status, _) = engine
                    .get(&format!("/v1/events/{}", accepted.2))
                    .await
                    .expect("read the event");
                (status != 200).then_some(accepted)
            }
        })
        .buffer_unordered(PARALLEL)
        .filter_map(|missing| async move { missing })
        .collect()
        .await;
    assert!(
        missing.is_empty(),
        "{} accepted events are not stored, e.g. (n, instance, id) {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let by_killed = accepted.iter().filter(|(_, index, _)| *index == 2).count();
    assert!(by_killed > 0, "the killed instance accepted no event");

    // Exactly one run per event, each Completed with its own number.
    let mut numbers = BTreeSet::new();
    for run in &ended {
        assert_eq!(run["status"], "Completed", "run ended otherwise: {run}");
        let n = run["output"]["n"]
            .as_u64()
            .expect("the run's output names its n");
        assert!(numbers.insert(n), "two runs for event {n}");
    }
    assert_eq!(numbers.len(), runs, "one run per accepted event");

    let run_ids: Vec<String> = ended
        .iter()
        .map(|r| r["run_id"].as_str().expect("run id").to_owned())
        .collect();
    let attempts = attempts_of(&live, &run_ids).await;
    assert_no_attempt_held_twice(&attempts, checkpointing);
    assert_no_stored_step_ran_again(&attempts, &executions.all());

    let interrupted = attempts
        .iter()
        .filter(|a| a.outcome == "interrupted")
        .count();
    let errors = attempts.iter().filter(|a| a.outcome == "error").count();
    assert!(
        interrupted > 0,
        "no attempt was interrupted: the kill found nothing in flight, so lease expiry went \
         untested; killed instance's log:\n{}",
        tail(&killed.log(), 40)
    );
    // `first` fails for every even n, `second` twice for every multiple of 3, the body once for every
    // multiple of 5: each failure is recorded as an error, or as interrupted where the kill took the
    // attempt (the retry then passes), or more where a timeout struck.
    let expected = runs.div_ceil(2) + 2 * runs.div_ceil(3) + runs.div_ceil(5);
    assert!(
        errors + interrupted >= expected,
        "only {errors} failed and {interrupted} interrupted attempts were recorded"
    );
    let lateness = retry_lateness_ms(&attempts);
    assert!(
        lateness.first().is_none_or(|early| *early >= 0),
        "a retry started {} ms before it was due",
        -lateness[0]
    );
    eprintln!(
        "{} attempts ({errors} failed, {interrupted} interrupted); retry lateness over {} retries: \
         p50 {} ms, p90 {} ms, p99 {} ms, max {} ms; total {:?}",
        attempts.len(),
        lateness.len(),
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.9),
        percentile(&lateness, 0.99),
        lateness.last().copied().unwrap_or(0),
        started.elapsed()
    );
}

/// The same event id sent to two instances at the same moment starts one run; both answer 2xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_sent_to_two_instances_at_once_starts_one_run() {
    const EVENTS: usize = 40;
    let _turn = ONE_AT_A_TIME.lock().await;
    let executions = Executions::default();
    let cluster = start_cluster(2, vec![scale_out_function(&executions)], true).await;
    let (a, b) = (&cluster.engines[0], &cluster.engines[1]);

    let sends = (0..EVENTS).map(|n| async move {
        // An odd n: `first` does not fail, and the body's failure pattern does not matter here.
        let event =
            json!({ "name": EVENT, "id": format!("twice-{n}"), "data": { "n": 2 * n + 1 } });
        let (to_a, to_b) = tokio::join!(a.post_event(&event), b.post_event(&event));
        for (instance, answer) in [("a", to_a), ("b", to_b)] {
            let (status, body) = answer.expect("the instance answers");
            assert_eq!(status, 200, "instance {instance}: {body}");
        }
    });
    futures::future::join_all(sends).await;

    let runs = wait_until_settled(a, EVENTS).await;
    assert_eq!(
        runs.len(),
        EVENTS,
        "one run per event id, whichever instances got it"
    );
    let mut numbers = BTreeSet::new();
    for run in &runs {
        assert_eq!(run["status"], "Completed", "{run}");
        assert!(
            numbers.insert(run["output"]["n"].as_u64().expect("n")),
            "{run}"
        );
    }
}

/// Gap (a) of the issue: a retry due soon, recorded by an instance that then dies, is started on time by
/// another instance, which heard of it from the store's wake-ups rather than at its next look (up to a
/// second later). The first instance runs attempt 0 of a few runs while the second one idles; once the
/// failures are recorded, the first is killed before the retries are due (150-450 ms later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_recorded_by_an_instance_that_dies_starts_on_time_on_another() {
    const RUNS: usize = 5;
    let _turn = ONE_AT_A_TIME.lock().await;
    let function = Function::new("on-time")
        .trigger_event("test/on.time")
        .retries(1)
        .handler(|ctx: Context| async move {
            let attempt = ctx.attempt;
            let _: Value = ctx
                .step
                .run("flaky", || async move {
                    if attempt == 0 {
                        // Long enough for the second instance to start and idle meanwhile.
                        tokio::time::sleep(Duration::from_millis(2500)).await;
                        return Err(Error::msg("the first attempt fails"));
                    }
                    Ok(json!(attempt))
                })
                .await?;
            Ok(json!("done"))
        });
    let (mut cluster, first_port) = Cluster::new(vec![function], false).await;
    cluster.add_instance(Some(first_port)).await;
    for n in 0..RUNS {
        cluster.engines[0]
            .post_event(&json!({ "name": "test/on.time", "data": { "n": n } }))
            .await
            .expect("send");
    }
    cluster.add_instance(None).await;
    let second = &cluster.engines[1];

    // The runs' ids once, then the failures (polled as cheaply as possible: the retries are due 150 ms
    // after them at the earliest), then kill the first instance at once.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ids: Vec<String> = loop {
        let runs = all_runs_of(second, "scale-app-on-time").await;
        if runs.len() == RUNS {
            break runs
                .iter()
                .map(|r| r["run_id"].as_str().expect("run id").to_owned())
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "the runs did not start: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    loop {
        let attempts = attempts_of(&[second], &ids).await;
        if attempts.iter().filter(|a| a.outcome == "error").count() == RUNS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first attempts did not fail: {attempts:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.engines[0].kill();
    let killed_at = now_ms();

    let second = &cluster.engines[1];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = all_runs_of(second, "scale-app-on-time").await;
        if runs.len() == RUNS && runs.iter().all(|r| r["status"] == "Completed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the runs did not complete: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts = attempts_of(&[second], &ids).await;
    // Only a retry due after the kill was certainly run by the survivor (on a slow machine the first
    // instance may have started some before it died; those are then taken over after their lease).
    let after_kill: Vec<Attempt> = attempts
        .iter()
        .filter(|a| a.outcome == "error" && a.next_ms.is_some_and(|due| due > killed_at))
        .chain(attempts.iter().filter(|a| a.attempt > 0))
        .cloned()
        .collect();
    let lateness = retry_lateness_ms(&after_kill);
    eprintln!(
        "retries run by the surviving instance started late by {lateness:?} ms ({} of {RUNS} were due \
         after the kill)",
        lateness.len()
    );
    assert!(
        !lateness.is_empty(),
        "every retry was due before the first instance was killed: the test was too slow to tell who \
         ran them: {attempts:#?}"
    );
    assert!(lateness[0] >= 0, "a retry started before it was due");
    // Measured on an idle 2-core machine: 2-7 ms with the wake-ups, 177-385 ms without them. The bound is
    // loose for a busy CI machine; it still fails most times the wake-up path is broken.
    let latest = lateness[lateness.len() - 1];
    assert!(
        latest < 250,
        "a retry started {latest} ms late: the surviving instance did not hear of it from the store"
    );
}
