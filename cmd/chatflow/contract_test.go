package main

// The CLI's contract from issue 17: arguments checked before a demo server
// starts, one demo banner, -timeout bounding the whole command, the stop
// wording, global flags before the command, help for every command, and
// Ctrl-C before the run's first event still stopping the run.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/difykit/chatflow/chatflowtest"
)

// demoEnv is an environment without DIFY_* settings whose demo hook
// counts its calls and connects to a fresh fake server (reported as
// started by this command when started is true).
func demoEnv(t *testing.T, started bool) (env, *syncBuffer, *syncBuffer, func() int) {
	t.Helper()
	var (
		mu    sync.Mutex
		calls int
	)
	srv := chatflowtest.NewServer()
	t.Cleanup(srv.Close)
	var out, errOut syncBuffer
	e := env{
		stdout: &out,
		stderr: &errOut,
		getenv: func(string) string { return "" },
		demo: func(ctx context.Context, e env) (demoConn, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return demoConn{URL: srv.URL, Key: srv.APIKey, PID: 4242, Started: started}, nil
		},
	}
	return e, &out, &errOut, func() int { mu.Lock(); defer mu.Unlock(); return calls }
}

func TestArgumentsAreCheckedBeforeTheDemoStarts(t *testing.T) {
	t.Parallel()
	missing := "/does/not/exist/notes.txt"
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"chat"}, 2},
		{[]string{"chat", "-i", "x:=notjson", "Go"}, 2},
		{[]string{"chat", "-nope", "Go"}, 2},
		{[]string{"chat", "-f", missing, "Go"}, 1},
		{[]string{"chat", "-i", "f=@" + missing, "Go"}, 1},
		{[]string{"conversations", "extra"}, 2},
		{[]string{"conversations", "-sort", "name"}, 2},
		{[]string{"conversations", "-limit", "-1"}, 2},
		{[]string{"messages"}, 2},
		{[]string{"messages", "a", "b"}, 2},
		{[]string{"rename", "c1"}, 2},
		{[]string{"rename", "-auto", "c1", "Name"}, 2},
		{[]string{"delete"}, 2},
		{[]string{"upload"}, 2},
		{[]string{"upload", missing}, 1},
		{[]string{"stop"}, 2},
		{[]string{"stop", "-timeout", "-1s", "t1"}, 2},
	} {
		e, _, errOut, calls := demoEnv(t, true)
		code := run(context.Background(), tc.args, e)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d; stderr %q", tc.args, code, tc.code, errOut.String())
		}
		if n := calls(); n != 0 {
			t.Errorf("%q: the demo server was asked for %d times before the arguments were checked", tc.args, n)
		}
		if s := errOut.String(); strings.Contains(s, "demo") || strings.Contains(s, "DIFY_API_KEY is not set") {
			t.Errorf("%q: stderr has a demo banner: %q", tc.args, s)
		}
		negativeTimeout := slices.Contains(tc.args, "-1s") // one line, no usage
		if s := errOut.String(); tc.code == 2 && !negativeTimeout && !strings.Contains(s, "Usage: chatflow "+tc.args[0]+" ") {
			t.Errorf("%q: stderr has no usage of %s: %q", tc.args, tc.args[0], s)
		}
	}
}

func TestDemoBannerOnce(t *testing.T) {
	t.Parallel()
	notes := tempFile(t, "notes.txt", "some notes")
	for _, started := range []bool{true, false} {
		for _, args := range [][]string{
			{"chat", "Hello"},
			{"chat", "-i", "brief=@" + notes, "-f", notes, "Hello"}, // three requests
			{"conversations"},
			{"stop", "t1"},
		} {
			e, _, errOut, calls := demoEnv(t, started)
			if code := run(context.Background(), args, e); code != 0 {
				t.Fatalf("%q: exit %d, %s", args, code, errOut.String())
			}
			if n := calls(); n != 1 {
				t.Errorf("%q: demo asked for %d times, want 1", args, n)
			}
			s := errOut.String()
			if n := strings.Count(s, "demo mode"); n != 1 {
				t.Errorf("%q (started %v): %d demo banners, want 1: %q", args, started, n, s)
			}
			if n := strings.Count(s, "DIFY_API_KEY is not set"); n != 1 {
				t.Errorf("%q (started %v): %d lines say the key is not set, want 1: %q", args, started, n, s)
			}
			if strings.Contains(s, "started a demo server") != started {
				t.Errorf("%q (started %v): stderr %q", args, started, s)
			}
		}
	}
}

