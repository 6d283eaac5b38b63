//! Store faults (issue 7): the disk under the SQLite store fills up. While it is full, `POST /e/{key}`
//! answers 503 with a JSON error naming the problem and `Retry-After` (never 2xx for events it could not
//! keep); the engine keeps running, and once space is freed it accepts events again and finishes every
//! run, with every event it answered 2xx stored.
//!
//! The small disk is a 16 MiB tmpfs mounted for the test, which needs root (CI runs as root). Without
//! root the test fails and says so: it never passes without having filled a disk.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{EventAnswer, RUN_TIMEOUT, post_events};
use durin_sdk::{Client, Context, Function, serve};
use durin_testkit::{EngineOptions, EngineProcess, free_port, serve_app};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_durin");

/// A tmpfs of `size` mounted on a fresh directory; unmounted (and the directory removed) when dropped.
struct SmallDisk {
    mount_point: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let uid = Command::new("id").arg("-u").output().expect("run id -u");
        let uid = String::from_utf8_lossy(&uid.stdout).trim().to_owned();
        assert_eq!(
            uid, "0",
            "this test mounts a small tmpfs to fill its disk, which needs root (uid 0, as in CI); run \
             it as root. It does not pass without filling a disk."
        );
        let parent = tempfile::tempdir().expect("a temporary directory");
        let mount_point = parent.path().join("disk");
        std::fs::create_dir(&mount_point).expect("create the mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount_point)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount -t tmpfs failed ({status}): this environment cannot mount a small filesystem"
        );
        Self {
            mount_point,
            _parent: parent,
        }
    }

    fn path(&self) -> &Path {
        &self.mount_point
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.mount_point)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a process not yet reaped): detach it now, it goes once unused.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mount_point)
                .status();
        }
    }
}

/// Writes a file until the disk refuses more; returns its path.
fn fill(disk: &Path) -> PathBuf {
    use std::io::Write;
    let path = disk.join("balloon");
    let mut file = std::fs::File::create(&path).expect("create the balloon");
    let chunk = vec![0x5a_u8; 64 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                assert_eq!(
                    error.raw_os_error(),
                    Some(28),
                    "filling the disk failed otherwise than ENOSPC: {error}"
                );
                break;
            }
        }
    }
    // Whatever is left is smaller than a chunk: fill it byte-sized too.
    while file.write(&[0x5a; 512]).is_ok_and(|n| n > 0) {}
    let _ = file.sync_all();
    path
}

/// POSTs one event; returns the status, the `Retry-After` header and the JSON body.
async fn post(http: &reqwest::Client, engine: &EngineProcess, event: &Value) -> EventAnswer {
    post_events(http, &engine.url(), "test-key", event)
        .await
        .expect("the engine answers")
}

