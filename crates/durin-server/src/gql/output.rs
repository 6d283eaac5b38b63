//! Output ids: the `outputID` of a span names where its output lives (the run, a step's memoized result, or
//! one attempt), and `runTraceSpanOutputByID` reads it back from there. Clients treat the id as opaque text.

use std::fmt;
use std::str::FromStr;

use durin_core::{AttemptOutcome, RunStatus};
use durin_store::{AttemptRecord, RunRecord};
use serde_json::Value;

use super::convert::step_error;
use super::scalars::Bytes;
use super::types::RunTraceSpanOutput;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutputId {
    /// The run's return value or error.
    Run { run_id: String },
    /// A step's memoized result.
    Step { run_id: String, step_id: String },
    /// One attempt of a step: its error, or the step's result for the attempt that succeeded.
    Attempt {
        run_id: String,
        job_id: String,
        attempt: u32,
    },
}

impl OutputId {
    pub(crate) fn run_id(&self) -> &str {
        match self {
            Self::Run { run_id } | Self::Step { run_id, .. } | Self::Attempt { run_id, .. } => {
                run_id
            }
        }
    }
}

// Run and job ids are ULIDs and step ids hex hashes, so `:` cannot occur inside a part; the step id comes
// last all the same, so that any step id reads back whole.
impl fmt::Display for OutputId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Run { run_id } => write!(f, "run:{run_id}"),
            Self::Step { run_id, step_id } => write!(f, "step:{run_id}:{step_id}"),
            Self::Attempt {
                run_id,
                job_id,
                attempt,
            } => write!(f, "attempt:{run_id}:{job_id}:{attempt}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an output id: {0:?}")]
pub(crate) struct InvalidOutputId(String);

impl FromStr for OutputId {
    type Err = InvalidOutputId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidOutputId(text.to_owned());
        let nonempty = |part: &str| (!part.is_empty()).then(|| part.to_owned());
        let (kind, rest) = text.split_once(':').ok_or_else(invalid)?;
        match kind {
            "run" if !rest.contains(':') => Ok(Self::Run {
                run_id: nonempty(rest).ok_or_else(invalid)?,
            }),
            "step" => {
                let (run_id, step_id) = rest.split_once(':').ok_or_else(invalid)?;
                Ok(Self::Step {
                    run_id: nonempty(run_id).ok_or_else(invalid)?,
                    step_id: nonempty(step_id).ok_or_else(invalid)?,
                })
            }
            "attempt" => {
                let mut parts = rest.split(':');
                let (Some(run_id), Some(job_id), Some(attempt), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(invalid());
                };
                Ok(Self::Attempt {
                    run_id: nonempty(run_id).ok_or_else(invalid)?,
                    job_id: nonempty(job_id).ok_or_else(invalid)?,
                    attempt: attempt.parse().map_err(|_| invalid())?,
                })
            }
            _ => Err(invalid()),
        }
    }
}

/// A finished run's output: its return value as `data`, or its error.
pub(crate) fn run_output(run: &RunRecord) -> RunTraceSpanOutput {
    let output = run.output.clone().unwrap_or(Value::Null);
    match run.status {
        RunStatus::Completed => RunTraceSpanOutput {
            data: Some(Bytes::json(&output)),
            ..RunTraceSpanOutput::default()
        },
        RunStatus::Failed => RunTraceSpanOutput {
            error: Some(step_error(&output)),
            ..RunTraceSpanOutput::default()
        },
        RunStatus::Running | RunStatus::Paused | RunStatus::Cancelled => {
            RunTraceSpanOutput::default()
        }
    }
}

/// A step's memo: `{"data": ..}`, `{"error": ..}`, or `null` (a sleep, which has no output).
pub(crate) fn memo_output(memo: &Value) -> RunTraceSpanOutput {
    if let Some(error) = memo.get("error").filter(|e| !e.is_null()) {
        return RunTraceSpanOutput {
            error: Some(step_error(error)),
            ..RunTraceSpanOutput::default()
        };
    }
    RunTraceSpanOutput {
        data: memo.get("data").map(Bytes::json),
        ..RunTraceSpanOutput::default()
    }
}

/// One attempt: its error, or for the attempt that succeeded the step's result (`memo`).
pub(crate) fn attempt_output(attempt: &AttemptRecord, memo: Option<&Value>) -> RunTraceSpanOutput {
    match (&attempt.error, attempt.outcome) {
        (Some(error), _) => RunTraceSpanOutput {
            error: Some(step_error(error)),
            ..RunTraceSpanOutput::default()
        },
        (None, AttemptOutcome::Ok) => memo.map(memo_output).unwrap_or_default(),
        (None, _) => RunTraceSpanOutput::default(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_output_id_reads_back() {
        for id in [
            OutputId::Run {
                run_id: "01J0RUN".into(),
            },
            OutputId::Step {
                run_id: "01J0RUN".into(),
                step_id: "a94a8fe5cc".into(),
            },
            OutputId::Attempt {
                run_id: "01J0RUN".into(),
                job_id: "01J0JOB".into(),
                attempt: 3,
            },
        ] {
            assert_eq!(id.to_string().parse::<OutputId>(), Ok(id));
        }
    }

    #[test]
    fn malformed_output_ids_are_refused() {
        for text in [
            "",
            "run",
            "run:",
            "run:a:b",
            "step:run",
            "step::x",
            "attempt:r:j",
            "attempt:r:j:x",
            "attempt:r:j:1:2",
            "other:r",
        ] {
            assert!(text.parse::<OutputId>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_memo_gives_data_or_error() {
        assert_eq!(
            memo_output(&json!({"data": {"n": 1}})).data,
            Some(Bytes(r#"{"n":1}"#.into()))
        );
        assert_eq!(
            memo_output(&json!({"data": null})).data,
            Some(Bytes("null".into()))
        );
        let failed = memo_output(&json!({"error": {"name": "E", "message": "m"}}));
        assert_eq!(failed.data, None);
        assert_eq!(failed.error.map(|e| e.message), Some("m".to_owned()));
        assert_eq!(memo_output(&Value::Null), RunTraceSpanOutput::default());
    }
}