func TestStopSaysStopRequested(t *testing.T) {
	t.Parallel()
	vars := fakeEnv(t)
	out, _ := runOK(t, vars, "stop", "some-task")
	if !strings.Contains(out, "stop requested") || strings.Contains(out, "stopped") {
		t.Errorf("stop printed %q; want it to say the stop was requested, not that a run stopped", out)
	}
}

func TestGlobalFlagsBeforeTheCommand(t *testing.T) {
	t.Parallel()
	srv, _ := fakeServer(t)
	if code, _, errOut := runCLI(t, nil, "chat", "-base-url", srv.URL, "-key", srv.APIKey, "-user", "early", "Hello"); code != 0 {
		t.Fatalf("chat with flags after it: exit %d, %s", code, errOut)
	}
	for _, args := range [][]string{
		{"-base-url", srv.URL, "-key", srv.APIKey, "-user", "early", "conversations", "-q"},
		{"-base-url=" + srv.URL, "--key", srv.APIKey, "-timeout=10s", "-user=early", "conversations", "-q"},
		{"-key", srv.APIKey, "-json", "-base-url", srv.URL, "conversations", "-user", "early"},
		{"-key", srv.APIKey, "-user", "someone-else", "-base-url", srv.URL, "--", "conversations", "-q", "-user", "early"},
	} {
		code, out, errOut := runCLI(t, nil, args...)
		if code != 0 {
			t.Errorf("%q: exit %d, %s", args, code, errOut)
			continue
		}
		if slices.Contains(args, "-json") {
			var convs []map[string]any
			if err := json.Unmarshal([]byte(out), &convs); err != nil || len(convs) != 1 {
				t.Errorf("%q: output %q is not one conversation in JSON (%v)", args, out, err)
			}
		} else if len(strings.Fields(out)) != 1 {
			t.Errorf("%q: output %q, want the one conversation of user early", args, out)
		}
	}
	for _, args := range [][]string{
		{"-timeout"},         // no value
		{"-key", srv.APIKey}, // no command
		{"-key", srv.APIKey, "serve", "-addr", "x:0"},  // serve has flags of its own
		{"-user", "u", "demo", "status"},               // so has demo
		{"-key", srv.APIKey, "-nope", "conversations"}, // not a flag
		{"-timeout", "-1s", "conversations"},           // checked as after the command
	} {
		if code, _, errOut := runCLI(t, nil, args...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a complaint", args, code, errOut)
		}
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	t.Parallel()
	names := []string{"serve", "demo", "version", "help"}
	for name := range commands {
		names = append(names, name)
	}
	for _, name := range names {
		for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {"help", name}} {
			e, out, errOut, calls := demoEnv(t, true)
			if code := run(context.Background(), args, e); code != 0 {
				t.Errorf("%q: exit %d, stderr %q", args, code, errOut.String())
				continue
			}
			if calls() != 0 {
				t.Errorf("%q started the demo server", args)
			}
			paras := strings.Split(out.String(), "\n\n")
			first := strings.TrimSpace(paras[0])
			if !strings.HasPrefix(first, "Usage: chatflow "+name) || strings.Contains(first, "\n") {
				t.Errorf("%q: help does not open with one usage line of %s: %q", args, name, out.String())
				continue
			}
			if len(paras) < 2 {
				t.Errorf("%q: no sentence after the usage line: %q", args, out.String())
				continue
			}
			does := strings.SplitN(strings.TrimSpace(paras[1]), "\n", 2)[0]
			if !strings.HasSuffix(does, ".") || strings.Count(does, ". ") != 0 || strings.HasPrefix(does, "-") {
				t.Errorf("%q: want one sentence on what %s does after the usage line, got %q", args, name, does)
			}
			// The usage line is the one "chatflow help" shows.
			if !strings.Contains(usage, strings.TrimPrefix(first, "Usage: ")) {
				t.Errorf("%q: usage line %q is not in chatflow's usage:\n%s", args, first, usage)
			}
		}
	}
	// The arguments a command takes are on its usage line.
	for name, arg := range map[string]string{"chat": "QUERY", "messages": "CONVERSATION", "rename": "NAME", "delete": "CONVERSATION", "upload": "FILE", "stop": "TASK_ID"} {
		if code, out, _ := runCLI(t, nil, name, "-h"); code != 0 || !strings.Contains(strings.SplitN(out, "\n", 2)[0], arg) {
			t.Errorf("%s -h: exit %d, usage line %q lacks %s", name, code, strings.SplitN(out, "\n", 2)[0], arg)
		}
	}
	if code, _, errOut := runCLI(t, nil, "help", "bogus"); code != 2 || !strings.Contains(errOut, "bogus") {
		t.Errorf("help bogus: exit %d, stderr %q", code, errOut)
	}
}

