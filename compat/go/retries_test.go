package compat

// The four functions of the retry documentation and the seven worked examples of retries.md.

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Worked example 1: click-recorder, default config, the body fails twice then succeeds.
func TestExample1ClickRecorder(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "app/button.clicked", map[string]any{"key": key, "button": "signup"})
	run := e.waitRun(t, eventID, "click-recorder", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	out := decode(t, run.Output)
	if out["recorded"] != key || out["attempt"] != float64(2) {
		t.Errorf("output %s, want recorded=%s attempt=2", run.Output, key)
	}

	got, at := appAttempts(e.app.Rec.For(key), "")
	wantInts(t, "app-observed attempts", got, []int{0, 1, 2})
	checkScaledGaps(t, "app-observed", at)

	atts := e.attempts(t, run.RunID)
	wantInts(t, "durin attempt numbers", attemptNumbers(atts), []int{0, 1, 2})
	if !eqStrings(outcomes(atts), []string{"error", "error", "ok"}) {
		t.Errorf("durin outcomes %v, want [error error ok]; %v", outcomes(atts), atts)
	}
	checkScaledGaps(t, "durin started_at", startTimes(atts))
	for i, a := range atts[:2] {
		if a.NextAttemptAtMs == nil {
			t.Errorf("attempt %d: next_attempt_at_ms missing", i)
		}
		if !strings.Contains(string(a.Error), "db insert failed") {
			t.Errorf("attempt %d error %s does not carry the app's message", i, a.Error)
		}
	}
}

// Worked example 2: sync-systems, get-data fails once, save-data fails four times then succeeds.
func TestExample2SyncSystemsIndependentCounters(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "auto/sync.request", map[string]any{"key": key, "get_fails": 1, "save_fails": 4})
	run := e.waitRun(t, eventID, "sync-systems", 30*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	if out := decode(t, run.Output); out["saved"] != float64(3) {
		t.Errorf("output %s, want saved=3", run.Output)
	}

	recs := e.app.Rec.For(key)
	get, _ := appAttempts(recs, "get-data")
	save, saveAt := appAttempts(recs, "save-data")
	wantInts(t, "get-data attempts seen by the app", get, []int{0, 1})
	wantInts(t, "save-data attempts seen by the app", save, []int{0, 1, 2, 3, 4})
	checkScaledGaps(t, "save-data (app)", saveAt)

	atts := e.attempts(t, run.RunID)
	g := stepAttempts(atts, "get-data")
	s := stepAttempts(atts, "save-data")
	wantInts(t, "durin get-data attempts", attemptNumbers(g), []int{0, 1})
	wantInts(t, "durin save-data attempts", attemptNumbers(s), []int{0, 1, 2, 3, 4})
	if !eqStrings(outcomes(s), []string{"error", "error", "error", "error", "ok"}) {
		t.Errorf("save-data outcomes %v", outcomes(s))
	}
	checkScaledGaps(t, "save-data (durin)", startTimes(s))
}

// Worked example 3: save-data fails five times: it fails for good; get-data is not run again.
func TestExample3SaveDataExhausted(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "auto/sync.request", map[string]any{"key": key, "get_fails": 0, "save_fails": 5})
	run := e.waitRun(t, eventID, "sync-systems", 30*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Failed")

	recs := e.app.Rec.For(key)
	get, _ := appAttempts(recs, "get-data")
	save, _ := appAttempts(recs, "save-data")
	wantInts(t, "get-data attempts seen by the app (never re-run)", get, []int{0})
	wantInts(t, "save-data attempts seen by the app", save, []int{0, 1, 2, 3, 4})
	// The body then sees save-data's final error as a step error.
	caught := 0
	for _, r := range recs {
		if r.Step == "body:save-data-error" && r.Info["is_step_error"] == true {
			caught++
		}
	}
	if caught == 0 {
		t.Errorf("the function body never received save-data's final error as a StepError; records %+v", recs)
	}

	atts := e.attempts(t, run.RunID)
	wantInts(t, "durin get-data attempts", attemptNumbers(stepAttempts(atts, "get-data")), []int{0})
	s := stepAttempts(atts, "save-data")
	wantInts(t, "durin save-data attempts", attemptNumbers(s), []int{0, 1, 2, 3, 4})
	if len(s) == 5 && s[4].Outcome == "ok" {
		t.Errorf("save-data's last attempt is ok: %v", s)
	}
	// The body returned the step error unhandled: inngestgo answers 500 + X-Inngest-No-Retry: true.
	if last := atts[len(atts)-1]; last.Step() != "" || last.Outcome != "non_retriable" {
		t.Errorf("last attempt %v, want the body's non_retriable answer", last)
	}
	if !strings.Contains(string(run.Output), "db write failed") {
		t.Errorf("failed run output %s does not carry the step's error", run.Output)
	}
}

