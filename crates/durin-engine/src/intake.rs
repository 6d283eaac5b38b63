//! Event intake: validate, store durably, and start the runs the events trigger — in one commit.

use durin_core::FunctionConfig;
use durin_store::{NewEvent, NewRun};
use serde_json::{Map, Value};
use ulid::Ulid;

use crate::engine::Engine;
use crate::error::{EngineError, IntakeError};
use crate::telemetry;

/// Largest event accepted, in bytes of its JSON.
pub const EVENT_MAX_BYTES: usize = 512 * 1024;
/// Most events in one request.
pub const EVENTS_PER_REQUEST_MAX: usize = 5_000;
const RESERVED_PREFIX: &str = "inngest/";

impl Engine {
    /// Accepts the body of `POST /e/{key}`: one event or an array. Returns the internal ids, in order, once
    /// the events and the runs they start are durable. `id_seed` is the SDKs' `x-inngest-event-id-seed`
    /// header: with it, a re-sent request gets the same ids and starts no second run.
    pub async fn accept_event_body(
        &self,
        body: &[u8],
        id_seed: Option<&str>,
    ) -> Result<Vec<String>, EngineError> {
        let events = parse_events(body)?;
        self.accept_events(events, id_seed).await
    }

    /// Accepts already-parsed event objects (validated here all the same).
    pub async fn accept_events(
        &self,
        events: Vec<Value>,
        id_seed: Option<&str>,
    ) -> Result<Vec<String>, EngineError> {
        let now = self.now();
        let seed = id_seed.and_then(IdSeed::parse);
        let mut accepted = Vec::with_capacity(events.len());
        for (index, event) in events.into_iter().enumerate() {
            let internal_id = match &seed {
                Some(seed) => seed.id_for(index),
                None => Ulid::generate(),
            };
            accepted.push(normalize(index, event, now, internal_id.to_string())?);
        }
        let functions = self.functions();
        let runs = accepted
            .iter()
            .flat_map(|event| runs_for(&functions, event, now))
            .collect::<Vec<_>>();
        let ids = accepted.iter().map(|e| e.internal_id.clone()).collect();
        let resolutions = self.resolutions_for(&accepted).await?;
        let starts_work = !runs.is_empty() || !resolutions.is_empty();
        let event_count = accepted.len();
        let function_of: std::collections::HashMap<String, String> = runs
            .iter()
            .map(|r| (r.run_id.clone(), r.function_id.clone()))
            .collect();
        let outcome = self
            .inner
            .store
            .accept_events_resolving(accepted, runs, resolutions)
            .await?;
        telemetry::events_received(event_count);
        telemetry::runs_started(
            outcome
                .created_runs
                .iter()
                .filter_map(|id| function_of.get(id).map(String::as_str)),
        );
        if starts_work {
            self.wake_scheduler();
        }
        Ok(ids)
    }
}

pub(crate) fn parse_events(body: &[u8]) -> Result<Vec<Value>, IntakeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(IntakeError::Empty);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| IntakeError::MalformedJson(e.to_string()))?;
    let events = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    if events.is_empty() {
        return Err(IntakeError::Empty);
    }
    if events.len() > EVENTS_PER_REQUEST_MAX {
        return Err(IntakeError::TooMany {
            count: events.len(),
            limit: EVENTS_PER_REQUEST_MAX,
        });
    }
    Ok(events)
}

