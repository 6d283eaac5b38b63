package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// Record is one thing the app observed while Durin drove it: a try of a step, a pass through the
// function body, a failure handler call... Every record carries the test's key (from event data).
type Record struct {
	Key     string         `json:"key"`
	Fn      string         `json:"fn"`
	Step    string         `json:"step"`
	Attempt int            `json:"attempt"`
	AtMs    int64          `json:"at_ms"`
	RunID   string         `json:"run_id"`
	Info    map[string]any `json:"info,omitempty"`
}

// Recorder keeps records in memory; the test reads them in-process.
type Recorder struct {
	mu   sync.Mutex
	recs []Record
}

func (r *Recorder) Add(rec Record) {
	if rec.AtMs == 0 {
		rec.AtMs = time.Now().UnixMilli()
	}
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
}

// For returns the records of one key, in the order they were made.
func (r *Recorder) For(key string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.recs {
		if rec.Key == key {
			out = append(out, rec)
		}
	}
	return out
}

// ByRun returns the records made in one run (whatever their key), in order.
func (r *Recorder) ByRun(runID string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.recs {
		if rec.RunID == runID {
			out = append(out, rec)
		}
	}
	return out
}

// Exchange is one call Durin made to the app and the app's (the SDK's) answer, as seen on the wire.
type Exchange struct {
	Method      string
	FnID        string
	StepID      string
	RunID       string
	Attempt     int
	MaxAttempts *int
	Status      int
	Header      http.Header
	Body        string
	RequestBody string
	AtMs        int64
}

// WireLog wraps the SDK's handler and records every exchange, so tests can assert what the SDK put
// on the wire (status, Retry-After, X-Inngest-No-Retry, op codes).
type WireLog struct {
	mu        sync.Mutex
	exchanges []Exchange
}

func (l *WireLog) ByRun(runID string) []Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Exchange
	for _, e := range l.exchanges {
		if e.RunID == runID {
			out = append(out, e)
		}
	}
	return out
}

func (l *WireLog) All() []Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Exchange(nil), l.exchanges...)
}

type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.body.Len() < 64*1024 {
		c.body.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

func (l *WireLog) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reqBody []byte
		if r.Body != nil {
			reqBody, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		c := &capture{ResponseWriter: w}
		next.ServeHTTP(c, r)
		ex := Exchange{
			Method:      r.Method,
			FnID:        r.URL.Query().Get("fnId"),
			StepID:      r.URL.Query().Get("stepId"),
			Status:      c.status,
			Header:      w.Header().Clone(),
			Body:        c.body.String(),
			RequestBody: string(reqBody),
			AtMs:        time.Now().UnixMilli(),
		}
		var req struct {
			Ctx struct {
				RunID       string `json:"run_id"`
				Attempt     int    `json:"attempt"`
				MaxAttempts *int   `json:"max_attempts"`
			} `json:"ctx"`
		}
		if r.Method == http.MethodPost && json.Unmarshal(reqBody, &req) == nil {
			ex.RunID = req.Ctx.RunID
			ex.Attempt = req.Ctx.Attempt
			ex.MaxAttempts = req.Ctx.MaxAttempts
		}
		l.mu.Lock()
		l.exchanges = append(l.exchanges, ex)
		l.mu.Unlock()
	})
}
