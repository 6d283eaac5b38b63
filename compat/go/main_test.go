package compat

// The harness: one real `durin dev` process (backoff scaled by 0.01) serving the app in app/, and,
// for worked example 7 only, a second `durin dev` with the real default backoff table serving a
// second small app. Both apps are real net/http servers on loopback, written with inngestgo.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inngest/inngestgo"

	"durin.dev/compat/go/app"
)

// engine is one `durin dev` process plus the app it serves.
type engine struct {
	name    string
	url     string
	cmd     *exec.Cmd
	logPath string
	app     *app.App
	appSrv  *http.Server
	appURL  string
	exited  chan struct{}
}

var (
	scaled  *engine // --backoff-scale 0.01: every test but example 7
	realEng *engine // default backoff table: example 7 (nil when skipped)
	tmpDir  string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	bin := os.Getenv("DURIN_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "target", "debug", "durin")
	}
	bin, _ = filepath.Abs(bin)
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(os.Stderr, "durin binary not found at %s (set DURIN_BIN or run cargo build -p durin): %v\n", bin, err)
		return 2
	}

	var err error
	tmpDir, err = os.MkdirTemp("", "durin-compat-go-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer func() {
		if code != 0 || os.Getenv("COMPAT_KEEP") != "" {
			fmt.Fprintf(os.Stderr, "logs kept in %s (durin-*.log, app-*.log)\n", tmpDir)
			return
		}
		_ = os.RemoveAll(tmpDir)
	}()

	// The scaled engine: the SDK finds it through INNGEST_DEV, as apps do.
	port := freePort()
	durinURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	os.Setenv("INNGEST_DEV", durinURL)
	scaled = &engine{name: "scaled", url: durinURL}
	scaled.app = app.New(inngestgo.ClientOpts{Logger: fileLogger("app-scaled.log")})
	defer scaled.stop()
	if err := scaled.start(bin, port, "--backoff-scale", "0.01"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	if os.Getenv("COMPAT_SKIP_DEFAULT_BACKOFF") == "" {
		port2 := freePort()
		url2 := fmt.Sprintf("http://127.0.0.1:%d", port2)
		realEng = &engine{name: "real", url: url2}
		realEng.app = app.NewRealBackoff(inngestgo.ClientOpts{
			Dev:             inngestgo.BoolPtr(true),
			APIBaseURL:      inngestgo.StrPtr(url2),
			EventAPIBaseURL: inngestgo.StrPtr(url2),
			Logger:          fileLogger("app-real.log"),
		})
		defer realEng.stop()
		if err := realEng.start(bin, port2); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}

	if err := scaled.waitSynced(30 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if realEng != nil {
		if err := realEng.waitSynced(30 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	return m.Run()
}

func fileLogger(name string) *slog.Logger {
	f, err := os.Create(filepath.Join(tmpDir, name))
	if err != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (e *engine) start(bin string, port int, extra ...string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.appURL = fmt.Sprintf("http://%s%s", ln.Addr().String(), app.ServePath)
	e.appSrv = &http.Server{Handler: e.app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.appSrv.Serve(ln) }()

	dataDir := filepath.Join(tmpDir, "data-"+e.name)
	e.logPath = filepath.Join(tmpDir, "durin-"+e.name+".log")
	logFile, err := os.Create(e.logPath)
	if err != nil {
		return err
	}
	args := append([]string{"dev", "--port", strconv.Itoa(port), "--data-dir", dataDir,
		"--no-discovery", "--no-poll", "-u", e.appURL}, extra...)
	e.cmd = exec.Command(bin, args...)
	e.cmd.Stdout = logFile
	e.cmd.Stderr = logFile
	// Own process group (killed as a group at the end); killed too if this test process dies.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		return fmt.Errorf("start durin: %w", err)
	}
	if pidFile := os.Getenv("COMPAT_PIDFILE"); pidFile != "" {
		f, err := os.OpenFile(pidFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, e.cmd.Process.Pid)
			f.Close()
		}
	}
	e.exited = make(chan struct{})
	go func() { _ = e.cmd.Wait(); logFile.Close(); close(e.exited) }()
	return nil
}

func (e *engine) stop() {
	if e.cmd != nil && e.cmd.Process != nil {
		pgid := e.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-e.exited
		}
	}
	if e.appSrv != nil {
		_ = e.appSrv.Close()
	}
}

// waitSynced waits until /v1/apps lists the app with all its functions.
func (e *engine) waitSynced(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-e.exited:
			return fmt.Errorf("durin (%s) exited early; see %s", e.name, e.logPath)
		default:
		}
		var apps []map[string]any
		if err := e.getData("/v1/apps", &apps); err == nil {
			b, _ := json.Marshal(apps)
			last = string(b)
			for _, a := range apps {
				n, _ := a["function_count"].(float64)
				if a["name"] == e.app.Client.AppID() && int(n) == len(e.app.Functions) {
					return nil
				}
			}
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("durin (%s) never listed app %s with %d functions; last /v1/apps: %s; log %s",
		e.name, e.app.Client.AppID(), len(e.app.Functions), last, e.logPath)
}

// ---- REST helpers ---------------------------------------------------------------------------

var httpClient = &http.Client{Timeout: 10 * time.Second}

func (e *engine) getData(path string, out any) error {
	resp, err := httpClient.Get(e.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var wrapped struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &wrapped); err != nil {
		return fmt.Errorf("GET %s: %w (%s)", path, err, body)
	}
	return json.Unmarshal(wrapped.Data, out)
}

// Run is Inngest's FunctionRun shape as Durin serves it.
type Run struct {
	RunID      string          `json:"run_id"`
	FunctionID string          `json:"function_id"`
	EventID    string          `json:"event_id"`
	Status     string          `json:"status"`
	EndedAt    *string         `json:"ended_at"`
	Output     json.RawMessage `json:"output"`
}

// Attempt is Durin's own attempt record.
type Attempt struct {
	JobID           string          `json:"job_id"`
	Kind            json.RawMessage `json:"kind"`
	StepID          *string         `json:"step_id"`
	StepName        *string         `json:"step_name"`
	Attempt         int             `json:"attempt"`
	Outcome         string          `json:"outcome"`
	Error           json.RawMessage `json:"error"`
	StartedAtMs     int64           `json:"started_at_ms"`
	EndedAtMs       int64           `json:"ended_at_ms"`
	NextAttemptAtMs *int64          `json:"next_attempt_at_ms"`
}

func (a Attempt) Step() string {
	if a.StepName == nil {
		return ""
	}
	return *a.StepName
}

func (a Attempt) String() string {
	return fmt.Sprintf("{step=%q attempt=%d outcome=%s kind=%s err=%s}", a.Step(), a.Attempt, a.Outcome, a.Kind, a.Error)
}

func terminal(status string) bool {
	return status == "Completed" || status == "Failed" || status == "Cancelled"
}

// send sends one event with the SDK's own client and returns the id Durin gave it.
func (e *engine) send(t *testing.T, name string, data map[string]any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := e.app.Client.Send(ctx, inngestgo.Event{Name: name, Data: data})
	if err != nil {
		t.Fatalf("client.Send(%s): %v", name, err)
	}
	if id == "" {
		t.Fatalf("client.Send(%s) returned no id", name)
	}
	return id
}

// waitRun waits for the event's run of function fnID to end and returns it.
func (e *engine) waitRun(t *testing.T, eventID, fnID string, timeout time.Duration) Run {
	t.Helper()
	slug := e.app.Client.AppID() + "-" + fnID
	deadline := time.Now().Add(timeout)
	var last []Run
	for time.Now().Before(deadline) {
		var runs []Run
		if err := e.getData("/v1/events/"+eventID+"/runs", &runs); err == nil {
			last = runs
			for _, r := range runs {
				if r.FunctionID == slug && terminal(r.Status) {
					run := e.getRun(t, r.RunID)
					if run.EventID != eventID {
						t.Errorf("run %s has event_id %s, want %s", run.RunID, run.EventID, eventID)
					}
					return run
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no finished run of %s for event %s within %s; runs: %+v", slug, eventID, timeout, last)
	return Run{}
}

func (e *engine) getRun(t *testing.T, runID string) Run {
	t.Helper()
	var r Run
	if err := e.getData("/v1/runs/"+runID, &r); err != nil {
		t.Fatalf("GET /v1/runs/%s: %v", runID, err)
	}
	return r
}

func (e *engine) waitRunByID(t *testing.T, runID string, timeout time.Duration) Run {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var r Run
	for time.Now().Before(deadline) {
		if err := e.getData("/v1/runs/"+runID, &r); err == nil && terminal(r.Status) {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish within %s: %+v", runID, timeout, r)
	return r
}

func (e *engine) attempts(t *testing.T, runID string) []Attempt {
	t.Helper()
	var atts []Attempt
	if err := e.getData("/v1/runs/"+runID+"/attempts", &atts); err != nil {
		t.Fatalf("GET /v1/runs/%s/attempts: %v", runID, err)
	}
	return atts
}

// ---- assertion helpers ----------------------------------------------------------------------

func uniqueKey(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
}

// appAttempts returns, for one step name (the app's Record.Step), the attempt values and times
// the app observed, in order.
func appAttempts(recs []app.Record, stepName string) (attempts []int, at []int64) {
	for _, r := range recs {
		if r.Step == stepName {
			attempts = append(attempts, r.Attempt)
			at = append(at, r.AtMs)
		}
	}
	return
}

func stepAttempts(atts []Attempt, stepName string) []Attempt {
	var out []Attempt
	for _, a := range atts {
		if a.Step() == stepName {
			out = append(out, a)
		}
	}
	return out
}

func outcomes(atts []Attempt) []string {
	out := make([]string, len(atts))
	for i, a := range atts {
		out[i] = a.Outcome
	}
	return out
}

func attemptNumbers(atts []Attempt) []int {
	out := make([]int, len(atts))
	for i, a := range atts {
		out[i] = a.Attempt
	}
	return out
}

func eqInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func wantInts(t *testing.T, what string, got, want []int) {
	t.Helper()
	if !eqInts(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func wantStatus(t *testing.T, run Run, want string) {
	t.Helper()
	if run.Status != want {
		t.Errorf("run %s status %s, want %s (output %s)", run.RunID, run.Status, want, run.Output)
	}
}

// Scaled backoff (--backoff-scale 0.01): after failed attempt n the next starts within
// [base*0.01, (base+30s)*0.01] + tolerance.
var backoffTable = []time.Duration{15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute,
	5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, 2 * time.Hour}

const scale = 0.01
// Slack above the window (scheduling on a shared 2-core machine); lower bounds stay strict.
const tolerance = time.Second

func scaledWindow(failedAttempt int) (lo, hi time.Duration) {
	base := backoffTable[min(failedAttempt, len(backoffTable)-1)]
	lo = time.Duration(float64(base) * scale)
	hi = time.Duration(float64(base+30*time.Second)*scale) + tolerance
	return
}

// checkScaledGaps checks the gaps between consecutive attempt start times (ms), where the k-th
// gap follows failed attempt k.
func checkScaledGaps(t *testing.T, what string, times []int64) {
	t.Helper()
	for k := 1; k < len(times); k++ {
		gap := time.Duration(times[k]-times[k-1]) * time.Millisecond
		lo, hi := scaledWindow(k - 1)
		if gap < lo-5*time.Millisecond || gap > hi {
			t.Errorf("%s: gap after failed attempt %d is %s, want within [%s, %s]", what, k-1, gap, lo, hi)
		}
	}
}

func startTimes(atts []Attempt) []int64 {
	out := make([]int64, len(atts))
	for i, a := range atts {
		out[i] = a.StartedAtMs
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func decode(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

// postJSON is a raw POST (used to send events with an explicit id through /e/).
func (e *engine) postJSON(path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	resp, err := httpClient.Post(e.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, nil
}

// sha1hex is the hashed step id of a user step id (with ":n" for repeats).
func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// explain logs, if the test failed, what the SDK and Durin exchanged for the run.
func (e *engine) explain(t *testing.T, runID string) {
	t.Cleanup(func() {
		if !t.Failed() && os.Getenv("COMPAT_DUMP") == "" {
			return
		}
		var atts []Attempt
		_ = e.getData("/v1/runs/"+runID+"/attempts", &atts)
		r := e.getRunQuiet(runID)
		t.Logf("run %s: function %s status %s output %s", runID, r.FunctionID, r.Status, r.Output)
		t.Logf("run %s attempts:", runID)
		for _, a := range atts {
			t.Logf("  %s started=%d next=%v", a, a.StartedAtMs, a.NextAttemptAtMs)
		}
		t.Logf("run %s exchanges:", runID)
		for _, x := range e.app.Wire.ByRun(runID) {
			t.Logf("  stepId=%s attempt=%d -> %d no-retry=%q retry-after=%q body=%s", x.StepID, x.Attempt,
				x.Status, x.Header.Get("X-Inngest-No-Retry"), x.Header.Get("Retry-After"), x.Body)
			t.Logf("     request=%s", x.RequestBody)
		}
	})
}

func (e *engine) getRunQuiet(runID string) Run {
	var r Run
	_ = e.getData("/v1/runs/"+runID, &r)
	return r
}
