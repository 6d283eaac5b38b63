//! `durin serve` and `durin dev` choosing their store: a `postgres://` URL selects PostgreSQL, nothing
//! selects SQLite; a URL of another kind or a malformed one is a usage error (exit 2) naming the flag, an
//! unreachable database a clear failure (exit 1); no message shows the URL's password. (Serving on
//! PostgreSQL is in `scale_out.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use durin_testkit::{TEST_EVENT_KEY, TEST_SIGNING_KEY, free_port};

const BINARY: &str = env!("CARGO_BIN_EXE_durin");
const PASSWORD: &str = "s3cret-pw";

/// Runs `durin <args>` to its end, with `DATABASE_URL` set to `database_url` (or removed).
fn run(args: &[&str], database_url: Option<&str>) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("DATABASE_URL")
        // `durin serve` needs keys to start at all (its refusal without them is in `security.rs`).
        .env("INNGEST_SIGNING_KEY", TEST_SIGNING_KEY)
        .env("INNGEST_EVENT_KEY", TEST_EVENT_KEY)
        .stdin(Stdio::null());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start durin");
    child.wait_with_output().expect("durin ends")
}

#[track_caller]
fn assert_fails(output: &Output, code: i32, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
    assert!(
        !stderr.contains(PASSWORD),
        "the password shows in: {stderr}"
    );
}

#[test]
fn a_database_url_of_another_kind_is_a_usage_error() {
    let url = format!("mysql://durin:{PASSWORD}@127.0.0.1/durin");
    let output = run(&["serve", "--database-url", &url], None);
    assert_fails(&output, 2, &["--database-url", "postgres://", "mysql://"]);
    let output = run(&["dev", "--no-discovery", "--database-url", &url], None);
    assert_fails(&output, 2, &["--database-url", "mysql://"]);
}

#[test]
fn a_malformed_postgres_url_from_the_environment_is_a_usage_error() {
    let url = format!("postgres://durin:{PASSWORD}@127.0.0.1:notaport/durin");
    let output = run(&["serve"], Some(&url));
    assert_fails(
        &output,
        2,
        &["--database-url", "invalid port", "durin:***@"],
    );
}

#[test]
fn an_unreachable_database_fails_at_start_saying_so() {
    // Port 1 on loopback: nothing listens there.
    let url = format!("postgres://durin:{PASSWORD}@127.0.0.1:1/durin");
    let port = free_port().expect("a free port").to_string();
    let output = run(&["serve", "--port", &port, "--database-url", &url], None);
    assert_fails(
        &output,
        1,
        &[
            "cannot use the PostgreSQL database",
            "127.0.0.1:1",
            "refused",
        ],
    );
}

/// Starts `durin <args>` and returns the line announcing where it serves (and on which store), then kills
/// it.
fn announced_store(args: &[&str], database_url: Option<&str>) -> String {
    let port = free_port().expect("a free port").to_string();
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .args(["--port", &port])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("DATABASE_URL")
        .env("INNGEST_SIGNING_KEY", TEST_SIGNING_KEY)
        .env("INNGEST_EVENT_KEY", TEST_EVENT_KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let mut child = command.spawn().expect("start durin");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Log lines come first, on the same stream.
        let announced = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains(": serving on"));
        if let Some(line) = announced {
            let _ = sender.send(line);
        }
    });
    let line = receiver.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    line.expect("durin announced where it serves")
}

#[test]
fn without_a_url_serve_uses_sqlite_and_dev_ignores_database_url() {
    let line = announced_store(&["serve"], None);
    assert!(line.contains("durin serve: serving on"), "{line}");
    assert!(line.contains("store: SQLite"), "{line}");
    // DATABASE_URL belongs to the apps being developed: `durin dev` keeps its embedded store.
    let line = announced_store(
        &["dev", "--no-discovery"],
        Some("postgres://durin@127.0.0.1:1/durin"),
    );
    assert!(line.contains("store: SQLite"), "{line}");
}