#[tokio::test]
async fn a_full_disk_refuses_events_with_503_and_nothing_acknowledged_is_lost() {
    let disk = SmallDisk::mount("16m");
    let store_dir = disk.path().join("store");
    std::fs::create_dir(&store_dir).unwrap();

    let port = free_port().unwrap();
    let function =
        Function::new("keep")
            .trigger_event("test/keep")
            .handler(|ctx: Context| async move {
                let n = ctx.event.data.get("n").cloned().unwrap_or(Value::Null);
                let _: Value = ctx
                    .step
                    .run("copy", || async move {
                        // Long enough that the first runs are in flight when the disk fills up.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        Ok::<_, durin_sdk::Error>(json!({ "n": n }))
                    })
                    .await?;
                Ok(json!({ "n": ctx.event.data.get("n").cloned() }))
            });
    let client = Client::with_base_url("disk-app", format!("http://127.0.0.1:{port}"));
    let app = serve_app(serve(client, vec![function])).await.unwrap();
    let options = EngineOptions {
        sdk_urls: vec![app.serve_url()],
        args: vec!["--backoff-scale".into(), "0.01".into()],
        port: Some(port),
    };
    let engine = EngineProcess::start_with_store_dir(BINARY, options, &store_dir)
        .await
        .expect("start the engine on the small disk");
    engine
        .wait_for_app(&app.serve_url(), Duration::from_secs(20))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let padding = "x".repeat(4 * 1024);
    let event = |n: usize| json!({ "name": "test/keep", "data": { "n": n, "padding": padding } });

    let mut accepted: Vec<(usize, String)> = Vec::new();
    for n in 0..20 {
        let (status, _, body) = post(&http, &engine, &event(n)).await;
        assert_eq!(status, 200, "before the disk is full: {body}");
        accepted.push((n, body["ids"][0].as_str().unwrap().to_owned()));
    }

    let balloon = fill(disk.path());
    // SQLite may still find room in pages it already has: send until it cannot.
    let mut n = 20;
    let refusal = loop {
        let (status, retry_after, body) = post(&http, &engine, &event(n)).await;
        match status {
            200 => accepted.push((n, body["ids"][0].as_str().unwrap().to_owned())),
            503 => break (retry_after, body),
            other => panic!("event {n} on a full disk answered {other}: {body}"),
        }
        n += 1;
        assert!(
            n < 5_000,
            "5,000 events of 4 KiB fitted on a full 16 MiB disk"
        );
    };
    let (retry_after, body) = refusal;
    eprintln!("refused after {} events: {body}", n);
    assert_eq!(body["status"], 503, "{body}");
    assert_eq!(body["ids"], json!([]), "nothing of the request was stored");
    let error = body["error"].as_str().expect("a JSON error");
    assert!(
        error.contains("full"),
        "the error says the disk is full: {error}"
    );
    assert_eq!(
        retry_after.as_deref(),
        Some("1"),
        "a 503 says when to try again"
    );
    // Still full: still refused, and the engine is alive.
    for m in n..n + 5 {
        let (status, _, body) = post(&http, &engine, &event(m)).await;
        assert_ne!(
            status, 200,
            "an event was acknowledged on a full disk: {body}"
        );
        assert_eq!(status, 503, "{body}");
    }
    let (status, _) = engine.get("/health").await.unwrap();
    assert_eq!(
        status, 200,
        "the engine keeps running while the disk is full"
    );
    // Full for a while: the attempts in flight finish meanwhile and cannot be recorded yet.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    std::fs::remove_file(&balloon).expect("free the space");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut m = n + 5;
    loop {
        let (status, _, body) = post(&http, &engine, &event(m)).await;
        if status == 200 {
            accepted.push((m, body["ids"][0].as_str().unwrap().to_owned()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events are still refused after space was freed: {status} {body}; log:\n{}",
            engine.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for extra in m + 1..m + 10 {
        let (status, _, body) = post(&http, &engine, &event(extra)).await;
        assert_eq!(status, 200, "after space was freed: {body}");
        accepted.push((extra, body["ids"][0].as_str().unwrap().to_owned()));
    }
    m += 10;
    eprintln!("{} events accepted in all, the last n {m}", accepted.len());

    // Every event answered 2xx is stored, and its run completes (attempts whose records could not be
    // written while the disk was full are written once it has room).
    for (n, id) in &accepted {
        let (status, stored) = engine.get(&format!("/v1/events/{id}")).await.unwrap();
        assert_eq!(
            status, 200,
            "event {n} ({id}) was acknowledged and lost: {stored}"
        );
        let run = engine.wait_for_run_end(id, RUN_TIMEOUT).await.unwrap();
        assert_eq!(run["status"], "Completed", "event {n}: {run}");
    }
    // The runs above completed because the attempts finished while the disk was full were recorded once
    // it had room, rather than left to wait out their lease (the request timeout plus a minute).
    let log = engine.log();
    assert!(
        log.contains("cannot record the attempt; trying again"),
        "no attempt finished while the disk was full, so their recording went untested; log:\n{log}"
    );
}
