//! The query root: the five queries the official SDKs' test suites send (`run`, `runTrigger`,
//! `runTraceSpanOutputByID`, `event`, `eventV2`), each answered from the store reads the REST API uses.

use std::sync::LazyLock;

use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Schema};
use durin_engine::Engine;
use durin_store::StoreError;

use super::convert;
use super::output::{self, InvalidOutputId, OutputId};
use super::scalars::{Bytes, Time, Ulid};
use super::types::{
    Event, EventQuery, EventV2, FunctionRunV2, RunTraceSpanOutput, RunTraceTrigger,
};

pub(crate) type GqlSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The schema has no state of its own (the engine comes with each request), so it is built once.
pub(crate) static SCHEMA: LazyLock<GqlSchema> = LazyLock::new(|| {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        // The deepest query the suites send nests `childrenSpans` three levels under `run.trace`; this
        // leaves room for that and stops runaway nesting.
        .limit_depth(16)
        .finish()
});

/// Why a query could not be answered; each becomes a GraphQL error with this message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GqlError {
    #[error("run {0} not found")]
    RunNotFound(String),
    #[error("event {0} not found")]
    EventNotFound(String),
    #[error("no output {0}")]
    OutputNotFound(String),
    #[error(transparent)]
    InvalidOutputId(#[from] InvalidOutputId),
    #[error("the store is unavailable: {0}")]
    Store(#[from] StoreError),
    #[error("no engine in the request context")]
    NoEngine,
}

/// The engine the handler put into the request.
pub(crate) fn engine<'a>(ctx: &Context<'a>) -> Result<&'a Engine, GqlError> {
    ctx.data_opt::<Engine>().ok_or(GqlError::NoEngine)
}

pub(crate) struct Query;

#[Object]
impl Query {
    /// A run, or an error if there is none with this id.
    async fn run(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runID")] run_id: String,
    ) -> async_graphql::Result<Option<FunctionRunV2>> {
        let run = existing_run(ctx, &run_id).await?;
        Ok(Some(FunctionRunV2 { run }))
    }

    /// The event that started a run.
    async fn run_trigger(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "runID")] run_id: String,
    ) -> async_graphql::Result<RunTraceTrigger> {
        let run = existing_run(ctx, &run_id).await?;
        let event = engine(ctx)?
            .store()
            .get_event(&run.event_internal_id)
            .await
            .map_err(GqlError::from)?;
        Ok(RunTraceTrigger {
            event_name: event.as_ref().map(|e| e.name.clone()),
            ids: vec![Ulid(run.event_internal_id.clone())],
            payloads: event.iter().map(|e| Bytes::json(&e.payload)).collect(),
            timestamp: Time::from_millis(event.as_ref().map_or(run.started_at, convert::event_ts)),
            is_batch: false,
            batch_id: None,
            cron: None,
        })
    }

    /// The output of a span, by the `outputID` the trace gave it.
    #[graphql(name = "runTraceSpanOutputByID")]
    async fn run_trace_span_output_by_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "outputID")] output_id: String,
    ) -> async_graphql::Result<RunTraceSpanOutput> {
        let id: OutputId = output_id.parse().map_err(GqlError::from)?;
        let run = existing_run(ctx, id.run_id()).await?;
        let store = engine(ctx)?.store();
        let not_found = || GqlError::OutputNotFound(output_id.clone());
        let output = match &id {
            OutputId::Run { .. } => output::run_output(&run),
            OutputId::Step { run_id, step_id } => {
                let steps = store.steps_for_run(run_id).await.map_err(GqlError::from)?;
                let step = steps.iter().find(|s| &s.step_id == step_id);
                output::memo_output(&step.ok_or_else(not_found)?.memo)
            }
            OutputId::Attempt {
                run_id,
                job_id,
                attempt,
            } => {
                let attempts = store
                    .attempts_for_run(run_id)
                    .await
                    .map_err(GqlError::from)?;
                let record = attempts
                    .iter()
                    .find(|a| &a.job_id == job_id && a.attempt == *attempt)
                    .ok_or_else(not_found)?;
                let steps = store.steps_for_run(run_id).await.map_err(GqlError::from)?;
                let memo = steps
                    .iter()
                    .find(|s| Some(&s.step_id) == record.step_id.as_ref())
                    .map(|s| &s.memo);
                output::attempt_output(record, memo)
            }
        };
        Ok(output)
    }

    /// An event by its internal id, or an error if there is none.
    async fn event(
        &self,
        ctx: &Context<'_>,
        query: EventQuery,
    ) -> async_graphql::Result<Option<Event>> {
        let event = existing_event(ctx, query.event_id.as_str()).await?;
        Ok(Some(Event { event }))
    }

    /// An event by its internal id, or an error if there is none.
    #[graphql(name = "eventV2")]
    async fn event_v2(&self, ctx: &Context<'_>, id: Ulid) -> async_graphql::Result<EventV2> {
        let event = existing_event(ctx, &id.0).await?;
        Ok(EventV2 { event })
    }
}

