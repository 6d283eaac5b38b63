package compat

// Protocol coverage beyond the worked examples: registration, errors raised by the function body,
// parallel steps (group.Parallel), step.Sleep / step.SleepUntil, step.Send, a failure handler on
// inngest/function.failed, step ids repeated in a loop, Retry-After on the last attempt, and the
// SDK's own client.Send with an event id.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inngest/inngestgo"

	"durin.dev/compat/go/app"
)

// Registration: the sync PUT made the SDK POST /fn/register; Durin lists the app and every
// function with its retry policy (inngestgo sends `retries` at the function's top level and in
// steps.step.retries.attempts, and `"retries": null` when the function sets none).
func TestRegistration(t *testing.T) {
	t.Parallel()
	e := scaled
	var apps []map[string]any
	if err := e.getData("/v1/apps", &apps); err != nil {
		t.Fatal(err)
	}
	var found map[string]any
	for _, a := range apps {
		if a["name"] == app.AppID {
			found = a
		}
	}
	if found == nil {
		t.Fatalf("app %s not listed: %v", app.AppID, apps)
	}
	if found["url"] != e.appURL {
		t.Errorf("app url %v, want %s", found["url"], e.appURL)
	}
	if sdk, _ := found["sdk"].(string); !strings.Contains(sdk, "go") {
		t.Errorf("app sdk %q, want the Go SDK's identifier", sdk)
	}
	if found["error"] != nil {
		t.Errorf("app error %v", found["error"])
	}

	var fns []struct {
		ID          string            `json:"id"`
		App         string            `json:"app"`
		URL         string            `json:"url"`
		Triggers    []json.RawMessage `json:"triggers"`
		Retries     int               `json:"retries"`
		MaxAttempts int               `json:"max_attempts"`
	}
	if err := e.getData("/v1/functions", &fns); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{ // function -> retries
		"click-recorder": 4, "sync-systems": 4, "user-weekly-digest": 4, "send-welcome-notification": 4,
		"body-errors": 2, "retries-zero": 0, "parallel-steps": 4, "sleeper": 4, "sender": 4,
		"followup-receiver": 4, "always-fails": 0, "always-fails-failure": 4, "loop-steps": 4,
		"wait-for-approval": 4, "invoke-parent": 4, "invoke-child": 4,
		"invoke-child-fails": 0, "invoke-child-slow": 4,
		"clamped-retries": 20, // the SDK sends 25
	}
	seen := map[string]bool{}
	for _, f := range fns {
		short, ok := strings.CutPrefix(f.ID, app.AppID+"-")
		if !ok || f.App != app.AppID {
			continue
		}
		r, ok := want[short]
		if !ok {
			t.Errorf("unexpected function %s", f.ID)
			continue
		}
		seen[short] = true
		if f.Retries != r || f.MaxAttempts != r+1 {
			t.Errorf("%s: retries %d max_attempts %d, want %d/%d", f.ID, f.Retries, f.MaxAttempts, r, r+1)
		}
		if !strings.HasPrefix(f.URL, e.appURL) || !strings.Contains(f.URL, "fnId="+f.ID) {
			t.Errorf("%s: url %s", f.ID, f.URL)
		}
		if short == "always-fails-failure" {
			tr := string(f.Triggers[0])
			if !strings.Contains(tr, "inngest/function.failed") || !strings.Contains(tr, "compat-go-always-fails") {
				t.Errorf("failure handler trigger %s", tr)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("function %s not registered", name)
		}
	}
}

// NoRetryError returned by the function body (after a completed step): one attempt, run Failed;
// the SDK answers 500 with X-Inngest-No-Retry: true and body {"message": ...}.
func TestBodyNoRetryError(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/body.errors", map[string]any{"key": key, "mode": "non_retriable"})
	run := e.waitRun(t, eventID, "body-errors", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Failed")
	recs := e.app.Rec.For(key)
	prep, _ := appAttempts(recs, "prep")
	body, _ := appAttempts(recs, "body")
	wantInts(t, "prep attempts", prep, []int{0})
	wantInts(t, "body attempts", body, []int{0})
	atts := e.attempts(t, run.RunID)
	last := atts[len(atts)-1]
	if last.Outcome != "non_retriable" || len(atts) != 2 {
		t.Errorf("attempts %v, want [prep ok, body non_retriable]", atts)
	}
	if !strings.Contains(string(run.Output), "body gave up") {
		t.Errorf("output %s, want the body's error message", run.Output)
	}
	ex := e.app.Wire.ByRun(run.RunID)
	if l := ex[len(ex)-1]; l.Status != 500 || l.Header.Get("X-Inngest-No-Retry") != "true" {
		t.Errorf("SDK's last answer: %d no-retry=%q body %s", l.Status, l.Header.Get("X-Inngest-No-Retry"), l.Body)
	}
}

// RetryAtError returned by the function body: the body is retried no earlier than the given time.
func TestBodyRetryAtError(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/body.errors", map[string]any{"key": key, "mode": "retry_after"})
	run := e.waitRun(t, eventID, "body-errors", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	recs := e.app.Rec.For(key)
	prep, _ := appAttempts(recs, "prep")
	body, at := appAttempts(recs, "body")
	wantInts(t, "prep attempts (memoized, not re-run)", prep, []int{0})
	wantInts(t, "body attempts", body, []int{0, 1})
	if len(at) == 2 {
		if gap := time.Duration(at[1]-at[0]) * time.Millisecond; gap < 3*time.Second || gap > 6*time.Second {
			t.Errorf("body retry gap %s, want >= 3 s and well below 15 s", gap)
		}
	}
	atts := e.attempts(t, run.RunID)
	var outs []string
	for _, a := range atts[1:] {
		outs = append(outs, a.Outcome)
	}
	if !eqStrings(outs, []string{"retry_after", "ok"}) {
		t.Errorf("attempts after prep: %v", atts)
	}
	ex := e.app.Wire.ByRun(run.RunID)
	for _, x := range ex {
		if x.Header.Get("Retry-After") != "" && x.Status != 500 {
			t.Errorf("body RetryAtError answered %d, want 500", x.Status)
		}
	}
}

// A body error on every attempt (retries 2): three attempts of the discovery job that follows the
// completed step (which is not re-run), then Failed with the error as output (R8).
func TestBodyErrorExhaustsBudget(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/body.errors", map[string]any{"key": key, "mode": "exhaust"})
	run := e.waitRun(t, eventID, "body-errors", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Failed")
	recs := e.app.Rec.For(key)
	prep, _ := appAttempts(recs, "prep")
	body, at := appAttempts(recs, "body")
	wantInts(t, "prep attempts", prep, []int{0})
	wantInts(t, "body attempts", body, []int{0, 1, 2})
	checkScaledGaps(t, "body (app)", at)
	atts := e.attempts(t, run.RunID)
	if len(atts) != 4 {
		t.Fatalf("attempts %v, want prep + 3 body attempts", atts)
	}
	wantInts(t, "durin body attempt numbers", attemptNumbers(atts[1:]), []int{0, 1, 2})
	if !strings.Contains(string(run.Output), "body failure 2") {
		t.Errorf("output %s, want the last body error", run.Output)
	}
	// inngestgo does not look at max_attempts for body errors: even the last answer is a plain 500
	// without X-Inngest-No-Retry, so only Durin's own count ends the run.
	ex := e.app.Wire.ByRun(run.RunID)
	if l := ex[len(ex)-1]; l.Status != 500 || l.Header.Get("X-Inngest-No-Retry") != "" || !strings.Contains(l.Body, `"message"`) {
		t.Errorf("SDK's last answer: %d no-retry=%q body %s", l.Status, l.Header.Get("X-Inngest-No-Retry"), l.Body)
	}
}

// A panic in the function body: inngestgo recovers it and answers a retriable 500; the retry succeeds.
func TestBodyPanicIsRetried(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/body.errors", map[string]any{"key": key, "mode": "panic"})
	run := e.waitRun(t, eventID, "body-errors", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	body, at := appAttempts(e.app.Rec.For(key), "body")
	wantInts(t, "body attempts", body, []int{0, 1})
	checkScaledGaps(t, "body (app)", at)
	atts := e.attempts(t, run.RunID)
	if got := outcomes(atts); !eqStrings(got, []string{"ok", "error", "ok"}) {
		t.Errorf("outcomes %v, want [ok error ok] (prep, panic, retry)", got)
	}
	if len(atts) == 3 && !strings.Contains(string(atts[1].Error), "body panicked") {
		t.Errorf("panic attempt error %s", atts[1].Error)
	}
}

// RetryAtError on the only attempt (retries 0) does not grant an extra attempt (R5).
func TestRetryAfterOnLastAttemptGrantsNoExtra(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/retries.zero", map[string]any{"key": key, "mode": "retry_after"})
	run := e.waitRun(t, eventID, "retries-zero", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Failed")
	got, _ := appAttempts(e.app.Rec.For(key), "flaky")
	wantInts(t, "flaky attempts", got, []int{0})
	f := stepAttempts(e.attempts(t, run.RunID), "flaky")
	if len(f) != 1 {
		t.Errorf("flaky attempts %v, want exactly one", f)
	}
}

// group.Parallel: three branches planned together (StepPlanned), each run as its own job; branch
// par-b fails once and is retried on its own counter; then a sequential step.
func TestParallelSteps(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/parallel", map[string]any{"key": key})
	run := e.waitRun(t, eventID, "parallel-steps", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	out := decode(t, run.Output)
	if jsonString(out["values"]) != "[1,2,3]" || out["total"] != float64(6) {
		t.Errorf("output %s, want values [1,2,3] total 6", run.Output)
	}
	recs := e.app.Rec.For(key)
	for name, want := range map[string][]int{"par-a": {0}, "par-b": {0, 1}, "par-c": {0}, "combine": {0}} {
		got, _ := appAttempts(recs, name)
		wantInts(t, name+" attempts seen by the app", got, want)
	}
	atts := e.attempts(t, run.RunID)
	for name, want := range map[string][]string{"par-a": {"ok"}, "par-b": {"error", "ok"}, "par-c": {"ok"}, "combine": {"ok"}} {
		if got := outcomes(stepAttempts(atts, name)); !eqStrings(got, want) {
			t.Errorf("durin %s outcomes %v, want %v", name, got, want)
		}
	}
	// The first answer planned all three branches at once.
	ex := e.app.Wire.ByRun(run.RunID)
	if len(ex) == 0 || ex[0].Status != 206 || strings.Count(ex[0].Body, `"StepPlanned"`) != 3 {
		t.Errorf("first answer %+v, want 206 with three StepPlanned ops", ex[0])
	}
}

// step.Sleep (1 s) and step.SleepUntil. inngestgo sends the Sleep op with the step id in `name`
// and the duration in opts.duration (SleepUntil too: it converts the time into a duration).
func TestSleepAndSleepUntil(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	until := time.Now().Add(3 * time.Second).UnixMilli()
	eventID := e.send(t, "compat/sleep", map[string]any{"key": key, "until_ms": until})
	run := e.waitRun(t, eventID, "sleeper", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	recs := e.app.Rec.For(key)
	_, before := appAttempts(recs, "before")
	_, between := appAttempts(recs, "between")
	_, after := appAttempts(recs, "after")
	if len(before) != 1 || len(between) != 1 || len(after) != 1 {
		t.Fatalf("each step should run once: %+v", recs)
	}
	if gap := between[0] - before[0]; gap < 1000 || gap > 2500 {
		t.Errorf("step.Sleep 1s: %d ms between the steps around it", gap)
	}
	if after[0] < until {
		t.Errorf("step after SleepUntil ran at %d, before the target %d", after[0], until)
	}
	if after[0]-until > 1500 {
		t.Errorf("step after SleepUntil ran %d ms late", after[0]-until)
	}
	for _, x := range e.app.Wire.ByRun(run.RunID) {
		if strings.Contains(x.Body, `"Sleep"`) && !strings.Contains(x.Body, `"duration"`) {
			t.Errorf("Sleep op without opts.duration: %s", x.Body)
		}
	}
	var sleeps int
	for _, a := range e.attempts(t, run.RunID) {
		if a.Step() == "nap" || a.Step() == "until" {
			sleeps++
		}
	}
	if sleeps == 0 {
		t.Logf("note: durin's attempts name no sleep step: %v", e.attempts(t, run.RunID))
	}
}

// SleepUntil with a time already past: inngestgo turns it into a negative duration
// (opts.duration "-1s639ms..."); the run should go on at once, as Inngest does for a past time.
func TestSleepUntilInThePast(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	until := time.Now().Add(-2 * time.Second).UnixMilli()
	eventID := e.send(t, "compat/sleep", map[string]any{"key": key, "until_ms": until})
	run := e.waitRun(t, eventID, "sleeper", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	_, after := appAttempts(e.app.Rec.For(key), "after")
	if len(after) != 1 {
		t.Fatalf("step after ran %d times", len(after))
	}
	var negative string
	for _, x := range e.app.Wire.ByRun(run.RunID) {
		if strings.Contains(x.Body, `"name":"until"`) && strings.Contains(x.Body, `"duration":"-`) {
			negative = x.Body
		}
	}
	// The attempt that reported the sleep, then the engine's wake-up (a timeout job), both ok.
	sleepAtts := stepAttempts(e.attempts(t, run.RunID), "until")
	if len(sleepAtts) != 2 {
		t.Fatalf("durin attempts for the sleep: %v", sleepAtts)
	}
	for _, a := range sleepAtts {
		if a.Outcome != "ok" {
			t.Errorf("sleep attempt %v, want ok: a negative duration (%s) resumes at once", a, negative)
		}
	}
}

// step.Send: the SDK posts the event itself (inside a step.Run); it triggers followup-receiver.
func TestStepSend(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/send", map[string]any{"key": key})
	run := e.waitRun(t, eventID, "sender", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	sentID, _ := decode(t, run.Output)["sent_id"].(string)
	if sentID == "" {
		t.Fatalf("output %s has no sent_id", run.Output)
	}
	follow := e.waitRun(t, sentID, "followup-receiver", 20*time.Second)
	wantStatus(t, follow, "Completed")
	var got []app.Record
	for _, r := range e.app.Rec.For(key) {
		if r.Fn == "followup-receiver" {
			got = append(got, r)
		}
	}
	if len(got) != 1 || got[0].Info["from_run"] != run.RunID {
		t.Errorf("followup-receiver records %+v, want one from run %s", got, run.RunID)
	}
	// step.Send is a step.Run: one sent event even though the body ran twice.
	if n := len(stepAttempts(e.attempts(t, run.RunID), "send-followup")); n != 1 {
		t.Errorf("send-followup attempts: %d", n)
	}
}

// A failing function's failure handler (inngest/function.failed filtered by function_id) runs once
// and receives the failed run's id and error.
func TestFailureHandler(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/always.fails", map[string]any{"key": key})
	run := e.waitRun(t, eventID, "always-fails", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Failed")
	if n := len(e.attempts(t, run.RunID)); n != 1 {
		t.Errorf("always-fails (retries 0) made %d attempts, want 1", n)
	}

	var handled []app.Record
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		handled = nil
		for _, r := range e.app.Rec.For(key) {
			if r.Fn == "always-fails-failure" {
				handled = append(handled, r)
			}
		}
		if len(handled) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(handled) != 1 {
		t.Fatalf("failure handler ran %d times, want once", len(handled))
	}
	h := handled[0]
	if h.Info["run_id"] != run.RunID {
		t.Errorf("handler saw run_id %v, want %s", h.Info["run_id"], run.RunID)
	}
	if h.Info["function_id"] != app.AppID+"-always-fails" {
		t.Errorf("handler saw function_id %v", h.Info["function_id"])
	}
	if h.Info["event_name"] != "compat/always.fails" {
		t.Errorf("handler saw event %v", h.Info["event_name"])
	}
	if !strings.Contains(jsonString(h.Info["error"]), "always-fails boom: "+key) {
		t.Errorf("handler saw error %s, want the failed run's error", jsonString(h.Info["error"]))
	}
	hr := e.waitRunByID(t, h.RunID, 15*time.Second)
	wantStatus(t, hr, "Completed")
	if out := decode(t, hr.Output); out["handled"] != run.RunID {
		t.Errorf("handler output %s", hr.Output)
	}
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, r := range e.app.Rec.For(key) {
		if r.Fn == "always-fails-failure" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("failure handler ran %d times in the end, want once", n)
	}
}

// The same step id in a loop: the SDK hashes "item", "item:1", "item:2"; each is its own step with
// its own counter (iteration 1 fails once), and memoized iterations are never re-run.
func TestLoopRepeatedStepIDs(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "compat/loop", map[string]any{"key": key, "n": 3})
	run := e.waitRun(t, eventID, "loop-steps", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	if got := jsonString(decode(t, run.Output)["items"]); got != "[0,10,20]" {
		t.Errorf("items %s, want [0,10,20]", got)
	}
	recs := e.app.Rec.For(key)
	for name, want := range map[string][]int{"item#0": {0}, "item#1": {0, 1}, "item#2": {0}} {
		got, _ := appAttempts(recs, name)
		wantInts(t, name+" attempts", got, want)
	}
	var stepIDs = map[string][]string{}
	for _, a := range e.attempts(t, run.RunID) {
		if a.StepID != nil {
			stepIDs[*a.StepID] = append(stepIDs[*a.StepID], a.Outcome)
		}
	}
	wantIDs := map[string][]string{
		sha1hex("item"):   {"ok"},
		sha1hex("item:1"): {"error", "ok"},
		sha1hex("item:2"): {"ok"},
	}
	for id, want := range wantIDs {
		if got := stepIDs[id]; !eqStrings(got, want) {
			t.Errorf("step %s outcomes %v, want %v (all: %v)", id, got, want, stepIDs)
		}
	}
}

// The SDK's own client.Send with an event id: a second event with the same id starts no second run.
func TestClientSendEventIDIdempotency(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	id := "idem-" + key
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evt := inngestgo.Event{ID: &id, Name: "app/button.clicked", Data: map[string]any{"key": key, "fails": 0}}
	first, err := e.app.Client.Send(ctx, evt)
	if err != nil {
		t.Fatal(err)
	}
	run := e.waitRun(t, first, "click-recorder", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	second, err := e.app.Client.Send(ctx, evt)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	var runs []Run
	if err := e.getData("/v1/events/"+second+"/runs", &runs); err != nil {
		t.Fatal(err)
	}
	if second != first && len(runs) != 0 {
		t.Errorf("the second event with id %s started runs %+v", id, runs)
	}
	if got, _ := appAttempts(e.app.Rec.For(key), ""); len(got) != 1 {
		t.Errorf("click-recorder ran %d times for the same event id, want 1", len(got))
	}
}

// What inngestgo itself sends to /fn/register (captured by a stand-in register URL on loopback, not
// by Durin): the Go-specific spellings that Durin's register endpoint must accept. Durin accepting
// them is what TestRegistration shows.
func TestRegisterPayloadShape(t *testing.T) {
	t.Parallel()
	type captured struct {
		header http.Header
		body   []byte
	}
	got := make(chan captured, 1)
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case got <- captured{r.Header.Clone(), b}:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"modified":true}`))
	}))
	defer stub.Close()
	registerURL := stub.URL + "/fn/register"
	a := app.New(inngestgo.ClientOpts{AppID: "compat-go-capture", RegisterURL: &registerURL,
		Dev: inngestgo.BoolPtr(true), Logger: fileLogger("app-capture.log")})
	appSrv := httptest.NewServer(a.Handler())
	defer appSrv.Close()

	req, _ := http.NewRequest(http.MethodPut, appSrv.URL+app.ServePath, strings.NewReader(`{"url":"`+appSrv.URL+app.ServePath+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Inngest-Server-Kind", "dev")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	putBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT answered %d %s", resp.StatusCode, putBody)
	}
	var c captured
	select {
	case c = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the SDK never posted /fn/register")
	}
	t.Logf("PUT answer: 200 %q, x-inngest-sync-kind=%q", putBody, resp.Header.Get("X-Inngest-Sync-Kind"))
	if os.Getenv("COMPAT_DUMP") != "" {
		t.Logf("register headers %v\nbody %s", c.header, c.body)
	}
	if h := c.header.Get("X-Inngest-Expected-Server-Kind"); h != "dev" {
		t.Errorf("X-Inngest-Expected-Server-Kind %q, want dev (copied from the PUT)", h)
	}
	if h := c.header.Get("X-Inngest-SDK"); h != "go:v0.16.0" {
		t.Errorf("X-Inngest-SDK %q", h)
	}
	var body map[string]any
	if err := json.Unmarshal(c.body, &body); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"appName": "compat-go-capture", "deployType": "ping", "v": "1", "sdk": "go:v0.16.0", "framework": ""} {
		if body[k] != want {
			t.Errorf("register body %s = %v, want %v", k, body[k], want)
		}
	}
	fns, _ := body["functions"].([]any)
	byID := map[string]map[string]any{}
	for _, f := range fns {
		m := f.(map[string]any)
		byID[m["id"].(string)] = m
	}
	click := byID["compat-go-capture-click-recorder"]
	zero := byID["compat-go-capture-retries-zero"]
	if click == nil || zero == nil {
		t.Fatalf("functions %v", byID)
	}
	stepOf := func(f map[string]any) map[string]any {
		return f["steps"].(map[string]any)["step"].(map[string]any)
	}
	// No retries configured: `"retries": null` inside steps.step, nothing at the top level.
	if r, ok := stepOf(click)["retries"]; !ok || r != nil {
		t.Errorf("click-recorder steps.step.retries = %v (present %v), want null", r, ok)
	}
	if _, ok := click["retries"]; ok {
		t.Errorf("click-recorder has a top-level retries")
	}
	// retries 0: both spellings.
	if zero["retries"] != float64(0) || jsonString(stepOf(zero)["retries"]) != `{"attempts":0}` {
		t.Errorf("retries-zero: top-level %v, steps.step.retries %v", zero["retries"], stepOf(zero)["retries"])
	}
	rt := stepOf(click)["runtime"].(map[string]any)
	if _, hasType := rt["type"]; hasType || !strings.Contains(rt["url"].(string), "step=step") {
		t.Errorf("runtime %v, want {url: ...?fnId=..&step=step} without a type", rt)
	}
	if _, ok := click["Singleton"]; !ok {
		t.Logf("note: no \"Singleton\" key (expected a capitalized null key from inngestgo v0.16.0)")
	}
}
