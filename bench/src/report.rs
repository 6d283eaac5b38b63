//! Output: one JSON line per repetition (and per summary) into `bench/results/durin-<time>.jsonl`
//! (`durin-ts-classic-<time>.jsonl`, `durin-ts-checkpoint-<time>.jsonl` with the TypeScript app), echoed to
//! stdout, and a markdown table of the medians at the end.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::Opts;
use crate::stats::{loadavg1, median, r1, r3};

/// One line of the final table.
struct Row {
    workload: String,
    figure: String,
    median: f64,
    reps: Vec<f64>,
    /// One-minute load average before the first and after the last repetition.
    load: String,
    note: String,
}

pub(crate) struct Report {
    /// `rust`, `ts-classic` or `ts-checkpoint`.
    sdk: &'static str,
    path: PathBuf,
    file: File,
    rows: Vec<Row>,
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn proc_field(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default()
}

/// Mean time of an 8 KiB write plus `fdatasync` in `dir` (200 rounds): what one durable commit costs on
/// this disk right now.
pub(crate) fn fdatasync_ms(dir: &Path) -> f64 {
    let measure = || -> std::io::Result<f64> {
        let file = tempfile::tempfile_in(dir)?;
        let buffer = vec![7u8; 8192];
        let rounds = 200;
        let start = std::time::Instant::now();
        for i in 0..rounds {
            std::os::unix::fs::FileExt::write_at(&file, &buffer, (i % 16) * 8192)?;
            file.sync_data()?;
        }
        Ok(start.elapsed().as_secs_f64() * 1000.0 / rounds as f64)
    };
    measure().map_or(f64::NAN, crate::stats::r3)
}

impl Report {
    pub(crate) fn create(
        out_dir: &Path,
        opts: &Opts,
        binary: &Path,
        app: Value,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(out_dir)?;
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let sdk = opts.sdk_label();
        let name = match sdk {
            "rust" => format!("durin-{stamp}.jsonl"),
            other => format!("durin-{other}-{stamp}.jsonl"),
        };
        let path = out_dir.join(name);
        let file = File::create(&path)?;
        let mut report = Self {
            sdk,
            path,
            file,
            rows: Vec::new(),
        };
        let root = crate::workspace_root();
        let root = root.to_string_lossy();
        let dirty = command_line(
            "git",
            &[
                "-C",
                &root,
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--untracked-files=no",
            ],
        );
        let tmp = std::env::temp_dir();
        report.write(&json!({
            "engine": "durin",
            "kind": "meta",
            "sdk": sdk,
            "app": app,
            "started": jiff::Timestamp::now().to_string(),
            "commit": command_line("git", &["-C", &root, "rev-parse", "--short", "HEAD"]),
            "dirty_files": dirty.lines().map(str::trim).collect::<Vec<_>>(),
            "durin_bin": binary.display().to_string(),
            "durin_version": command_line(&binary.to_string_lossy(), &["--version"]),
            "durin_log": opts.durin_log,
            "store": "embedded SQLite (durin-store-sqlite): WAL journal, synchronous=FULL (the store's default, set on every connection), group commit on one writer thread",
            "data_dir_fs": command_line("df", &["--output=source,fstype", &tmp.to_string_lossy()]).lines().last().unwrap_or_default(),
            "fdatasync_8k_ms": fdatasync_ms(&tmp),
            "nproc": command_line("nproc", &[]),
            "cpu": proc_field("/proc/cpuinfo", "model name"),
            "mem_total": proc_field("/proc/meminfo", "MemTotal"),
            "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
            "loadavg": crate::stats::loadavg(),
            "args": std::env::args().skip(1).collect::<Vec<_>>(),
        }))?;
        Ok(report)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, line: &Value) -> anyhow::Result<()> {
        let text = line.to_string();
        writeln!(self.file, "{text}")?;
        self.file.flush()?;
        println!("{text}");
        Ok(())
    }

    /// One repetition's figures (or one summary); `engine`/`sdk` are added.
    pub(crate) fn emit(&mut self, mut line: Value) -> anyhow::Result<()> {
        if let Value::Object(map) = &mut line {
            map.insert("engine".into(), json!("durin"));
            map.insert("sdk".into(), json!(self.sdk));
        }
        self.write(&line)
    }

    pub(crate) fn failure(&mut self, workload: &str, error: &str) -> anyhow::Result<()> {
        self.rows.push(Row {
            workload: workload.to_owned(),
            figure: "FAILED".into(),
            median: f64::NAN,
            reps: Vec::new(),
            load: String::new(),
            note: error.lines().next().unwrap_or_default().to_owned(),
        });
        self.emit(json!({"w": workload, "failed": error}))
    }

    /// A table line: the median of `reps`.
    pub(crate) fn row(
        &mut self,
        workload: &str,
        figure: &str,
        reps: &[f64],
        load: (&str, &str),
        note: &str,
    ) {
        self.rows.push(Row {
            workload: workload.to_owned(),
            figure: figure.to_owned(),
            median: median(reps),
            reps: reps.to_vec(),
            load: format!("{} → {}", loadavg1(load.0), loadavg1(load.1)),
            note: note.to_owned(),
        });
    }

    pub(crate) fn print_table(&self) {
        println!();
        println!("app SDK: {}", self.sdk);
        println!("| workload | figure | median | reps | loadavg (1 min) before → after | note |");
        println!("|---|---|---|---|---|---|");
        for row in &self.rows {
            let fmt = |x: f64| {
                if x.abs() >= 100.0 {
                    format!("{}", r1(x))
                } else {
                    format!("{}", r3(x))
                }
            };
            let reps: Vec<String> = row.reps.iter().map(|x| fmt(*x)).collect();
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                row.workload,
                row.figure,
                if row.median.is_nan() {
                    "–".into()
                } else {
                    fmt(row.median)
                },
                reps.join(" / "),
                row.load,
                row.note
            );
        }
    }
}