/// Checks one event and gives it its internal id, `id`, `ts`, and empty `data`/`user` where missing.
fn normalize(
    index: usize,
    event: Value,
    now: i64,
    internal_id: String,
) -> Result<NewEvent, IntakeError> {
    let invalid = |message: &str| IntakeError::Invalid {
        index,
        message: message.to_owned(),
    };
    let Value::Object(mut object) = event else {
        return Err(invalid("an event must be a JSON object"));
    };
    let size = serde_json::to_vec(&object)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > EVENT_MAX_BYTES {
        return Err(IntakeError::TooLarge {
            index,
            size,
            limit: EVENT_MAX_BYTES,
        });
    }
    let name = match object.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(IntakeError::MissingName { index });
        }
        Some(_) => return Err(invalid("`name` must be a string")),
    };
    if name.starts_with(RESERVED_PREFIX) {
        return Err(IntakeError::ReservedName { index, name });
    }
    for field in ["data", "user"] {
        match object.get_mut(field) {
            None | Some(Value::Null) => {
                object.insert(field.to_owned(), Value::Object(Map::new()));
            }
            Some(Value::Object(map)) => {
                if field == "data" {
                    // Reserved for the engine's own metadata.
                    map.remove("_inngest");
                }
            }
            Some(_) => return Err(invalid(&format!("`{field}` must be an object"))),
        }
    }
    let ts = match object.get("ts") {
        None | Some(Value::Null) => now,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => now,
            Some(ts) if ts > 0 => ts,
            _ => {
                return Err(invalid(
                    "`ts` must be a positive whole number of milliseconds",
                ));
            }
        },
        Some(_) => {
            return Err(invalid(
                "`ts` must be a number of milliseconds since the Unix epoch",
            ));
        }
    };
    object.insert("ts".into(), Value::from(ts));
    match object.get("id") {
        None | Some(Value::Null) => {
            object.insert("id".into(), Value::String(internal_id.clone()));
        }
        Some(Value::String(id)) if !id.is_empty() => {}
        Some(Value::String(_)) => {
            object.insert("id".into(), Value::String(internal_id.clone()));
        }
        Some(_) => return Err(invalid("`id` must be a string")),
    }
    Ok(NewEvent {
        internal_id,
        name,
        payload: Value::Object(object),
        received_at: now,
    })
}

/// The runs an event starts: one per function with a matching trigger. The event's `id` is the run's
/// idempotency key, so a re-sent event does not start a second run of the same function.
pub(crate) fn runs_for(functions: &[FunctionConfig], event: &NewEvent, now: i64) -> Vec<NewRun> {
    let key = event
        .payload
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(&event.internal_id)
        .to_owned();
    functions
        .iter()
        .filter(|f| f.is_triggered_by(&event.name, &event.payload))
        .map(|f| NewRun {
            run_id: Ulid::generate().to_string(),
            function_id: f.id.clone(),
            event_internal_id: event.internal_id.clone(),
            idempotency_key: key.clone(),
            started_at: now,
            policy: f.policy.clone(),
        })
        .collect()
}

/// The SDKs' `x-inngest-event-id-seed`: `<unix ms>,<base64 of 10 random bytes>`. The i-th event of the
/// request gets the ULID of that time and entropy, with the entropy's last 4 bytes advanced by i + 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdSeed {
    millis: u64,
    entropy: [u8; 10],
}

impl IdSeed {
    pub(crate) fn parse(header: &str) -> Option<Self> {
        use base64::Engine as _;
        let (millis, entropy) = header.split_once(',')?;
        let millis: u64 = millis.trim().parse().ok()?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(entropy.trim())
            .ok()?;
        Some(Self {
            millis,
            entropy: bytes.try_into().ok()?,
        })
    }

