//! The GraphQL types, named and shaped as in Inngest's schema (`FunctionRunV2`, `RunTraceSpan`, ...), with
//! only the fields the official SDKs' test suites select. Field names that are not plain camelCase
//! (`outputID`, `stepID`, `IDs`) are spelled out.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use durin_store::{EventRecord, RunRecord};

use super::convert;
use super::scalars::{
    Bytes, SpanMetadataKind, SpanMetadataScope, SpanMetadataValues, Time, Ulid, Unknown,
};
use super::schema::{GqlError, engine};

/// A run's status. Durin has no separate queued state: a run waiting for its first attempt is `RUNNING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub(crate) enum FunctionRunStatus {
    Completed,
    Failed,
    Cancelled,
    Running,
    Queued,
    Skipped,
    /// Out of retries under a policy that pauses; waits for an operator (Durin's retry policies).
    Paused,
}

/// A span's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub(crate) enum RunTraceSpanStatus {
    Failed,
    Queued,
    Running,
    Completed,
    Waiting,
    Cancelled,
    Skipped,
}

/// `event(query: {eventId})`.
#[derive(Debug, InputObject)]
pub(crate) struct EventQuery {
    /// Ignored: the dev server has one workspace.
    #[graphql(default_with = "ID::from(\"local\")")]
    pub(crate) workspace_id: ID,
    /// The event's internal id.
    pub(crate) event_id: ID,
}

/// A run (Inngest's `FunctionRunV2`).
pub(crate) struct FunctionRunV2 {
    pub(crate) run: RunRecord,
}

#[Object]
impl FunctionRunV2 {
    async fn id(&self) -> Ulid {
        Ulid(self.run.run_id.clone())
    }

    async fn status(&self) -> FunctionRunStatus {
        convert::run_status(self.run.status)
    }

    /// The function's return value, or for a failed run its error, as JSON text; `null` while running.
    async fn output(&self) -> Option<Bytes> {
        self.run.output.as_ref().map(Bytes::json)
    }

    /// When the run was created.
    async fn queued_at(&self) -> Time {
        Time::from_millis(self.run.started_at)
    }

    async fn ended_at(&self) -> Option<Time> {
        self.run.ended_at.map(Time::from_millis)
    }

    /// The internal ids of the events that started the run (one: Durin does not batch).
    #[graphql(name = "triggerIDs")]
    async fn trigger_ids(&self) -> Vec<Ulid> {
        vec![Ulid(self.run.event_internal_id.clone())]
    }

    async fn is_batch(&self) -> bool {
        false
    }

    /// The run as a tree of spans: the run at the root, one child per step. `preview` chooses between
    /// Inngest's two trace stores; Durin has one, so it changes nothing.
    async fn trace(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "preview")] _preview: Option<bool>,
    ) -> async_graphql::Result<Option<RunTraceSpan>> {
        let store = engine(ctx)?.store();
        let id = &self.run.run_id;
        let attempts = store.attempts_for_run(id).await.map_err(GqlError::from)?;
        let steps = store.steps_for_run(id).await.map_err(GqlError::from)?;
        let jobs = store.jobs_for_run(id).await.map_err(GqlError::from)?;
        Ok(Some(super::trace::run_trace(
            &self.run, &attempts, &steps, &jobs,
        )))
    }
}

/// One span of a run's trace: the run itself, a step, or one attempt of a step.
#[derive(Debug, Clone, PartialEq, SimpleObject)]
pub(crate) struct RunTraceSpan {
    #[graphql(name = "runID")]
    pub(crate) run_id: Ulid,
    #[graphql(name = "spanID")]
    pub(crate) span_id: String,
    #[graphql(name = "traceID")]
    pub(crate) trace_id: String,
    /// The step's id as the user wrote it, `Attempt N` for an attempt, the function's id for the run.
    pub(crate) name: String,
    pub(crate) status: RunTraceSpanStatus,
    /// How many attempts the span made.
    pub(crate) attempts: Option<i32>,
    /// Milliseconds, once the span has ended.
    pub(crate) duration: Option<i32>,
    /// The key of the span's output for `runTraceSpanOutputByID`, once it has one.
    #[graphql(name = "outputID")]
    pub(crate) output_id: Option<String>,
    pub(crate) queued_at: Time,
    pub(crate) started_at: Option<Time>,
    pub(crate) ended_at: Option<Time>,
    pub(crate) children_spans: Vec<RunTraceSpan>,
    /// The hashed step id; `null` for the run.
    #[graphql(name = "stepID")]
    pub(crate) step_id: Option<String>,
    pub(crate) is_root: bool,
    #[graphql(name = "parentSpanID")]
    pub(crate) parent_span_id: Option<String>,
    /// Always empty: Durin records no span metadata.
    pub(crate) metadata: Vec<SpanMetadata>,
}

