package compat

// step.WaitForEvent and step.Invoke. inngestgo v0.16.0 sends
//   WaitForEvent:   {"op":"WaitForEvent","name":"<opts.Name or the step id>",
//                    "opts":{"event":"<name>","timeout":"15s","if":"<CEL>"}}
//   InvokeFunction: {"op":"InvokeFunction","name":"<step id>",
//                    "opts":{"function_id":"<app>-<fn>","payload":{"data":{...},"user":null}[,"timeout":"1s"]}}
// and reads the memo back as: WaitForEvent: the raw event object unmarshalled into T, JSON null (or
// no value) = step.ErrEventNotReceived; Invoke: {"data": <result>} unmarshalled into T, or
// {"error": {"message": ...}} returned as NoRetryError(message).

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"durin.dev/compat/go/app"
)

// Event is Inngest's event shape as Durin serves it on /v1/events/{id}.
type Event struct {
	InternalID string          `json:"internal_id"`
	ID         any             `json:"id"`
	Name       string          `json:"name"`
	Data       map[string]any  `json:"data"`
	User       json.RawMessage `json:"user"`
}

func (e *engine) getEvent(t *testing.T, id string) Event {
	t.Helper()
	var ev Event
	if err := e.getData("/v1/events/"+id, &ev); err != nil {
		t.Fatalf("GET /v1/events/%s: %v", id, err)
	}
	return ev
}

func (e *engine) eventRuns(t *testing.T, id string) []Run {
	t.Helper()
	var runs []Run
	if err := e.getData("/v1/events/"+id+"/runs", &runs); err != nil {
		t.Fatalf("GET /v1/events/%s/runs: %v", id, err)
	}
	return runs
}

