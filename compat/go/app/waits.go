package app

// step.WaitForEvent and step.Invoke, written the way inngestgo's documentation and its own tests
// write them: WaitForEvent[T] decodes the matched event into a typed event, and returns
// step.ErrEventNotReceived at the timeout; Invoke[T] decodes the invoked function's result, or
// returns its error message as a NoRetryError.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/inngest/inngestgo"
	sdkerrors "github.com/inngest/inngestgo/errors"
	"github.com/inngest/inngestgo/step"
)

// Event names and function ids of the wait/invoke functions.
const (
	WaitStartEvent     = "compat/wait.start"
	WaitApprovedEvent  = "compat/wait.approved"
	InvokeParentEvent  = "compat/invoke.parent"
	WaitStepID         = "wait-approval"
	InvokeStepID       = "call-child"
	InvokeChild        = "invoke-child"
	InvokeChildFails   = "invoke-child-fails"
	InvokeChildSlow    = "invoke-child-slow"
	InvokeChildTrigger = "compat/invoke.child.never" // the children are only ever invoked
)

type WaitStartData struct {
	Key       string `json:"key"`
	TimeoutMs int64  `json:"timeout_ms"`
}

// ApprovalData is the data of the event the waiting function waits for.
type ApprovalData struct {
	Key      string `json:"key"`
	Approved bool   `json:"approved"`
	By       string `json:"by"`
}

type InvokeParentData struct {
	Key       string `json:"key"`
	Target    string `json:"target"` // the child's function id (without the app prefix)
	N         int    `json:"n"`
	TimeoutMs int64  `json:"timeout_ms"`
}

// InvokeChildData is what the parent passes (opts.payload.data) plus what the engine adds.
type InvokeChildData struct {
	Key     string         `json:"key"`
	N       int            `json:"n"`
	Inngest map[string]any `json:"_inngest"`
}

// ChildResult is what invoke-child returns and what the parent decodes it into.
type ChildResult struct {
	Key     string `json:"key"`
	Doubled int    `json:"doubled"`
}

func (a *App) registerWaits() {
	c := a.Client

	// Waits for compat/wait.approved with the same key and approved == true, or times out.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "wait-for-approval"},
		inngestgo.EventTrigger(WaitStartEvent, nil),
		func(ctx context.Context, input inngestgo.Input[WaitStartData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			evt, err := step.WaitForEvent[inngestgo.GenericEvent[ApprovalData]](ctx, WaitStepID, step.WaitForEventOpts{
				Name:    "Wait for approval",
				Event:   WaitApprovedEvent,
				Timeout: time.Duration(d.TimeoutMs) * time.Millisecond,
				If:      inngestgo.StrPtr("async.data.key == event.data.key && async.data.approved == true"),
			})
			timedOut := errors.Is(err, step.ErrEventNotReceived)
			if err != nil && !timedOut {
				a.rec(d.Key, "wait-for-approval", "body:wait-error", attempt, runID, map[string]any{"error": err.Error()})
				return nil, err
			}
			info := map[string]any{"timed_out": timedOut, "name": evt.Name, "data": evt.Data}
			if evt.ID != nil {
				info["id"] = *evt.ID
			}
			a.rec(d.Key, "wait-for-approval", "body:resumed", attempt, runID, info)
			// The run goes on durably after the wait.
			after, err := step.Run(ctx, "after-wait", func(ctx context.Context) (string, error) {
				a.rec(d.Key, "wait-for-approval", "after-wait", attempt, runID, nil)
				if timedOut {
					return "no approval", nil
				}
				return "approved by " + evt.Data.By, nil
			})
			if err != nil {
				return nil, err
			}
			out := map[string]any{"timed_out": timedOut, "after": after}
			if !timedOut {
				out["event_name"] = evt.Name
				out["approved_by"] = evt.Data.By
				out["key"] = evt.Data.Key
				if evt.ID != nil {
					out["event_id"] = *evt.ID
				}
			}
			return out, nil
		},
	)))

	// Invokes `target` with {key, n}; catches the invoke error and returns it as data.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: "invoke-parent"},
		inngestgo.EventTrigger(InvokeParentEvent, nil),
		func(ctx context.Context, input inngestgo.Input[InvokeParentData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			res, err := step.Invoke[ChildResult](ctx, InvokeStepID, step.InvokeOpts{
				FunctionId: fmt.Sprintf("%s-%s", c.AppID(), d.Target),
				Data:       map[string]any{"key": d.Key, "n": d.N},
				Timeout:    time.Duration(d.TimeoutMs) * time.Millisecond,
			})
			if err != nil {
				a.rec(d.Key, "invoke-parent", "body:caught", attempt, runID, map[string]any{
					"message": err.Error(), "no_retry": sdkerrors.IsNoRetryError(err),
					"step_error": errors.Is(err, inngestgo.StepError{}),
				})
				return map[string]any{"caught": err.Error()}, nil
			}
			a.rec(d.Key, "invoke-parent", "body:result", attempt, runID, map[string]any{"result": res})
			return map[string]any{"result": res}, nil
		},
	)))

	// The invoked functions. They need a trigger to be registered; nothing sends it.
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: InvokeChild},
		inngestgo.EventTrigger(InvokeChildTrigger, nil),
		func(ctx context.Context, input inngestgo.Input[InvokeChildData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			a.rec(d.Key, InvokeChild, "body", attempt, runID, map[string]any{
				"event_name": input.Event.Name, "inngest": d.Inngest, "n": d.N,
			})
			doubled, err := step.Run(ctx, "double", func(ctx context.Context) (int, error) {
				a.rec(d.Key, InvokeChild, "double", attempt, runID, nil)
				return d.N * 2, nil
			})
			if err != nil {
				return nil, err
			}
			return ChildResult{Key: d.Key, Doubled: doubled}, nil
		},
	)))
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: InvokeChildFails, Retries: inngestgo.IntPtr(0)},
		inngestgo.EventTrigger(InvokeChildTrigger, nil),
		func(ctx context.Context, input inngestgo.Input[InvokeChildData]) (any, error) {
			d := input.Event.Data
			a.rec(d.Key, InvokeChildFails, "body", input.InputCtx.Attempt, input.InputCtx.RunID,
				map[string]any{"event_name": input.Event.Name, "inngest": d.Inngest})
			return nil, fmt.Errorf("child refused: %s", d.Key)
		},
	)))
	a.add(must(inngestgo.CreateFunction(
		c,
		inngestgo.FunctionOpts{ID: InvokeChildSlow},
		inngestgo.EventTrigger(InvokeChildTrigger, nil),
		func(ctx context.Context, input inngestgo.Input[InvokeChildData]) (any, error) {
			d := input.Event.Data
			attempt := input.InputCtx.Attempt
			runID := input.InputCtx.RunID
			a.rec(d.Key, InvokeChildSlow, "body", attempt, runID,
				map[string]any{"event_name": input.Event.Name, "inngest": d.Inngest})
			step.Sleep(ctx, "take-your-time", 3*time.Second)
			done, err := step.Run(ctx, "finish", func(ctx context.Context) (int64, error) {
				a.rec(d.Key, InvokeChildSlow, "finish", attempt, runID, nil)
				return time.Now().UnixMilli(), nil
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"finished_at_ms": done}, nil
		},
	)))
}
