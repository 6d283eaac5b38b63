//! `POST /fn/register`: an app tells the engine its functions.

use durin_core::{FunctionConfig, RetryPolicy, Trigger};
use durin_protocol::{FunctionDef, RegisterRequest, RegisterResponse};
use durin_store::AppSync;

use crate::engine::Engine;
use crate::error::{EngineError, RegisterError};

/// Most functions one app registers (Inngest's per-app limit). The trigger matcher holds every function
/// in memory and every event is matched against them.
pub const FUNCTIONS_PER_APP_MAX: usize = 1_000;
/// Most triggers one function has (Inngest's limit).
pub const TRIGGERS_PER_FUNCTION_MAX: usize = 10;
/// Longest function id, in bytes (ids travel in URLs and headers).
pub const FUNCTION_ID_MAX_BYTES: usize = 256;

impl Engine {
    /// Validates and stores an app's registration. `expected_server_kind` is the app's
    /// `X-Inngest-Expected-Server-Kind` header, if it sent one.
    pub async fn register(
        &self,
        request: RegisterRequest,
        expected_server_kind: Option<&str>,
    ) -> Result<RegisterResponse, EngineError> {
        if let Some(kind) =
            expected_server_kind.filter(|k| !k.is_empty() && *k != self.server_kind())
        {
            return Err(RegisterError::ServerKindMismatch {
                server: self.server_kind(),
                expected: kind.to_owned(),
            }
            .into());
        }
        // Functions are stored with the policy the app registered: Durin-side function entries are
        // applied when a run starts (`Engine::functions`), so that a change through the API needs no
        // re-sync; step entries apply when a step fails.
        let (sync, notes) = to_app_sync(&request, self.now())?;
        for note in &notes {
            tracing::warn!(app = %sync.name, "{note}");
        }
        let count = sync.functions.len();
        // The trigger matcher learns the functions before the sync is visible in the store (and so in
        // `/v1/apps`): an event sent as soon as an app shows as synced must start its runs. The store stays
        // the authority: the cache is reloaded from it right after, whatever the outcome.
        self.replace_app_functions(&sync.name, &sync.functions);
        let saved = self.inner.store.save_app_sync(sync).await;
        self.reload_functions().await?;
        saved?;
        tracing::info!(app = %request.app_name, url = %request.url, functions = count, "app synced");
        Ok(RegisterResponse {
            ok: true,
            modified: true,
            app_id: Some(request.app_name.clone()),
            sync_id: Some(ulid::Ulid::generate().to_string()),
            message: (!notes.is_empty()).then(|| notes.join("; ")),
            error: None,
        })
    }
}

/// Turns the wire payload into the domain's functions; returns notes about adjusted values.
pub(crate) fn to_app_sync(
    request: &RegisterRequest,
    now: i64,
) -> Result<(AppSync, Vec<String>), RegisterError> {
    if request.url.trim().is_empty() {
        return Err(RegisterError::MissingUrl);
    }
    if request.app_name.trim().is_empty() {
        return Err(RegisterError::MissingAppName);
    }
    if request.functions.len() > FUNCTIONS_PER_APP_MAX {
        return Err(RegisterError::TooManyFunctions {
            count: request.functions.len(),
            limit: FUNCTIONS_PER_APP_MAX,
        });
    }
    let mut notes = Vec::new();
    let mut functions = Vec::with_capacity(request.functions.len());
    for (index, def) in request.functions.iter().enumerate() {
        functions.push(to_function(index, def, &request.app_name, &mut notes)?);
    }
    Ok((
        AppSync {
            name: request.app_name.clone(),
            url: request.url.clone(),
            sdk: request.sdk.clone(),
            framework: request.framework.clone(),
            functions,
            synced_at: now,
        },
        notes,
    ))
}

