// Package app is the compatibility suite's Inngest app, written with the official Go SDK
// (github.com/inngest/inngestgo) exactly as its documentation shows, served with net/http.
//
// Every function takes a "key" from its event data and records what it observes (attempt numbers,
// timestamps, errors it caught) under that key, so concurrent tests never mix their observations.
// Failure counts also come from event data, so one function serves several worked examples.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/inngest/inngestgo"
	"github.com/inngest/inngestgo/group"
	"github.com/inngest/inngestgo/step"
)

// AppID is the app's id; function ids on the wire are "<AppID>-<fn id>".
const AppID = "compat-go"

// RealBackoffAppID is the app that the second engine (default backoff table) serves.
const RealBackoffAppID = "compat-go-real"

// ServePath is where the SDK handler is mounted.
const ServePath = "/api/inngest"

// App holds the SDK client, the recorder and the wire log.
type App struct {
	Client    inngestgo.Client
	Rec       *Recorder
	Wire      *WireLog
	Functions []string // function slugs the SDK registers ("<app>-<id>")
}

// Handler returns the HTTP handler: the SDK's handler on ServePath, wrapped by the wire log.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ServePath, a.Wire.Wrap(a.Client.Serve()))
	return mux
}

func (a *App) rec(key, fn, stepName string, attempt int, runID string, info map[string]any) {
	a.Rec.Add(Record{Key: key, Fn: fn, Step: stepName, Attempt: attempt, RunID: runID, Info: info})
}

func must(f inngestgo.ServableFunction, err error) inngestgo.ServableFunction {
	if err != nil {
		panic(err)
	}
	return f
}

func (a *App) add(f inngestgo.ServableFunction) {
	a.Functions = append(a.Functions, f.FullyQualifiedID())
}

// UserNotFoundError is the error of the documentation's user-weekly-digest example.
type UserNotFoundError struct{ UserID string }

func (e UserNotFoundError) Error() string {
	return fmt.Sprintf("UserNotFoundError: user %q not found", e.UserID)
}

// ---- event data types ----------------------------------------------------------------------------

type ButtonClickedData struct {
	Key   string `json:"key"`
	Fails *int   `json:"fails"` // body failures before success (default 2)
}

type SyncRequestData struct {
	Key       string `json:"key"`
	GetFails  int    `json:"get_fails"`
	SaveFails int    `json:"save_fails"`
}

type WeeklyDigestData struct {
	Key    string `json:"key"`
	UserID string `json:"userId"`
	// Mode "" : get-user-email fails with UserNotFoundError on every attempt; the function catches the
	// final step error and returns NoRetryError. "inside": the step itself returns NoRetryError.
	Mode string `json:"mode"`
}

type UserCreatedData struct {
	Key              string `json:"key"`
	RateLimitedTimes int    `json:"rate_limited_times"`
	RetryAfterSecs   int    `json:"retry_after_secs"`
}

type BodyErrorsData struct {
	Key  string `json:"key"`
	Mode string `json:"mode"` // retry_after | non_retriable | exhaust | panic
}

type RetriesZeroData struct {
	Key  string `json:"key"`
	Mode string `json:"mode"` // raise | catch | retry_after
}

type KeyData struct {
	Key     string `json:"key"`
	UntilMs int64  `json:"until_ms"`
	FromRun string `json:"from_run"`
	N       int    `json:"n"`
}

type FunctionFailedData struct {
	FunctionID string         `json:"function_id"`
	RunID      string         `json:"run_id"`
	Error      map[string]any `json:"error"`
	Event      struct {
		Name string         `json:"name"`
		Data map[string]any `json:"data"`
	} `json:"event"`
}

// ceilSecond rounds a time up to the next whole second. inngestgo writes Retry-After as RFC 3339
// without fractional seconds (it truncates), so an app wanting "at least N s" rounds up.
func ceilSecond(t time.Time) time.Time {
	if t.Truncate(time.Second).Equal(t) {
		return t
	}
	return t.Truncate(time.Second).Add(time.Second)
}

// New builds the app with the client options given (AppID is filled in).
func New(opts inngestgo.ClientOpts) *App {
	if opts.AppID == "" {
		opts.AppID = AppID
	}
	client, err := inngestgo.NewClient(opts)
	if err != nil {
		panic(err)
	}
	a := &App{Client: client, Rec: &Recorder{}, Wire: &WireLog{}}
	a.register()
	return a
}