    pub(crate) fn id_for(&self, index: usize) -> Ulid {
        let mut entropy = self.entropy;
        let tail = u32::from_be_bytes([entropy[6], entropy[7], entropy[8], entropy[9]]);
        let advanced = tail.wrapping_add(u32::try_from(index + 1).unwrap_or(u32::MAX));
        entropy[6..].copy_from_slice(&advanced.to_be_bytes());
        let mut random = [0u8; 16];
        random[6..].copy_from_slice(&entropy);
        Ulid::from_parts(self.millis, u128::from_be_bytes(random))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(value: Value) -> Result<NewEvent, IntakeError> {
        normalize(0, value, 1_000, Ulid::generate().to_string())
    }

    #[test]
    fn a_seed_gives_the_same_ids_every_time_and_different_ids_per_event() {
        let seed = IdSeed::parse("1795888090200,Md03N+47h7wl6A==").unwrap();
        let again = IdSeed::parse("1795888090200,Md03N+47h7wl6A==").unwrap();
        assert_eq!(seed.id_for(0), again.id_for(0));
        assert_ne!(seed.id_for(0), seed.id_for(1));
        assert_eq!(seed.id_for(0).timestamp_ms(), 1795888090200);
        assert_eq!(IdSeed::parse("nonsense"), None);
        assert_eq!(IdSeed::parse("12,AAAA"), None, "entropy must be 10 bytes");
    }

    #[test]
    fn fills_in_id_ts_data_and_user() {
        let event = one(json!({"name": "app/a"})).unwrap();
        assert_eq!(event.payload["ts"], 1_000);
        assert_eq!(
            event.payload["id"],
            Value::String(event.internal_id.clone())
        );
        assert_eq!(event.payload["data"], json!({}));
        assert_eq!(event.payload["user"], json!({}));
    }

    #[test]
    fn keeps_the_users_id_and_ts() {
        let event = one(json!({"name": "app/a", "id": "order-1", "ts": 5})).unwrap();
        assert_eq!(event.payload["id"], "order-1");
        assert_eq!(event.payload["ts"], 5);
    }

    #[test]
    fn refuses_bad_events_naming_the_field() {
        assert_eq!(
            one(json!({"data": {}})),
            Err(IntakeError::MissingName { index: 0 })
        );
        assert_eq!(
            one(json!({"name": ""})),
            Err(IntakeError::MissingName { index: 0 })
        );
        assert!(matches!(
            one(json!({"name": "inngest/function.failed"})),
            Err(IntakeError::ReservedName { .. })
        ));
        assert!(matches!(
            one(json!({"name": "a", "data": 3})),
            Err(IntakeError::Invalid { .. })
        ));
        assert!(matches!(
            one(json!("text")),
            Err(IntakeError::Invalid { .. })
        ));
        let big = "x".repeat(EVENT_MAX_BYTES);
        assert!(matches!(
            one(json!({"name": "a", "data": {"big": big}})),
            Err(IntakeError::TooLarge { .. })
        ));
    }

    #[test]
    fn strips_the_reserved_data_key() {
        let event = one(json!({"name": "a", "data": {"_inngest": {"x": 1}, "k": 2}})).unwrap();
        assert_eq!(event.payload["data"], json!({"k": 2}));
    }

    #[test]
    fn parses_one_or_many() {
        assert_eq!(parse_events(br#"{"name":"a"}"#).unwrap().len(), 1);
        assert_eq!(
            parse_events(br#"[{"name":"a"},{"name":"b"}]"#)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(parse_events(b"  "), Err(IntakeError::Empty));
        assert_eq!(parse_events(b"[]"), Err(IntakeError::Empty));
        assert!(matches!(
            parse_events(b"{"),
            Err(IntakeError::MalformedJson(_))
        ));
    }

    proptest::proptest! {
        /// Whatever a client POSTs to `/e/{key}`: events or a clear error, never a panic.
        #[test]
        fn any_body_is_events_or_an_intake_error(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            name in "\\PC{0,40}",
            data in "\\PC{0,40}",
            ts in proptest::prelude::any::<i64>(),
        ) {
            if let Ok(events) = parse_events(&body) {
                for (index, event) in events.into_iter().enumerate() {
                    let _ = normalize(index, event, 1_000, Ulid::generate().to_string());
                }
            }
            let shaped = json!({"name": name, "data": data, "ts": ts, "id": data, "user": ts});
            let _ = one(shaped);
        }

        /// The SDKs' id-seed header, however malformed, gives a seed or nothing, and ids for any index.
        #[test]
        fn any_id_seed_header_parses_or_is_ignored(header in "\\PC{0,60}|[0-9]{1,25},[A-Za-z0-9+/=]{0,20}", index in proptest::prelude::any::<usize>()) {
            if let Some(seed) = IdSeed::parse(&header) {
                let _ = seed.id_for(index);
            }
        }
    }
}