async fn existing_run(ctx: &Context<'_>, run_id: &str) -> Result<durin_store::RunRecord, GqlError> {
    engine(ctx)?
        .store()
        .get_run(run_id)
        .await?
        .ok_or_else(|| GqlError::RunNotFound(run_id.to_owned()))
}

async fn existing_event(
    ctx: &Context<'_>,
    internal_id: &str,
) -> Result<durin_store::EventRecord, GqlError> {
    engine(ctx)?
        .store()
        .get_event(internal_id)
        .await?
        .ok_or_else(|| GqlError::EventNotFound(internal_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use async_graphql::{Request, Variables};
    use serde_json::json;

    use super::*;

    /// Runs `query` without an engine: a query that validates fails only in its resolvers, with
    /// `NoEngine`; one that does not validate fails before them, with another message.
    async fn validation_errors(query: &str, variables: serde_json::Value) -> Vec<String> {
        let request = Request::new(query).variables(Variables::from_json(variables));
        SCHEMA
            .execute(request)
            .await
            .errors
            .into_iter()
            .map(|e| e.message)
            .filter(|m| m != &GqlError::NoEngine.to_string())
            .collect()
    }

    // The shapes the official suites send (their field selections, variable types and fragments).
    const SHAPES: &[(&str, &str)] = &[
        (
            "run status, output and trigger",
            "query GetRun($run_id: String!) {
               run(runID: $run_id) { output status }
               runTrigger(runID: $run_id) { payloads }
             }",
        ),
        (
            "step spans",
            "query Steps($run_id: String!) {
               run(runID: $run_id) { trace { childrenSpans { name outputID } } }
             }",
        ),
        (
            "span output",
            "query Output($output_id: String!) {
               runTraceSpanOutputByID(outputID: $output_id) { data error { message name stack } }
             }",
        ),
        (
            "an event's runs",
            "query Runs($event_id: ID!) { event(query: {eventId: $event_id}) { functionRuns { id } } }",
        ),
        (
            "trace status",
            "query ($runId: String!) {
               run(runID: $runId) { status trace(preview: true) { status outputID } }
             }",
        ),
        (
            "trace metadata with a fragment",
            "fragment Fields on RunTraceSpan {
               name stepID spanID metadata { scope kind values updatedAt }
             }
             query ($runId: String!) {
               run(runID: $runId) {
                 trace(preview: true) { ...Fields childrenSpans { ...Fields childrenSpans { ...Fields } } }
               }
             }",
        ),
        (
            "step metadata",
            "query Query($runID: String!, $preview: Boolean) {
               run(runID: $runID) { trace(preview: $preview) { childrenSpans { metadata { scope kind values } name } } }
             }",
        ),
        (
            "event v2",
            "query Event($id: ULID!) { eventV2(id: $id) { idempotencyKey name raw } }",
        ),
    ];

    #[tokio::test]
    async fn the_suites_query_shapes_validate() {
        let variables = json!({
            "run_id": "01J0000000000000000000000A", "runId": "01J0000000000000000000000A",
            "runID": "01J0000000000000000000000A", "preview": true,
            "output_id": "run:01J0000000000000000000000A", "event_id": "01J0000000000000000000000B",
            "id": "01J0000000000000000000000B",
        });
        for (what, query) in SHAPES {
            let errors = validation_errors(query, variables.clone()).await;
            assert!(errors.is_empty(), "{what}: {errors:?}");
        }
    }

    #[tokio::test]
    async fn wrong_shapes_are_refused_by_validation() {
        let variables = json!({"id": "not-a-ulid", "run_id": "r"});
        for query in [
            "{ run(runID: \"r\") { nope } }",
            "query ($id: ULID!) { eventV2(id: $id) { name } }",
            "{ run(runID: \"r\") { status ",
        ] {
            assert!(
                !validation_errors(query, variables.clone()).await.is_empty(),
                "{query}"
            );
        }
    }
}