// stopTestServer is a chat endpoint that sends what the test tells it, and
// a stop endpoint that records what it receives.
type stopTestServer struct {
	*httptest.Server
	mu    sync.Mutex
	stops []string // "task user"
	users []string // of the chat requests
}

const (
	testTask = "b0000000-0000-4000-8000-000000000001"
	testRun  = "b0000000-0000-4000-8000-000000000002"
)

// sseEvent is one event of a run with the test's task and run ids.
func sseEvent(name, extra string) string {
	return fmt.Sprintf(`data: {"event":%q,"task_id":%q,"workflow_run_id":%q,"conversation_id":"c1","message_id":"m1","created_at":1%s}`+"\n\n", name, testTask, testRun, extra)
}

// newStopTestServer serves chat requests with chat and records stop
// requests, answering them when stopReply returns.
func newStopTestServer(t *testing.T, chat func(w http.ResponseWriter, r *http.Request, f http.Flusher), stopReply func(r *http.Request)) *stopTestServer {
	t.Helper()
	ss := &stopTestServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat-messages", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ User string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		ss.mu.Lock()
		ss.users = append(ss.users, body.User)
		ss.mu.Unlock()
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("no flusher")
			return
		}
		chat(w, r, f)
	})
	mux.HandleFunc("POST /v1/chat-messages/{task}/stop", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ User string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		ss.mu.Lock()
		ss.stops = append(ss.stops, r.PathValue("task")+" "+body.User)
		ss.mu.Unlock()
		if stopReply != nil {
			stopReply(r)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"result":"success"}`))
	})
	ss.Server = httptest.NewServer(mux)
	t.Cleanup(ss.Close)
	return ss
}

func (ss *stopTestServer) stopList() []string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return slices.Clone(ss.stops)
}

func (ss *stopTestServer) vars(user string) map[string]string {
	return map[string]string{"DIFY_API_KEY": "app-test", "DIFY_BASE_URL": ss.URL + "/v1", "DIFY_USER": user}
}

// sseHead sends the headers of an event stream.
func sseHead(w http.ResponseWriter, f http.Flusher) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	f.Flush()
}

// TestInterruptBeforeTheFirstEventStopsTheRun: Ctrl-C comes before any
// event of the run (before the headers, or after them) and the server
// sends no X-Workflow-Run-ID header, as the released Dify server does; the
// command still stops the run, with the task id of the first event and
// the request's user, before it returns.
func TestInterruptBeforeTheFirstEventStopsTheRun(t *testing.T) {
	t.Parallel()
	for _, beforeHeaders := range []bool{false, true} {
		t.Run(fmt.Sprintf("beforeHeaders=%v", beforeHeaders), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stopped := make(chan struct{})
			var stopOnce sync.Once
			ss := newStopTestServer(t, func(w http.ResponseWriter, r *http.Request, f http.Flusher) {
				if !beforeHeaders {
					sseHead(w, f)
				}
				cancel() // Ctrl-C, while the client waits for the run's first event
				if beforeHeaders {
					sseHead(w, f)
				}
				_, _ = w.Write([]byte(": ping\n\n" + sseEvent("workflow_started", `,"data":{"id":"`+testRun+`"}`)))
				f.Flush()
				select { // the run goes on until it is stopped
				case <-stopped:
					_, _ = w.Write([]byte(sseEvent("message_end", "") + sseEvent("workflow_finished", `,"data":{"status":"stopped"}`)))
				case <-r.Context().Done():
				}
			}, func(*http.Request) { stopOnce.Do(func() { close(stopped) }) })
			vars := ss.vars("ctrl-c-early")
			var stdout, stderr syncBuffer
			code := run(ctx, []string{"chat", "Write a long story"}, env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }})
			// The stop must have arrived by now: no waiting here.
			if got := ss.stopList(); len(got) != 1 || got[0] != testTask+" ctrl-c-early" {
				t.Errorf("stop requests %q when the command returned; want one for task %s and user ctrl-c-early", got, testTask)
			}
			if code != exitInterrupted {
				t.Errorf("exit %d, want %d; stderr %q", code, exitInterrupted, stderr.String())
			}
			if s := stderr.String(); !strings.Contains(s, "stop requested for task "+testTask) {
				t.Errorf("stderr does not report the stop: %q", s)
			}
			if stdout.String() != "" {
				t.Errorf("stdout after Ctrl-C before any answer = %q", stdout.String())
			}
		})
	}
}

// TestTimeoutBoundsTheWholeCommand: -timeout D ends the command within
// D + 1 s, whether the run never sends an event, or sends its task id and
// then the stop request is never answered.
func TestTimeoutBoundsTheWholeCommand(t *testing.T) {
	t.Parallel()
	const d = 200 * time.Millisecond
	for _, tc := range []struct {
		name      string
		firstSent bool
	}{{"no event", false}, {"stop never answered", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{}) // ends the handlers at the end of the test
			ss := newStopTestServer(t, func(w http.ResponseWriter, r *http.Request, f http.Flusher) {
				sseHead(w, f)
				if tc.firstSent {
					_, _ = w.Write([]byte(sseEvent("workflow_started", `,"data":{"id":"`+testRun+`"}`)))
					f.Flush()
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}, func(r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})
			t.Cleanup(func() { close(release) }) // before the server's Close
			vars := ss.vars("timeout")
			start := time.Now()
			code, _, errOut := runCLI(t, vars, "chat", "-timeout", d.String(), "Hello")
			if took := time.Since(start); took >= d+time.Second {
				t.Errorf("chat -timeout %s returned after %s, want less than %s", d, took, d+time.Second)
			}
			if code != 1 || !strings.Contains(errOut, "gave up after 200ms (-timeout)") {
				t.Errorf("exit %d, stderr %q; want 1 and the timeout named", code, errOut)
			}
			if strings.Count(errOut, "chatflow:") != 1 || !strings.HasPrefix(lastLine(errOut), "chatflow: gave up") {
				t.Errorf("stderr does not end with the one error line: %q", errOut)
			}
			if tc.firstSent {
				if got := ss.stopList(); len(got) != 1 || got[0] != testTask+" timeout" {
					t.Errorf("stop requests %q, want one attempt for task %s", got, testTask)
				}
				if !strings.Contains(errOut, "stop requested for task "+testTask+"; no answer in time") {
					t.Errorf("stderr does not say the stop went unanswered: %q", errOut)
				}
			} else if !strings.Contains(errOut, "could not stop the run") {
				t.Errorf("stderr does not say the run could not be stopped: %q", errOut)
			}
		})
	}
}

// noRunHeader passes a reply on without the X-Workflow-Run-ID header (the
// released Dify server sends none) and reports the reply's bytes to seen.
type noRunHeader struct {
	http.ResponseWriter
	wrote bool
	seen  func([]byte)
}

func (w *noRunHeader) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Del("X-Workflow-Run-ID")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noRunHeader) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	w.seen(p)
	return w.ResponseWriter.Write(p)
}

func (w *noRunHeader) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

func (w *noRunHeader) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestInterruptBeforeTheRunStopsTheFakeRun: against the fake server (its
// run-id header removed), Ctrl-C comes as the chat request arrives, before
// the run has started; the command still stops the run with its task id
// and the request's user before it returns.
func TestInterruptBeforeTheRunStopsTheFakeRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake := chatflowtest.NewUnstartedServer()
	fake.SetEventDelay(20 * time.Millisecond) // a run that goes on for a while
	api := fake.Handler()
	var (
		mu   sync.Mutex
		task string // of the run, as its events carry it
	)
	taskRE := regexp.MustCompile(`"task_id":\s*"([^"]+)"`)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == chatflowtest.Prefix+"/chat-messages" {
			cancel() // Ctrl-C, before the fake has started the run
			w = &noRunHeader{ResponseWriter: w, seen: func(p []byte) {
				mu.Lock()
				defer mu.Unlock()
				if m := taskRE.FindSubmatch(p); task == "" && m != nil {
					task = string(m[1])
				}
			}}
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(fake.Close) // first: it ends the runs the handlers stream
	fake.URL = hs.URL + chatflowtest.Prefix
	vars := map[string]string{"DIFY_API_KEY": fake.APIKey, "DIFY_BASE_URL": fake.URL, "DIFY_USER": "ctrl-c-fake"}
	var stdout, stderr syncBuffer
	code := run(ctx, []string{"chat", "one two three four five six seven eight nine ten"}, env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }})
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr %q", code, exitInterrupted, stderr.String())
	}
	mu.Lock()
	runTask := task
	mu.Unlock()
	if runTask == "" {
		t.Fatalf("the run sent no task id; stderr %q", stderr.String())
	}
	var stops []chatflowtest.Request
	for _, r := range fake.Requests() {
		if r.Operation == "stopChatMessageGeneration" {
			stops = append(stops, r)
		}
	}
	if len(stops) != 1 || !strings.Contains(stops[0].Path, "/"+runTask+"/") || stops[0].User != "ctrl-c-fake" || (stops[0].Status != 0 && stops[0].Status != 200) {
		t.Errorf("stop requests %+v when the command returned; want one for task %s and user ctrl-c-fake", stops, runTask)
	}
	if !strings.Contains(stderr.String(), "stop requested for task "+runTask) {
		t.Errorf("stderr %q does not report the stop", stderr.String())
	}
}

