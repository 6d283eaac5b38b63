//! Function definitions: id, triggers, retries and the handler, plus what a handler receives.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use durin_protocol::EventPayload;
use durin_protocol::register::StepRuntime;
use durin_protocol::{FunctionDef, RetriesDef, StepDef, TriggerDef};
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::step::Step;

/// What a handler receives: the triggering event(s), the attempt counter and the step tools.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Context {
    /// The first triggering event.
    pub event: EventPayload,
    /// All triggering events (more than one only for batched functions).
    pub events: Vec<EventPayload>,
    /// Zero-based attempt of the current job: of the step being executed, or of the body re-execution.
    pub attempt: u32,
    /// Attempts allowed for the current job (retries + 1), when the engine sends it.
    pub max_attempts: Option<u32>,
    pub run_id: String,
    pub step: Step,
}

pub(crate) type Handler =
    Arc<dyn Fn(Context) -> BoxFuture<'static, Result<Value, Error>> + Send + Sync>;

/// A durable function: built with [`Function::new`], served with [`crate::serve`].
#[derive(Clone)]
pub struct Function {
    slug: String,
    name: Option<String>,
    triggers: Vec<TriggerDef>,
    retries: Option<u32>,
    handler: Option<Handler>,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("slug", &self.slug)
            .field("name", &self.name)
            .field("triggers", &self.triggers)
            .field("retries", &self.retries)
            .field("has_handler", &self.handler.is_some())
            .finish()
    }
}

impl Function {
    /// A function with the given slug; its id on the wire is `<app id>-<slug>`.
    pub fn new(slug: impl Into<String>) -> Self {
        Self {
            slug: slug.into(),
            name: None,
            triggers: Vec::new(),
            retries: None,
            handler: None,
        }
    }

    /// The display name (defaults to the slug).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Runs the function for every event with this name. May be given several times.
    pub fn trigger_event(mut self, event: impl Into<String>) -> Self {
        self.triggers.push(TriggerDef {
            event: Some(event.into()),
            ..TriggerDef::default()
        });
        self
    }

    /// Like [`Function::trigger_event`], only for events matching `expression` (e.g. `event.data.ok == true`).
    pub fn trigger_event_if(
        mut self,
        event: impl Into<String>,
        expression: impl Into<String>,
    ) -> Self {
        self.triggers.push(TriggerDef {
            event: Some(event.into()),
            expression: Some(expression.into()),
            cron: None,
        });
        self
    }

    /// Runs the function on a cron schedule (`0 0 * * *`).
    pub fn trigger_cron(mut self, cron: impl Into<String>) -> Self {
        self.triggers.push(TriggerDef {
            cron: Some(cron.into()),
            ..TriggerDef::default()
        });
        self
    }

    /// Retries per step (and per body re-execution): each job is tried at most `retries + 1` times.
    /// When not set, nothing is sent and the engine's default (4) applies.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// The function body. It is replayed from the top on every request; put side effects in steps.
    pub fn handler<H, Fut, T>(mut self, handler: H) -> Self
    where
        H: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        T: Serialize + 'static,
    {
        self.handler = Some(Arc::new(move |ctx| {
            let run = handler(ctx);
            Box::pin(async move {
                let output = run.await?;
                serde_json::to_value(output).map_err(|error| {
                    Error::new(
                        "SerializationError",
                        format!("function result is not JSON: {error}"),
                    )
                })
            })
        }));
        self
    }

    pub fn slug(&self) -> &str {
        &self.slug
    }

    /// The composite id the engine knows this function by.
    pub(crate) fn wire_id(&self, app_id: &str) -> String {
        format!("{app_id}-{}", self.slug)
    }

    pub(crate) fn handler_fn(&self) -> Option<&Handler> {
        self.handler.as_ref()
    }

    /// The function's entry of the register payload, served at `serve_url`.
    pub(crate) fn definition(&self, app_id: &str, serve_url: &str) -> FunctionDef {
        let id = self.wire_id(app_id);
        let separator = if serve_url.contains('?') { '&' } else { '?' };
        let step = StepDef {
            id: durin_protocol::DISCOVERY_STEP_ID.to_owned(),
            name: durin_protocol::DISCOVERY_STEP_ID.to_owned(),
            runtime: StepRuntime {
                kind: "http".to_owned(),
                url: format!(
                    "{serve_url}{separator}fnId={id}&stepId={}",
                    durin_protocol::DISCOVERY_STEP_ID
                ),
            },
            retries: self.retries.map(|attempts| RetriesDef {
                attempts: i64::from(attempts),
            }),
        };
        FunctionDef {
            name: self.name.clone().unwrap_or_else(|| self.slug.clone()),
            id,
            triggers: self.triggers.clone(),
            steps: [(durin_protocol::DISCOVERY_STEP_ID.to_owned(), step)].into(),
            extra: serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_handler_friendly<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn context_and_step_move_into_tasks() {
        assert_handler_friendly::<Context>();
        assert_handler_friendly::<Step>();
        assert_handler_friendly::<Function>();
    }

    #[test]
    fn definition_without_retries_sends_none() {
        let function = Function::new("f").trigger_event("a/b");
        let def = function.definition("app", "http://h/api/inngest");
        assert_eq!(def.id, "app-f");
        assert_eq!(def.name, "f");
        let step = def
            .main_step()
            .map(|step| (step.runtime.url.clone(), step.retries));
        assert_eq!(
            step,
            Some((
                "http://h/api/inngest?fnId=app-f&stepId=step".to_owned(),
                None
            ))
        );
        let with_query = function.retries(0).definition("app", "http://h/x?k=1");
        let step = with_query
            .main_step()
            .map(|step| (step.runtime.url.clone(), step.retries));
        assert_eq!(
            step,
            Some((
                "http://h/x?k=1&fnId=app-f&stepId=step".to_owned(),
                Some(RetriesDef { attempts: 0 })
            ))
        );
    }
}