// Worked example 4: get-user-email fails with UserNotFoundError on every attempt; after its budget
// the function catches the step error and returns NoRetryError: Failed, send-digest never runs.
func TestExample4UserWeeklyDigest(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "user/weekly.digest.requested", map[string]any{"key": key, "userId": "u-404"})
	run := e.waitRun(t, eventID, "user-weekly-digest", 30*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Failed")

	recs := e.app.Rec.For(key)
	got, at := appAttempts(recs, "get-user-email")
	wantInts(t, "get-user-email attempts seen by the app", got, []int{0, 1, 2, 3, 4})
	checkScaledGaps(t, "get-user-email (app)", at)
	if sent, _ := appAttempts(recs, "send-digest"); len(sent) != 0 {
		t.Errorf("send-digest ran %d times, want never", len(sent))
	}
	var caught []map[string]any
	for _, r := range recs {
		if r.Step == "body:caught" {
			caught = append(caught, r.Info)
		}
	}
	if len(caught) != 1 {
		t.Fatalf("the body caught the step error %d times, want once: %+v", len(caught), caught)
	}
	if msg, _ := caught[0]["message"].(string); !strings.HasPrefix(msg, "UserNotFoundError") {
		t.Errorf("caught step error message %q, want the UserNotFoundError message", msg)
	}

	// The memo Durin hands back keeps the SDK's error object whole, `data` included: inngestgo
	// unmarshals error.data into the step's result type and cannot raise the StepError without it.
	memoOK := false
	for _, ex := range e.app.Wire.ByRun(run.RunID) {
		var req struct {
			Steps map[string]struct {
				Error map[string]json.RawMessage `json:"error"`
			} `json:"steps"`
		}
		if json.Unmarshal([]byte(ex.RequestBody), &req) == nil {
			for _, m := range req.Steps {
				if m.Error != nil {
					_, hasData := m.Error["data"]
					memoOK = hasData && string(m.Error["name"]) == `"Step failed"`
				}
			}
		}
	}
	if !memoOK {
		t.Errorf("no call carried get-user-email's memoized error with its name and data fields")
	}

	atts := e.attempts(t, run.RunID)
	g := stepAttempts(atts, "get-user-email")
	wantInts(t, "durin get-user-email attempts", attemptNumbers(g), []int{0, 1, 2, 3, 4})
	if len(stepAttempts(atts, "send-digest")) != 0 {
		t.Errorf("durin recorded send-digest attempts: %v", atts)
	}
	last := atts[len(atts)-1]
	if last.Outcome != "non_retriable" {
		t.Errorf("last attempt %v, want the body's non_retriable failure", last)
	}
	if !strings.Contains(string(run.Output), "User no longer exists") {
		t.Errorf("run output %s, want the NonRetriable error message", run.Output)
	}
}

// Worked example 4, variant: NoRetryError raised inside the step: exactly one attempt of that step.
func TestExample4VariantNoRetryInsideStep(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "user/weekly.digest.requested", map[string]any{"key": key, "userId": "u-405", "mode": "inside"})
	run := e.waitRun(t, eventID, "user-weekly-digest", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Failed")

	recs := e.app.Rec.For(key)
	got, _ := appAttempts(recs, "get-user-email")
	wantInts(t, "get-user-email attempts seen by the app", got, []int{0})
	if sent, _ := appAttempts(recs, "send-digest"); len(sent) != 0 {
		t.Errorf("send-digest ran %d times, want never", len(sent))
	}

	atts := e.attempts(t, run.RunID)
	g := stepAttempts(atts, "get-user-email")
	if len(g) != 1 || g[0].Outcome != "non_retriable" {
		t.Errorf("durin get-user-email attempts %v, want exactly one non_retriable", g)
	}
	// What the SDK put on the wire for that attempt: 206 StepFailed + X-Inngest-No-Retry: true.
	for _, ex := range e.app.Wire.ByRun(run.RunID) {
		if strings.Contains(ex.Body, `"StepFailed"`) {
			if ex.Status != 206 || ex.Header.Get("X-Inngest-No-Retry") != "true" {
				t.Errorf("StepFailed answer: status %d no-retry %q", ex.Status, ex.Header.Get("X-Inngest-No-Retry"))
			}
		}
	}
}