// TestSIGINTBeforeTheFirstEventStopsTheRun runs the real command as a
// process of its own and interrupts it with SIGINT as its chat request
// arrives: the process stops the run (with the task id of the run's first
// event) before it exits, with the exit status of an interrupt.
func TestSIGINTBeforeTheFirstEventStopsTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send")
	}
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	procs := make(chan *os.Process, 1)
	stopped := make(chan struct{})
	var stopOnce sync.Once
	ss := newStopTestServer(t, func(w http.ResponseWriter, r *http.Request, f http.Flusher) {
		sseHead(w, f)
		p := <-procs
		if err := p.Signal(os.Interrupt); err != nil {
			t.Errorf("SIGINT: %v", err)
		}
		procs <- p
		_, _ = w.Write([]byte(sseEvent("workflow_started", `,"data":{"id":"`+testRun+`"}`)))
		f.Flush()
		select {
		case <-stopped:
		case <-r.Context().Done():
		}
	}, func(*http.Request) { stopOnce.Do(func() { close(stopped) }) })
	cmd := exec.Command(exe, "chat", "Hello")
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DIFY_") }),
		"CHATFLOW_CLI_MAIN=1", "DIFY_API_KEY=app-test", "DIFY_BASE_URL="+ss.URL+"/v1", "DIFY_USER=sigint")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	procs <- cmd.Process
	err = cmd.Wait()
	if got := ss.stopList(); len(got) != 1 || got[0] != testTask+" sigint" {
		t.Errorf("stop requests %q when the process exited; want one for task %s and user sigint", got, testTask)
	}
	if cmd.ProcessState.ExitCode() != exitInterrupted {
		t.Errorf("exit: %v, want status %d; stderr %q", err, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stop requested for task "+testTask) {
		t.Errorf("stderr %q does not report the stop", stderr.String())
	}
}