#[derive(Debug, Clone, PartialEq, SimpleObject)]
pub(crate) struct SpanMetadata {
    pub(crate) scope: SpanMetadataScope,
    pub(crate) kind: SpanMetadataKind,
    pub(crate) values: SpanMetadataValues,
    pub(crate) updated_at: Time,
}

/// What a span produced: `data` (JSON text) when it succeeded, `error` when it failed.
#[derive(Debug, Clone, PartialEq, Default, SimpleObject)]
pub(crate) struct RunTraceSpanOutput {
    /// Always `null`: Durin does not keep a step's input.
    pub(crate) input: Option<Bytes>,
    pub(crate) data: Option<Bytes>,
    pub(crate) error: Option<StepError>,
}

#[derive(Debug, Clone, PartialEq, SimpleObject)]
pub(crate) struct StepError {
    pub(crate) message: String,
    pub(crate) name: Option<String>,
    pub(crate) stack: Option<String>,
    pub(crate) cause: Option<Unknown>,
}

/// The events that started a run.
#[derive(Debug, Clone, PartialEq, SimpleObject)]
pub(crate) struct RunTraceTrigger {
    pub(crate) event_name: Option<String>,
    #[graphql(name = "IDs")]
    pub(crate) ids: Vec<Ulid>,
    /// Each event as a JSON object in text (`name`, `data`, `id`, `ts`, ...).
    pub(crate) payloads: Vec<Bytes>,
    pub(crate) timestamp: Time,
    pub(crate) is_batch: bool,
    #[graphql(name = "batchID")]
    pub(crate) batch_id: Option<Ulid>,
    pub(crate) cron: Option<String>,
}

/// A run in the older shape that `Event.functionRuns` lists.
#[derive(Debug, Clone, PartialEq, SimpleObject)]
pub(crate) struct FunctionRun {
    pub(crate) id: ID,
    #[graphql(name = "functionID")]
    pub(crate) function_id: String,
    pub(crate) status: Option<FunctionRunStatus>,
    pub(crate) started_at: Option<Time>,
    pub(crate) finished_at: Option<Time>,
    /// JSON text, as `FunctionRunV2.output`.
    pub(crate) output: Option<String>,
    #[graphql(name = "eventID")]
    pub(crate) event_id: ID,
}

/// An event in the older shape (`event(query: ...)`).
pub(crate) struct Event {
    pub(crate) event: EventRecord,
}

#[Object]
impl Event {
    async fn id(&self) -> Ulid {
        Ulid(self.event.internal_id.clone())
    }

    /// The `id` the sender gave, if any.
    #[graphql(name = "externalID")]
    async fn external_id(&self) -> Option<String> {
        convert::event_id_field(&self.event)
    }

    async fn name(&self) -> Option<String> {
        Some(self.event.name.clone())
    }

    /// The event's `ts`.
    async fn created_at(&self) -> Option<Time> {
        Some(Time::from_millis(convert::event_ts(&self.event)))
    }

    /// The event's `data` as JSON text.
    async fn payload(&self) -> Option<String> {
        Some(convert::event_data(&self.event).to_string())
    }

    /// The whole event as JSON text.
    async fn raw(&self) -> Option<String> {
        Some(self.event.payload.to_string())
    }

    /// The runs the event started.
    async fn function_runs(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<FunctionRun>>> {
        let runs = engine(ctx)?
            .store()
            .runs_for_event(&self.event.internal_id)
            .await
            .map_err(GqlError::from)?;
        Ok(Some(runs.iter().map(convert::function_run).collect()))
    }
}

/// An event (Inngest's `EventV2`).
pub(crate) struct EventV2 {
    pub(crate) event: EventRecord,
}

#[Object]
impl EventV2 {
    /// The internal id.
    async fn id(&self) -> Ulid {
        Ulid(self.event.internal_id.clone())
    }

    /// The event's `id` field (Durin fills it with the internal id when the sender gave none).
    async fn idempotency_key(&self) -> Option<String> {
        convert::event_id_field(&self.event)
    }

    async fn name(&self) -> String {
        self.event.name.clone()
    }

    /// The event's `ts`.
    async fn occurred_at(&self) -> Time {
        Time::from_millis(convert::event_ts(&self.event))
    }

    /// The whole event as JSON text.
    async fn raw(&self) -> String {
        self.event.payload.to_string()
    }

    async fn received_at(&self) -> Time {
        Time::from_millis(self.event.received_at)
    }

    /// The event's `v`.
    async fn version(&self) -> Option<String> {
        self.event
            .payload
            .get("v")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    }

    /// The runs the event started.
    async fn runs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FunctionRunV2>> {
        let runs = engine(ctx)?
            .store()
            .runs_for_event(&self.event.internal_id)
            .await
            .map_err(GqlError::from)?;
        Ok(runs.into_iter().map(|run| FunctionRunV2 { run }).collect())
    }
}