// waitRunStarted waits until the event has a run of function fnID (any status) and returns its id.
func (e *engine) waitRunStarted(t *testing.T, eventID, fnID string, timeout time.Duration) string {
	t.Helper()
	slug := e.app.Client.AppID() + "-" + fnID
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var runs []Run
		if err := e.getData("/v1/events/"+eventID+"/runs", &runs); err == nil {
			for _, r := range runs {
				if r.FunctionID == slug {
					return r.RunID
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no run of %s for event %s within %s", slug, eventID, timeout)
	return ""
}

// waitStepAttempt waits until Durin has recorded an attempt for the step (for a wait op: the attempt
// that stored the pause, in the same transaction) and returns it.
func (e *engine) waitStepAttempt(t *testing.T, runID, stepName string, timeout time.Duration) Attempt {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var atts []Attempt
	for time.Now().Before(deadline) {
		atts = nil
		if err := e.getData("/v1/runs/"+runID+"/attempts", &atts); err == nil {
			if s := stepAttempts(atts, stepName); len(s) > 0 {
				return s[0]
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s: no attempt of step %q within %s; attempts %v", runID, stepName, timeout, atts)
	return Attempt{}
}

// resumedPasses returns the app's records of the body going past the wait: one per replay after the
// wait resolved, all with the same outcome.
func (e *engine) resumedPasses(t *testing.T, key string) []app.Record {
	t.Helper()
	resumed := records(e.app.Rec.For(key), "wait-for-approval", "body:resumed")
	if len(resumed) == 0 {
		t.Fatalf("the body never went past the wait: %+v", e.app.Rec.For(key))
	}
	for _, r := range resumed[1:] {
		if jsonString(r.Info) != jsonString(resumed[0].Info) {
			t.Errorf("the replays past the wait saw different values: %+v", resumed)
		}
	}
	return resumed
}

func records(recs []app.Record, fn, stepName string) []app.Record {
	var out []app.Record
	for _, r := range recs {
		if r.Fn == fn && r.Step == stepName {
			out = append(out, r)
		}
	}
	return out
}

// kindOf is an attempt's job kind ("discovery", "step", "timeout").
func kindOf(a Attempt) string {
	var k struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(a.Kind, &k)
	return k.Kind
}

// sdkOp is one op of a 206 answer, as inngestgo wrote it.
type sdkOp struct {
	ID    string         `json:"id"`
	Op    string         `json:"op"`
	Name  string         `json:"name"`
	Opts  map[string]any `json:"opts"`
	AtMs  int64          `json:"-"`
	Exch  int            `json:"-"`
	Error any            `json:"error"`
}

// sdkOps returns every op of the given code the SDK answered for the run, in order.
func (e *engine) sdkOps(runID, code string) []sdkOp {
	var out []sdkOp
	for i, x := range e.app.Wire.ByRun(runID) {
		if x.Status != 206 {
			continue
		}
		var ops []sdkOp
		if json.Unmarshal([]byte(x.Body), &ops) != nil {
			continue
		}
		for _, op := range ops {
			if op.Op == code {
				op.AtMs = x.AtMs
				op.Exch = i
				out = append(out, op)
			}
		}
	}
	return out
}

// memoSent returns the memo Durin sent for a hashed step id in the first call that carried it, and
// whether any call carried the key at all (a JSON null memo is carried as "null").
func (e *engine) memoSent(runID, hashedID string) (json.RawMessage, bool) {
	for _, x := range e.app.Wire.ByRun(runID) {
		var req struct {
			Steps map[string]json.RawMessage `json:"steps"`
		}
		if json.Unmarshal([]byte(x.RequestBody), &req) != nil {
			continue
		}
		if m, ok := req.Steps[hashedID]; ok {
			if m == nil {
				m = json.RawMessage("null")
			}
			return m, true
		}
	}
	return nil, false
}

// ---- step.WaitForEvent ----------------------------------------------------------------------

// WaitForEvent resumes with the first event matching `if` (async.data.key == event.data.key &&
// async.data.approved == true) received after the wait began: two non-matching events sent first
// (approved false; another key) are ignored, and a second matching event sent after is not used.
func TestWaitForEventMatch(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	start := e.send(t, app.WaitStartEvent, map[string]any{"key": key, "timeout_ms": 15000})
	runID := e.waitRunStarted(t, start, "wait-for-approval", 10*time.Second)
	e.explain(t, runID)
	// The attempt that reported the wait is recorded with the pause, in one commit.
	waitAtt := e.waitStepAttempt(t, runID, app.WaitStepID, 10*time.Second)
	if waitAtt.Outcome != "ok" {
		t.Errorf("the wait's attempt %v, want ok", waitAtt)
	}

	e.send(t, app.WaitApprovedEvent, map[string]any{"key": key, "approved": false, "by": "mallory"})
	e.send(t, app.WaitApprovedEvent, map[string]any{"key": key + "-other", "approved": true, "by": "eve"})
	if r := e.getRun(t, runID); r.Status != "Running" {
		t.Errorf("after two non-matching events the run is %s (output %s), want still Running", r.Status, r.Output)
	}
	matched := e.send(t, app.WaitApprovedEvent, map[string]any{"key": key, "approved": true, "by": "alice"})
	e.send(t, app.WaitApprovedEvent, map[string]any{"key": key, "approved": true, "by": "bob"})

	run := e.waitRunByID(t, runID, 20*time.Second)
	wantStatus(t, run, "Completed")
	out := decode(t, run.Output)
	if out["timed_out"] != false || out["approved_by"] != "alice" || out["key"] != key ||
		out["event_name"] != app.WaitApprovedEvent || out["after"] != "approved by alice" {
		t.Errorf("output %s, want alice's approval (the first matching event) and the step after the wait", run.Output)
	}
	if id, ok := out["event_id"]; !ok || id != matched {
		t.Errorf("the event the SDK decoded has id %v, want the matched event's id %s", id, matched)
	}

	// The app: the body went past the wait once, with the matched event decoded into
	// inngestgo.GenericEvent[ApprovalData]; the step after the wait ran once.
	resumed := e.resumedPasses(t, key)
	if r := resumed[0].Info; r["timed_out"] != false || r["name"] != app.WaitApprovedEvent ||
		jsonString(r["data"]) != jsonString(app.ApprovalData{Key: key, Approved: true, By: "alice"}) {
		t.Errorf("the app decoded %v, want alice's event", r)
	}
	if n := len(records(e.app.Rec.For(key), "wait-for-approval", "after-wait")); n != 1 {
		t.Errorf("after-wait ran %d times, want once", n)
	}
	if n := len(records(e.app.Rec.For(key), "wait-for-approval", "body:wait-error")); n != 0 {
		t.Errorf("WaitForEvent returned an error: %+v", e.app.Rec.For(key))
	}

	// What inngestgo sent: the event name in opts.event, the step's display name in `name`.
	ops := e.sdkOps(runID, "WaitForEvent")
	if len(ops) != 1 {
		t.Fatalf("the SDK reported %d WaitForEvent ops, want 1", len(ops))
	}
	op := ops[0]
	if op.ID != sha1hex(app.WaitStepID) || op.Name != "Wait for approval" || op.Opts["event"] != app.WaitApprovedEvent ||
		op.Opts["timeout"] != "15s" || op.Opts["if"] != "async.data.key == event.data.key && async.data.approved == true" {
		t.Errorf("WaitForEvent op %+v", op)
	}
	// What Durin sent back: the raw event object as the step's memo.
	memo, ok := e.memoSent(runID, sha1hex(app.WaitStepID))
	if !ok {
		t.Fatalf("no call carried the wait's memo")
	}
	var ev struct {
		ID   string         `json:"id"`
		Name string         `json:"name"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(memo, &ev); err != nil || ev.Name != app.WaitApprovedEvent || ev.Data["by"] != "alice" {
		t.Errorf("the wait's memo %s, want alice's event object", memo)
	}

	// Durin: every attempt ok, the wait's attempt first, no timeout.
	atts := e.attempts(t, runID)
	for _, a := range atts {
		if a.Outcome != "ok" || kindOf(a) == "timeout" {
			t.Errorf("attempt %v, want ok and no timeout", a)
		}
	}
	if w := stepAttempts(atts, app.WaitStepID); len(w) != 1 {
		t.Errorf("attempts of the wait step %v, want one", w)
	}
	if s := stepAttempts(atts, "after-wait"); len(s) != 1 {
		t.Errorf("attempts of after-wait %v, want one", s)
	}
}

// WaitForEvent with a 2 s timeout and no matching event: Durin memoizes null at the timeout and
// inngestgo returns step.ErrEventNotReceived with the zero event; the run goes on and completes.
func TestWaitForEventTimeout(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	const timeout = 2 * time.Second
	start := e.send(t, app.WaitStartEvent, map[string]any{"key": key, "timeout_ms": timeout.Milliseconds()})
	runID := e.waitRunStarted(t, start, "wait-for-approval", 10*time.Second)
	e.explain(t, runID)
	e.waitStepAttempt(t, runID, app.WaitStepID, 10*time.Second)
	// A non-matching event meanwhile changes nothing.
	e.send(t, app.WaitApprovedEvent, map[string]any{"key": key, "approved": false, "by": "mallory"})

	run := e.waitRunByID(t, runID, 20*time.Second)
	wantStatus(t, run, "Completed")
	out := decode(t, run.Output)
	if out["timed_out"] != true || out["after"] != "no approval" {
		t.Errorf("output %s, want timed_out and the step after the wait", run.Output)
	}

	resumed := e.resumedPasses(t, key)
	if r := resumed[0].Info; r["timed_out"] != true || r["name"] != "" {
		t.Errorf("the app saw %v, want step.ErrEventNotReceived and the zero event", r)
	}
	ops := e.sdkOps(runID, "WaitForEvent")
	if len(ops) != 1 {
		t.Fatalf("the SDK reported %d WaitForEvent ops, want 1", len(ops))
	}
	if ops[0].Opts["timeout"] != "2s" {
		t.Errorf("opts.timeout %v, want 2s", ops[0].Opts["timeout"])
	}
	elapsed := time.Duration(resumed[0].AtMs-ops[0].AtMs) * time.Millisecond
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Errorf("the body resumed %s after reporting the wait, want >= %s (and not much more)", elapsed, timeout)
	}
	if memo, ok := e.memoSent(runID, sha1hex(app.WaitStepID)); !ok || string(memo) != "null" {
		t.Errorf("the wait's memo %s (carried %v), want null", memo, ok)
	}

	// Durin: the wait's attempt, then a timeout attempt of the same step at least 2 s later (the
	// app is not called for it), then the discoveries that finish the run.
	atts := e.attempts(t, runID)
	w := stepAttempts(atts, app.WaitStepID)
	if len(w) != 2 || kindOf(w[0]) == "timeout" || kindOf(w[1]) != "timeout" {
		t.Fatalf("attempts of the wait step %v, want the wait then its timeout", w)
	}
	if gap := time.Duration(w[1].StartedAtMs-w[0].EndedAtMs) * time.Millisecond; gap < timeout {
		t.Errorf("the timeout attempt came %s after the wait began, want >= %s", gap, timeout)
	}
	for _, a := range atts {
		if a.Outcome != "ok" {
			t.Errorf("attempt %v, want ok", a)
		}
	}
}

// ---- step.Invoke ----------------------------------------------------------------------------

// invokedRun finds, through Durin alone, the run the parent's step.Invoke started: the
// inngest/function.invoked event whose data._inngest.correlation_id is "<parent run>.<hashed step
// id>", and that event's only run, once it has ended.
func (e *engine) invokedRun(t *testing.T, parentRunID string) (Event, Run) {
	t.Helper()
	correlation := parentRunID + "." + sha1hex(app.InvokeStepID)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var evs []Event
		if err := e.getData("/v1/events?name=inngest/function.invoked&limit=1000", &evs); err == nil {
			for _, ev := range evs {
				if inn, _ := ev.Data["_inngest"].(map[string]any); inn != nil && inn["correlation_id"] == correlation {
					runs := e.eventRuns(t, ev.InternalID)
					if len(runs) != 1 {
						t.Fatalf("/v1/events/%s/runs = %+v, want exactly the invoked run", ev.InternalID, runs)
					}
					return ev, e.waitRunByID(t, runs[0].RunID, 20*time.Second)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no inngest/function.invoked event with correlation_id %s within 15 s", correlation)
	return Event{}, Run{}
}

// checkInvokedEvent checks Durin's side of the invocation: the event carries the payload data,
// `_inngest.fn_id` and the correlation id, and started one run of the target function.
func checkInvokedEvent(t *testing.T, ev Event, child Run, parentRunID, target, key string, n int) {
	t.Helper()
	inn, _ := ev.Data["_inngest"].(map[string]any)
	if ev.Name != "inngest/function.invoked" || ev.Data["key"] != key || ev.Data["n"] != float64(n) ||
		inn["fn_id"] != app.AppID+"-"+target {
		t.Errorf("Durin's invoked event %+v, want the payload data {key, n} and _inngest.fn_id %s-%s", ev, app.AppID, target)
	}
	if child.FunctionID != app.AppID+"-"+target || child.EventID != ev.InternalID || child.RunID == parentRunID {
		t.Errorf("invoked run %+v, want a run of %s-%s started by event %s", child, app.AppID, target, ev.InternalID)
	}
}

// childBody returns what the invoked function's body recorded on its first pass (by run id:
// the key it records comes from the event data it received).
func (e *engine) childBody(t *testing.T, childRunID string) app.Record {
	t.Helper()
	for _, r := range e.app.Rec.ByRun(childRunID) {
		if r.Step == "body" {
			return r
		}
	}
	t.Fatalf("the app never ran the invoked function's body in run %s", childRunID)
	return app.Record{}
}

func recordsByRun(recs []app.Record, stepName string) []app.Record {
	var out []app.Record
	for _, r := range recs {
		if r.Step == stepName {
			out = append(out, r)
		}
	}
	return out
}

// checkInvokedBy checks what the invoked function received: the inngest/function.invoked event
// with the payload data and data._inngest.correlation_id "<parent run>.<hashed step id>".
func checkInvokedBy(t *testing.T, rec app.Record, parentRunID, key string) {
	t.Helper()
	correlation := parentRunID + "." + sha1hex(app.InvokeStepID)
	if rec.Key != key || rec.Info["event_name"] != "inngest/function.invoked" {
		t.Errorf("the invoked function saw key %q and event %v, want %s and inngest/function.invoked", rec.Key,
			rec.Info["event_name"], key)
	}
	if inn, _ := rec.Info["inngest"].(map[string]any); inn == nil || inn["correlation_id"] != correlation {
		t.Errorf("the invoked function saw data._inngest %v, want correlation_id %s", rec.Info["inngest"], correlation)
	}
}

// checkInvokeOp checks the InvokeFunction op inngestgo sent and returns it.
func (e *engine) checkInvokeOp(t *testing.T, parentRunID, target, key string, n int, timeout string) sdkOp {
	t.Helper()
	ops := e.sdkOps(parentRunID, "InvokeFunction")
	if len(ops) != 1 {
		t.Fatalf("the SDK reported %d InvokeFunction ops, want 1", len(ops))
	}
	op := ops[0]
	payload, _ := op.Opts["payload"].(map[string]any)
	data, _ := payload["data"].(map[string]any)
	if op.ID != sha1hex(app.InvokeStepID) || op.Name != app.InvokeStepID ||
		op.Opts["function_id"] != app.AppID+"-"+target || data["key"] != key || data["n"] != float64(n) {
		t.Errorf("InvokeFunction op %+v", op)
	}
	if got, has := op.Opts["timeout"]; (timeout == "" && has) || (timeout != "" && got != timeout) {
		t.Errorf("InvokeFunction opts.timeout %v (present %v), want %q", got, has, timeout)
	}
	return op
}

// The parent invokes invoke-child with {key, n: 21} and gets its result decoded into ChildResult.
func TestInvokeReturnsResult(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	start := e.send(t, app.InvokeParentEvent, map[string]any{"key": key, "target": app.InvokeChild, "n": 21})
	run := e.waitRun(t, start, "invoke-parent", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	e.checkInvokeOp(t, run.RunID, app.InvokeChild, key, 21, "")
	if c := records(e.app.Rec.For(key), "invoke-parent", "body:caught"); len(c) != 0 {
		t.Errorf("the parent caught %+v", c)
	}
	atts := e.attempts(t, run.RunID)
	for _, a := range atts {
		if a.Outcome != "ok" || kindOf(a) == "timeout" {
			t.Errorf("parent attempt %v, want ok and no timeout", a)
		}
	}
	if inv := stepAttempts(atts, app.InvokeStepID); len(inv) != 1 {
		t.Errorf("parent attempts of the invoke step %v, want one", inv)
	}

	ev, child := e.invokedRun(t, run.RunID)
	e.explain(t, child.RunID)
	wantStatus(t, child, "Completed")
	checkInvokedEvent(t, ev, child, run.RunID, app.InvokeChild, key, 21)
	rec := e.childBody(t, child.RunID)
	memo, ok := e.memoSent(run.RunID, sha1hex(app.InvokeStepID))
	if !ok || !strings.HasPrefix(string(memo), `{"data":`) {
		t.Errorf("the invoke's memo %s, want {\"data\": <the child's result>}", memo)
	}

	want := jsonString(map[string]any{"key": key, "doubled": 42}) // JSON of a decoded object: keys sorted
	if got := jsonString(decode(t, run.Output)["result"]); got != want {
		t.Errorf("parent output %s, want the child's result %s", run.Output, want)
	}
	res := records(e.app.Rec.For(key), "invoke-parent", "body:result")
	if len(res) != 1 || res[0].Info["result"] != (app.ChildResult{Key: key, Doubled: 42}) {
		t.Errorf("the parent's body saw %+v, want the child's result once", res)
	}
	if jsonString(decode(t, child.Output)) != want {
		t.Errorf("child output %s, want %s", child.Output, want)
	}
	if jsonString(decode(t, memo)) != `{"data":`+want+`}` {
		t.Errorf("the invoke's memo %s, want {\"data\": %s}", memo, want)
	}
	checkInvokedBy(t, rec, run.RunID, key)
	if rec.Info["n"] != 21 {
		t.Errorf("the child saw n=%v, want 21", rec.Info["n"])
	}
	if d := recordsByRun(e.app.Rec.ByRun(child.RunID), "double"); len(d) != 1 {
		t.Errorf("the child's step ran %d times, want once", len(d))
	}
}

// The invoked function fails (retries 0: one attempt): the parent's step.Invoke returns a
// NoRetryError carrying the child's error message, which the parent handles, then completes.
func TestInvokeChildFails(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	start := e.send(t, app.InvokeParentEvent, map[string]any{"key": key, "target": app.InvokeChildFails, "n": 1})
	run := e.waitRun(t, start, "invoke-parent", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	e.checkInvokeOp(t, run.RunID, app.InvokeChildFails, key, 1, "")
	caught := records(e.app.Rec.For(key), "invoke-parent", "body:caught")
	if len(caught) != 1 {
		t.Fatalf("the parent caught %d errors, want 1; all: %+v", len(caught), e.app.Rec.For(key))
	}
	msg, _ := caught[0].Info["message"].(string)
	if !strings.HasPrefix(msg, "child refused: ") || caught[0].Info["no_retry"] != true {
		t.Errorf("the parent caught %v, want NoRetryError(\"child refused: ...\")", caught[0].Info)
	}
	if out := decode(t, run.Output); out["caught"] != msg {
		t.Errorf("parent output %s, want caught %q", run.Output, msg)
	}
	// The parent's own attempts all succeed: the child's failure is the invoke step's result.
	for _, a := range e.attempts(t, run.RunID) {
		if a.Outcome != "ok" {
			t.Errorf("parent attempt %v, want ok", a)
		}
	}

	ev, child := e.invokedRun(t, run.RunID)
	e.explain(t, child.RunID)
	wantStatus(t, child, "Failed")
	checkInvokedEvent(t, ev, child, run.RunID, app.InvokeChildFails, key, 1)
	if n := len(e.attempts(t, child.RunID)); n != 1 {
		t.Errorf("the invoked function (retries 0) made %d attempts, want 1", n)
	}
	if n := len(recordsByRun(e.app.Rec.ByRun(child.RunID), "body")); n != 1 {
		t.Errorf("the invoked function's body ran %d times, want once", n)
	}
	if !strings.Contains(string(child.Output), msg) {
		t.Errorf("invoked run output %s, want its error %q", child.Output, msg)
	}
	memo, ok := e.memoSent(run.RunID, sha1hex(app.InvokeStepID))
	var m struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if !ok || json.Unmarshal(memo, &m) != nil || m.Error == nil || m.Error.Message != msg {
		t.Errorf("the invoke's memo %s, want {\"error\": {\"message\": %q}}", memo, msg)
	}
	rec := e.childBody(t, child.RunID)

	if wantMsg := "child refused: " + key; msg != wantMsg {
		t.Errorf("the parent caught %q, want %q", msg, wantMsg)
	}
	checkInvokedBy(t, rec, run.RunID, key)
}

// The parent invokes a slow function (it sleeps 3 s) with a 1 s timeout: step.Invoke returns the
// timeout error (a NoRetryError with the engine's message) after >= 1 s; the invoked run is not
// cancelled and completes later, which does not touch the parent again.
func TestInvokeTimeout(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	const timeout = time.Second
	start := e.send(t, app.InvokeParentEvent, map[string]any{"key": key, "target": app.InvokeChildSlow, "n": 1,
		"timeout_ms": timeout.Milliseconds()})
	run := e.waitRun(t, start, "invoke-parent", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	caught := records(e.app.Rec.For(key), "invoke-parent", "body:caught")
	if len(caught) != 1 {
		t.Fatalf("the parent caught %d errors, want 1; output %s; all: %+v", len(caught), run.Output, e.app.Rec.For(key))
	}
	msg, _ := caught[0].Info["message"].(string)
	if !strings.Contains(strings.ToLower(msg), "timed out waiting") || caught[0].Info["no_retry"] != true {
		t.Errorf("the parent caught %v, want the invoke timeout error (a NoRetryError)", caught[0].Info)
	}
	if msg != inngestInvokeTimeoutMessage {
		t.Logf("note: timeout message %q; Inngest's is %q (name InngestInvokeTimeoutError)", msg, inngestInvokeTimeoutMessage)
	}
	op := e.checkInvokeOp(t, run.RunID, app.InvokeChildSlow, key, 1, "1s")
	elapsed := time.Duration(caught[0].AtMs-op.AtMs) * time.Millisecond
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Errorf("step.Invoke returned %s after the op was reported, want >= %s (and not much more)", elapsed, timeout)
	}
	memo, ok := e.memoSent(run.RunID, sha1hex(app.InvokeStepID))
	var m struct {
		Error *struct {
			Name    string `json:"name"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if !ok || json.Unmarshal(memo, &m) != nil || m.Error == nil || m.Error.Name != "InngestInvokeTimeoutError" || m.Error.Message != msg {
		t.Errorf("the invoke's memo %s, want {\"error\": {\"name\": \"InngestInvokeTimeoutError\", \"message\": %q}}", memo, msg)
	}
	atts := e.attempts(t, run.RunID)
	inv := stepAttempts(atts, app.InvokeStepID)
	if len(inv) != 2 || kindOf(inv[1]) != "timeout" {
		t.Fatalf("parent attempts of the invoke step %v, want the invoke then its timeout", inv)
	}
	if gap := time.Duration(inv[1].StartedAtMs-inv[0].EndedAtMs) * time.Millisecond; gap < timeout {
		t.Errorf("the timeout attempt came %s after the invoke, want >= %s", gap, timeout)
	}
	for _, a := range atts {
		if a.Outcome != "ok" {
			t.Errorf("parent attempt %v, want ok", a)
		}
	}

	// The invoked run goes on (Inngest does not cancel it) and completes after the parent gave up.
	ev, child := e.invokedRun(t, run.RunID)
	e.explain(t, child.RunID)
	wantStatus(t, child, "Completed")
	checkInvokedEvent(t, ev, child, run.RunID, app.InvokeChildSlow, key, 1)
	fin := recordsByRun(e.app.Rec.ByRun(child.RunID), "finish")
	if len(fin) != 1 || fin[0].AtMs <= caught[0].AtMs {
		t.Errorf("the invoked function's last step %+v, want once, after the parent's timeout (%d)", fin, caught[0].AtMs)
	}
	// Its end resumes nothing: the parent is not called again and keeps its output.
	calls := len(e.app.Wire.ByRun(run.RunID))
	time.Sleep(300 * time.Millisecond)
	if n := len(e.app.Wire.ByRun(run.RunID)); n != calls {
		t.Errorf("the parent was called %d more times after the invoked run ended", n-calls)
	}
	if r := e.getRun(t, run.RunID); r.Status != "Completed" || string(r.Output) != string(run.Output) {
		t.Errorf("parent after the invoked run ended: %s %s, want unchanged %s", r.Status, r.Output, run.Output)
	}
	rec := e.childBody(t, child.RunID)
	checkInvokedBy(t, rec, run.RunID, key)
}

// Inngest's invoke timeout error (pkg/execution ResumeRequest.SetInvokeTimeoutError); inngestgo
// only reads its message.
const inngestInvokeTimeoutMessage = "Timed out waiting for invoked function to complete"