// NewRealBackoff builds the small app served to the second engine (default backoff table):
// worked example 7.
func NewRealBackoff(opts inngestgo.ClientOpts) *App {
	opts.AppID = RealBackoffAppID
	client, err := inngestgo.NewClient(opts)
	if err != nil {
		panic(err)
	}
	a := &App{Client: client, Rec: &Recorder{}, Wire: &WireLog{}}
	a.add(must(inngestgo.CreateFunction(
		client,
		inngestgo.FunctionOpts{ID: "default-schedule"},
		inngestgo.EventTrigger("compat/default.schedule", nil),
		func(ctx context.Context, input inngestgo.Input[KeyData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			out, err := step.Run(ctx, "flaky", func(ctx context.Context) (string, error) {
				a.rec(d.Key, "default-schedule", "flaky", attempt, input.InputCtx.RunID, nil)
				if attempt < 2 {
					return "", fmt.Errorf("flaky failure %d", attempt)
				}
				return "ok", nil
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"flaky": out}, nil
		},
	)))
	return a
}

func (a *App) register() {
	c := a.Client

	// Worked example 1: the body fails `fails` times (default 2), then succeeds. Default retries.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "click-recorder"},
		inngestgo.EventTrigger("app/button.clicked", nil),
		func(ctx context.Context, input inngestgo.Input[ButtonClickedData]) (any, error) {
			d := input.Event.Data
			fails := 2
			if d.Fails != nil {
				fails = *d.Fails
			}
			attempt := input.InputCtx.Attempt
			a.rec(d.Key, "click-recorder", "", attempt, input.InputCtx.RunID, nil)
			if attempt < fails {
				return nil, fmt.Errorf("db insert failed (attempt %d)", attempt)
			}
			return map[string]any{"recorded": d.Key, "attempt": attempt}, nil
		},
	)))

	// Worked examples 2 and 3: two steps with independent budgets (retries 4).
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "sync-systems", Retries: inngestgo.IntPtr(4)},
		inngestgo.EventTrigger("auto/sync.request", nil),
		func(ctx context.Context, input inngestgo.Input[SyncRequestData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			data, err := step.Run(ctx, "get-data", func(ctx context.Context) (map[string]any, error) {
				a.rec(d.Key, "sync-systems", "get-data", attempt, runID, nil)
				if attempt < d.GetFails {
					return nil, fmt.Errorf("external source unavailable (attempt %d)", attempt)
				}
				return map[string]any{"rows": 3}, nil
			})
			if err != nil {
				return nil, err
			}
			saved, err := step.Run(ctx, "save-data", func(ctx context.Context) (map[string]any, error) {
				a.rec(d.Key, "sync-systems", "save-data", attempt, runID, nil)
				if attempt < d.SaveFails {
					return nil, fmt.Errorf("db write failed (attempt %d)", attempt)
				}
				return map[string]any{"saved": data["rows"]}, nil
			})
			if err != nil {
				a.rec(d.Key, "sync-systems", "body:save-data-error", attempt, runID,
					map[string]any{"error": err.Error(), "is_step_error": errors.Is(err, inngestgo.StepError{})})
				return nil, err
			}
			return saved, nil
		},
	)))

	// Worked example 4: catch the step's final UserNotFoundError, stop with a non-retriable error.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "user-weekly-digest"},
		inngestgo.EventTrigger("user/weekly.digest.requested", nil),
		func(ctx context.Context, input inngestgo.Input[WeeklyDigestData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			user, err := step.Run(ctx, "get-user-email", func(ctx context.Context) (map[string]any, error) {
				a.rec(d.Key, "user-weekly-digest", "get-user-email", attempt, runID, nil)
				notFound := UserNotFoundError{UserID: d.UserID}
				if d.Mode == "inside" {
					return nil, inngestgo.NoRetryError(notFound)
				}
				return nil, notFound
			})
			if err != nil {
				var stepErr inngestgo.StepError
				if errors.As(err, &stepErr) {
					a.rec(d.Key, "user-weekly-digest", "body:caught", attempt, runID,
						map[string]any{"name": stepErr.Name, "message": stepErr.Message})
					// The documentation compares stepErr.Name with "UserNotFoundError"; inngestgo names
					// every step error "Step error"/"Step failed" and keeps the cause in the message.
					if stepErr.Name == "UserNotFoundError" || strings.HasPrefix(stepErr.Message, "UserNotFoundError") {
						return nil, inngestgo.NoRetryError(fmt.Errorf("User no longer exists; stopping"))
					}
				}
				return nil, err
			}
			_, err = step.Run(ctx, "send-digest", func(ctx context.Context) (bool, error) {
				a.rec(d.Key, "user-weekly-digest", "send-digest", attempt, runID, nil)
				_ = user
				return true, nil
			})
			return nil, err
		},
	)))

	// Worked example 5: the step answers RetryAtError (Retry-After) `rate_limited_times` times.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "send-welcome-notification"},
		inngestgo.EventTrigger("app/user.created", nil),
		func(ctx context.Context, input inngestgo.Input[UserCreatedData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			msg, err := step.Run(ctx, "send-notification", func(ctx context.Context) (map[string]any, error) {
				now := time.Now()
				a.rec(d.Key, "send-welcome-notification", "send-notification", attempt, runID, nil)
				if attempt < d.RateLimitedTimes {
					secs := d.RetryAfterSecs
					if secs == 0 {
						secs = 3
					}
					retryAfter := ceilSecond(now.Add(time.Duration(secs) * time.Second))
					return nil, inngestgo.RetryAtError(fmt.Errorf("Hit Twilio rate limit"), retryAfter)
				}
				return map[string]any{"message": "Welcome to our service!"}, nil
			})
			if err != nil {
				return nil, err
			}
			return msg, nil
		},
	)))

	// Errors raised by the function body itself (outside steps), after one completed step.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "body-errors", Retries: inngestgo.IntPtr(2)},
		inngestgo.EventTrigger("compat/body.errors", nil),
		func(ctx context.Context, input inngestgo.Input[BodyErrorsData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			prep, err := step.Run(ctx, "prep", func(ctx context.Context) (string, error) {
				a.rec(d.Key, "body-errors", "prep", attempt, runID, nil)
				return "prepared", nil
			})
			if err != nil {
				return nil, err
			}
			now := time.Now()
			a.rec(d.Key, "body-errors", "body", attempt, runID, nil)
			switch d.Mode {
			case "retry_after":
				if attempt == 0 {
					return nil, inngestgo.RetryAtError(fmt.Errorf("body rate limited"), ceilSecond(now.Add(3*time.Second)))
				}
			case "non_retriable":
				return nil, inngestgo.NoRetryError(fmt.Errorf("body gave up: %s", d.Key))
			case "exhaust":
				return nil, fmt.Errorf("body failure %d: %s", attempt, d.Key)
			case "panic":
				if attempt == 0 {
					panic("body panicked: " + d.Key)
				}
			}
			return map[string]any{"prep": prep, "attempt": attempt}, nil
		},
	)))

	// Worked example 6: retries 0.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "retries-zero", Retries: inngestgo.IntPtr(0)},
		inngestgo.EventTrigger("compat/retries.zero", nil),
		func(ctx context.Context, input inngestgo.Input[RetriesZeroData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			_, err := step.Run(ctx, "flaky", func(ctx context.Context) (string, error) {
				a.rec(d.Key, "retries-zero", "flaky", attempt, runID, nil)
				if d.Mode == "retry_after" {
					return "", inngestgo.RetryAtError(fmt.Errorf("rate limited"), time.Now().Add(2*time.Second))
				}
				return "", fmt.Errorf("flaky failed: %s", d.Key)
			})
			if err == nil {
				return "unexpected success", nil
			}
			if d.Mode != "catch" {
				return nil, err
			}
			a.rec(d.Key, "retries-zero", "body:caught", attempt, runID, map[string]any{"message": err.Error()})
			after, err := step.Run(ctx, "after", func(ctx context.Context) (string, error) {
				a.rec(d.Key, "retries-zero", "after", attempt, runID, nil)
				return "went on", nil
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"after": after}, nil
		},
	)))

	// Parallel steps with group.Parallel; branch par-b fails once. Then one sequential step.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "parallel-steps", Retries: inngestgo.IntPtr(4)},
		inngestgo.EventTrigger("compat/parallel", nil),
		func(ctx context.Context, input inngestgo.Input[KeyData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			branch := func(name string, value int, failFirst bool) func(ctx context.Context) (any, error) {
				return func(ctx context.Context) (any, error) {
					v, err := step.Run(ctx, name, func(ctx context.Context) (int, error) {
						a.rec(d.Key, "parallel-steps", name, attempt, runID, nil)
						if failFirst && attempt == 0 {
							return 0, fmt.Errorf("%s failed once", name)
						}
						return value, nil
					})
					return v, err
				}
			}
			res := group.Parallel(ctx,
				branch("par-a", 1, false),
				branch("par-b", 2, true),
				branch("par-c", 3, false),
			)
			if err := res.AnyError(); err != nil {
				return nil, err
			}
			values := []any{}
			for _, r := range res {
				values = append(values, r.Value)
			}
			total, err := step.Run(ctx, "combine", func(ctx context.Context) (int, error) {
				a.rec(d.Key, "parallel-steps", "combine", attempt, runID, nil)
				sum := 0
				for _, v := range values {
					switch n := v.(type) {
					case int:
						sum += n
					case float64:
						sum += int(n)
					}
				}
				return sum, nil
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"values": values, "total": total}, nil
		},
	)))

	// step.Sleep and step.SleepUntil.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "sleeper"},
		inngestgo.EventTrigger("compat/sleep", nil),
		func(ctx context.Context, input inngestgo.Input[KeyData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			stamp := func(name string) func(ctx context.Context) (int64, error) {
				return func(ctx context.Context) (int64, error) {
					a.rec(d.Key, "sleeper", name, attempt, runID, nil)
					return time.Now().UnixMilli(), nil
				}
			}
			before, err := step.Run(ctx, "before", stamp("before"))
			if err != nil {
				return nil, err
			}
			step.Sleep(ctx, "nap", time.Second)
			between, err := step.Run(ctx, "between", stamp("between"))
			if err != nil {
				return nil, err
			}
			step.SleepUntil(ctx, "until", time.UnixMilli(d.UntilMs))
			after, err := step.Run(ctx, "after", stamp("after"))
			if err != nil {
				return nil, err
			}
			return map[string]any{"before": before, "between": between, "after": after}, nil
		},
	)))

	// step.Send: send an event from a step; followup-receiver records it.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "sender"},
		inngestgo.EventTrigger("compat/send", nil),
		func(ctx context.Context, input inngestgo.Input[KeyData]) (any, error) {
			d := input.Event.Data
			id, err := step.Send(ctx, "send-followup", inngestgo.Event{
				Name: "compat/followup",
				Data: map[string]any{"key": d.Key, "from_run": input.InputCtx.RunID},
			})
			if err != nil {
				return nil, err
			}
			a.rec(d.Key, "sender", "body:sent", input.InputCtx.Attempt, input.InputCtx.RunID,
				map[string]any{"event_id": id})
			return map[string]any{"sent_id": id}, nil
		},
	)))
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "followup-receiver"},
		inngestgo.EventTrigger("compat/followup", nil),
		func(ctx context.Context, input inngestgo.Input[KeyData]) (any, error) {
			d := input.Event.Data
			a.rec(d.Key, "followup-receiver", "", input.InputCtx.Attempt, input.InputCtx.RunID,
				map[string]any{"from_run": d.FromRun})
			return map[string]any{"received_from": d.FromRun}, nil
		},
	)))

	// A function that always fails (retries 0) and its failure handler. inngestgo has no onFailure
	// option: its idiom is a function triggered by inngest/function.failed, filtered by function_id,
	// which is what the TS/Python SDKs register for onFailure / on_failure.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "always-fails", Retries: inngestgo.IntPtr(0)},
		inngestgo.EventTrigger("compat/always.fails", nil),
		func(ctx context.Context, input inngestgo.Input[KeyData]) (any, error) {
			d := input.Event.Data
			a.rec(d.Key, "always-fails", "", input.InputCtx.Attempt, input.InputCtx.RunID, nil)
			return nil, fmt.Errorf("always-fails boom: %s", d.Key)
		},
	)))
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "always-fails-failure", Name: "always-fails (failure)"},
		inngestgo.EventTrigger("inngest/function.failed",
			inngestgo.StrPtr(fmt.Sprintf("event.data.function_id == '%s-always-fails'", c.AppID()))),
		func(ctx context.Context, input inngestgo.Input[FunctionFailedData]) (any, error) {
			d := input.Event.Data
			key, _ := d.Event.Data["key"].(string)
			a.rec(key, "always-fails-failure", "", input.InputCtx.Attempt, input.InputCtx.RunID,
				map[string]any{"function_id": d.FunctionID, "run_id": d.RunID, "error": d.Error,
					"event_name": d.Event.Name})
			return map[string]any{"handled": d.RunID}, nil
		},
	)))

	// Registered only: retries above 20 are clamped to 20 by the engine.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "clamped-retries", Retries: inngestgo.IntPtr(25)},
		inngestgo.EventTrigger("compat/clamped.retries", nil),
		func(ctx context.Context, input inngestgo.Input[KeyData]) (any, error) {
			return nil, nil
		},
	)))

	// The same step id in a loop: ids "item", "item:1", "item:2"...; iteration 1 fails once.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "loop-steps", Retries: inngestgo.IntPtr(4)},
		inngestgo.EventTrigger("compat/loop", nil),
		func(ctx context.Context, input inngestgo.Input[KeyData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			out := []int{}
			for i := 0; i < d.N; i++ {
				v, err := step.Run(ctx, "item", func(ctx context.Context) (int, error) {
					a.rec(d.Key, "loop-steps", fmt.Sprintf("item#%d", i), attempt, input.InputCtx.RunID, nil)
					if i == 1 && attempt == 0 {
						return 0, fmt.Errorf("item %d failed once", i)
					}
					return i * 10, nil
				})
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return map[string]any{"items": out}, nil
		},
	)))

	a.registerWaits()
}