// Worked example 5: send-welcome-notification, the step returns RetryAtError 3 s ahead: the next
// attempt starts at least 3 s later (not 15-45 s), and --backoff-scale does not shorten it.
func TestExample5RetryAfterInStep(t *testing.T) {
	t.Parallel()
	e := scaled
	key := uniqueKey(t)
	eventID := e.send(t, "app/user.created", map[string]any{"key": key, "rate_limited_times": 1, "retry_after_secs": 3})
	run := e.waitRun(t, eventID, "send-welcome-notification", 20*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	if out := decode(t, run.Output); out["message"] != "Welcome to our service!" {
		t.Errorf("output %s", run.Output)
	}

	got, at := appAttempts(e.app.Rec.For(key), "send-notification")
	wantInts(t, "send-notification attempts seen by the app", got, []int{0, 1})
	if len(at) == 2 {
		gap := time.Duration(at[1]-at[0]) * time.Millisecond
		if gap < 3*time.Second || gap > 6*time.Second {
			t.Errorf("gap between attempts %s, want >= 3s and well below 15s", gap)
		}
	}

	atts := stepAttempts(e.attempts(t, run.RunID), "send-notification")
	if !eqStrings(outcomes(atts), []string{"retry_after", "ok"}) {
		t.Errorf("durin outcomes %v, want [retry_after ok]: %v", outcomes(atts), atts)
	}
	if len(atts) == 2 {
		if atts[0].NextAttemptAtMs == nil || *atts[0].NextAttemptAtMs-atts[0].EndedAtMs < 2000 {
			t.Errorf("next_attempt_at_ms %v not >= 2 s after the failed attempt ended (%d)", atts[0].NextAttemptAtMs, atts[0].EndedAtMs)
		}
		if gap := atts[1].StartedAtMs - atts[0].StartedAtMs; gap < 3000 {
			t.Errorf("durin started the retry %d ms after the first attempt, want >= 3000", gap)
		}
	}
	// On the wire: 206 StepError with a Retry-After header in RFC 3339, whole seconds (inngestgo's format).
	found := false
	for _, ex := range e.app.Wire.ByRun(run.RunID) {
		if ra := ex.Header.Get("Retry-After"); ra != "" {
			found = true
			if _, err := time.Parse(time.RFC3339, ra); err != nil || strings.Contains(ra, ".") {
				t.Errorf("Retry-After %q is not whole-second RFC 3339", ra)
			}
			if ex.Status != 206 || !strings.Contains(ex.Body, `"StepError"`) {
				t.Errorf("RetryAtError answer: status %d body %s", ex.Status, ex.Body)
			}
		}
	}
	if !found {
		t.Errorf("the SDK never answered with Retry-After")
	}
}

// Worked example 6: retries 0: a failing step is tried once; the run fails, or goes on if the code
// catches the error.
func TestExample6RetriesZero(t *testing.T) {
	t.Parallel()
	e := scaled
	for _, mode := range []string{"raise", "catch"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			key := uniqueKey(t)
			eventID := e.send(t, "compat/retries.zero", map[string]any{"key": key, "mode": mode})
			run := e.waitRun(t, eventID, "retries-zero", 20*time.Second)
			e.explain(t, run.RunID)
			recs := e.app.Rec.For(key)
			got, _ := appAttempts(recs, "flaky")
			wantInts(t, "flaky attempts seen by the app", got, []int{0})
			atts := e.attempts(t, run.RunID)
			f := stepAttempts(atts, "flaky")
			if len(f) != 1 || f[0].Outcome == "ok" {
				t.Errorf("durin flaky attempts %v, want exactly one failed attempt", f)
			}
			if mode == "raise" {
				wantStatus(t, run, "Failed")
				if after, _ := appAttempts(recs, "after"); len(after) != 0 {
					t.Errorf("step after ran")
				}
				return
			}
			wantStatus(t, run, "Completed")
			if out := decode(t, run.Output); out["after"] != "went on" {
				t.Errorf("output %s, want after=went on", run.Output)
			}
			after, _ := appAttempts(recs, "after")
			wantInts(t, "after attempts", after, []int{0})
		})
	}
}

// Worked example 7: under the real default table a step failing twice is retried 15-45 s and then
// 30-60 s after each failure. Runs on its own engine (no --backoff-scale), concurrently with the rest.
func TestExample7DefaultSchedule(t *testing.T) {
	if realEng == nil {
		t.Skip("COMPAT_SKIP_DEFAULT_BACKOFF set: the second engine with the real backoff table was not started")
	}
	t.Parallel()
	e := realEng
	key := uniqueKey(t)
	eventID := e.send(t, "compat/default.schedule", map[string]any{"key": key})
	run := e.waitRun(t, eventID, "default-schedule", 120*time.Second)
	e.explain(t, run.RunID)
	wantStatus(t, run, "Completed")
	got, at := appAttempts(e.app.Rec.For(key), "flaky")
	wantInts(t, "flaky attempts seen by the app", got, []int{0, 1, 2})
	check := func(what string, times []int64) {
		if len(times) != 3 {
			return
		}
		g1 := time.Duration(times[1]-times[0]) * time.Millisecond
		g2 := time.Duration(times[2]-times[1]) * time.Millisecond
		if g1 < 15*time.Second || g1 > 45*time.Second+tolerance {
			t.Errorf("%s: first gap %s, want 15-45 s", what, g1)
		}
		if g2 < 30*time.Second || g2 > 60*time.Second+tolerance {
			t.Errorf("%s: second gap %s, want 30-60 s", what, g2)
		}
	}
	check("app", at)
	atts := stepAttempts(e.attempts(t, run.RunID), "flaky")
	if !eqStrings(outcomes(atts), []string{"error", "error", "ok"}) {
		t.Errorf("durin outcomes %v", outcomes(atts))
	}
	check("durin", startTimes(atts))
}