fn to_function(
    index: usize,
    def: &FunctionDef,
    app: &str,
    notes: &mut Vec<String>,
) -> Result<FunctionConfig, RegisterError> {
    if def.id.trim().is_empty() {
        return Err(RegisterError::MissingFunctionId { index });
    }
    if def.id.len() > FUNCTION_ID_MAX_BYTES {
        return Err(RegisterError::InvalidFunction {
            function: def.id.chars().take(64).collect::<String>() + "…",
            message: format!(
                "`id` is {} bytes; the limit is {FUNCTION_ID_MAX_BYTES}",
                def.id.len()
            ),
        });
    }
    let invalid = |message: &str| RegisterError::InvalidFunction {
        function: def.id.clone(),
        message: message.to_owned(),
    };
    if def.triggers.len() > TRIGGERS_PER_FUNCTION_MAX {
        return Err(invalid(&format!(
            "it has {} triggers; the limit is {TRIGGERS_PER_FUNCTION_MAX}",
            def.triggers.len()
        )));
    }
    let step = def
        .main_step()
        .ok_or_else(|| invalid("`steps` must hold the function's step with its runtime URL"))?;
    if step.runtime.url.trim().is_empty() {
        return Err(invalid("`steps.step.runtime.url` is empty"));
    }
    // No triggers is valid: such a function only runs when another invokes it (`step.invoke`).
    let mut triggers = Vec::new();
    for (trigger_index, trigger) in def.triggers.iter().enumerate() {
        let bad = |message: String| RegisterError::InvalidTrigger {
            function: def.id.clone(),
            index: trigger_index,
            message,
        };
        match (&trigger.event, &trigger.cron) {
            (Some(event), None) => triggers.push(
                Trigger::new(event, trigger.expression.as_deref())
                    .map_err(|e| bad(e.to_string()))?,
            ),
            (None, Some(cron)) if !cron.trim().is_empty() => {
                notes.push(format!(
                    "function {}: cron triggers are not scheduled yet ({cron})",
                    def.id
                ));
            }
            (Some(_), Some(_)) => {
                return Err(bad(
                    "a trigger has either `event` or `cron`, not both".into()
                ));
            }
            _ => return Err(bad("a trigger needs a non-empty `event` or `cron`".into())),
        }
    }
    let configured = RetryPolicy::from_configured(step.retries.map(|r| r.attempts));
    if let Some(note) = configured.adjustment {
        notes.push(format!("function {}: {note}", def.id));
    }
    Ok(FunctionConfig {
        id: def.id.clone(),
        name: if def.name.is_empty() {
            def.id.clone()
        } else {
            def.name.clone()
        },
        app_name: app.to_owned(),
        url: step.runtime.url.clone(),
        triggers,
        policy: configured.policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(functions: &str) -> RegisterRequest {
        serde_json::from_str(&format!(
            r#"{{"url":"http://a/api/inngest","appName":"app","functions":{functions}}}"#
        ))
        .unwrap()
    }

    fn function(triggers: &str, retries: &str) -> String {
        format!(
            r#"[{{"id":"app-f","name":"F","triggers":{triggers},"steps":{{"step":{{"id":"step","name":"step",
            "runtime":{{"type":"http","url":"http://a/api/inngest?fnId=app-f&stepId=step"}}{retries}}}}}}}]"#
        )
    }

    #[test]
    fn reads_retries_and_clamps_above_twenty() {
        let (sync, notes) = to_app_sync(
            &request(&function(
                r#"[{"event":"a/b"}]"#,
                r#","retries":{"attempts":0}"#,
            )),
            1,
        )
        .unwrap();
        assert_eq!(sync.functions[0].policy.max_attempts(), 1);
        assert!(notes.is_empty());
        let (sync, notes) = to_app_sync(
            &request(&function(
                r#"[{"event":"a/b"}]"#,
                r#","retries":{"attempts":50}"#,
            )),
            1,
        )
        .unwrap();
        assert_eq!(sync.functions[0].policy.retries, 20);
        assert_eq!(notes.len(), 1);
        let (sync, _) = to_app_sync(&request(&function(r#"[{"event":"a/b"}]"#, "")), 1).unwrap();
        assert_eq!(sync.functions[0].policy.retries, 4);
    }

    #[test]
    fn refuses_invalid_triggers_naming_the_function() {
        let error = to_app_sync(&request(&function(r#"[{"expression":"x"}]"#, "")), 1).unwrap_err();
        assert!(
            matches!(error, RegisterError::InvalidTrigger { ref function, index: 0, .. } if function == "app-f")
        );
        let error = to_app_sync(
            &request(&function(
                r#"[{"event":"a","expression":"event.data.x >"}]"#,
                "",
            )),
            1,
        )
        .unwrap_err();
        assert!(matches!(error, RegisterError::InvalidTrigger { .. }));
    }

    #[test]
    fn a_function_without_triggers_is_invoke_only() {
        let (sync, _) = to_app_sync(&request(&function("[]", "")), 1).unwrap();
        assert!(sync.functions[0].triggers.is_empty());
    }

    #[test]
    fn keeps_cron_functions_with_a_note() {
        let (sync, notes) = to_app_sync(
            &request(&function(r#"[{"event":"a/b"},{"cron":"0 0 * * *"}]"#, "")),
            1,
        )
        .unwrap();
        assert_eq!(sync.functions[0].triggers.len(), 1);
        assert_eq!(notes.len(), 1);
    }
}
