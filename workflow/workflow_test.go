package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/workflow"
)

// fake starts chatflowtest as a workflow app and returns a client of it.
func fake(t *testing.T, opts ...chatflow.Option) (*chatflowtest.Server, *workflow.Client) {
	t.Helper()
	s := chatflowtest.NewServer(chatflowtest.WithMode(chatflowtest.ModeWorkflow))
	t.Cleanup(s.Close)
	c, err := workflow.NewClient(s.APIKey, append([]chatflow.Option{chatflow.WithBaseURL(s.URL), chatflow.WithHTTPClient(s.Client())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestRunAgainstFake(t *testing.T) {
	t.Parallel()
	_, c := fake(t)
	res, err := c.Run(context.Background(), workflow.RunRequest{Inputs: map[string]any{"query": "ship it"}, User: "wu"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "succeeded" || res.Outputs["text"] != "You said: ship it" || res.RunID == "" || res.TaskID == "" || res.Paused || res.Resumed {
		t.Fatalf("result = %+v", res)
	}
	info, err := c.RunInfo(context.Background(), res.RunID)
	if err != nil || info.Status != "succeeded" {
		t.Fatalf("RunInfo = %+v, %v", info, err)
	}
}

func TestRunFailedAgainstFake(t *testing.T) {
	t.Parallel()
	s, c := fake(t)
	s.FailNextRun("no model")
	res, err := c.Run(context.Background(), workflow.RunRequest{User: "wu"})
	var ae *chatflow.APIError
	if !errors.As(err, &ae) || !errors.Is(err, chatflow.ErrBadRequest) {
		t.Fatalf("err = %v, want the error event as an APIError", err)
	}
	if res == nil || res.Status != "failed" || res.Error != "no model" {
		t.Fatalf("result = %+v", res)
	}
}

func TestRunResumesAfterCut(t *testing.T) {
	t.Parallel()
	s, c := fake(t)
	s.CutStreamAfter(3)
	st, err := c.StreamRun(context.Background(), workflow.RunRequest{Inputs: map[string]any{"query": "a b c d"}, User: "wu"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var last workflow.Event
	for ev, err := range st.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if k := dedupKey(ev); k != "" {
			if seen[k] {
				t.Errorf("event repeated after the resume: %s", ev.Raw())
			}
			seen[k] = true
		}
		last = ev
	}
	if !st.Resumed() || last.Name() != chatflow.EventWorkflowFinished {
		t.Fatalf("resumed = %v, last = %s", st.Resumed(), last.Name())
	}
}

// dedupKey names an event by its kind and execution id.
func dedupKey(ev workflow.Event) string {
	var v struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(ev.Raw(), &v)
	switch ev.Name() {
	case "workflow_started", "workflow_finished", "node_started", "node_finished":
		return ev.Name() + "/" + v.Data.ID
	}
	return ""
}

func TestPauseSubmitAndFollow(t *testing.T) {
	t.Parallel()
	s, c := fake(t)
	s.PauseNextRun()
	ctx := context.Background()
	res, err := c.Run(ctx, workflow.RunRequest{Inputs: map[string]any{"query": "ship it"}, User: "wu"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Paused || res.Status != "paused" || len(res.Forms) != 1 || res.Forms[0].Token == "" {
		t.Fatalf("paused result = %+v", res)
	}
	if err := c.SubmitHumanInputForm(ctx, res.Forms[0].Token, "wu", "approve", map[string]any{"note": "ok"}); err != nil {
		t.Fatal(err)
	}
	st, err := c.RunEvents(ctx, res.RunID, "wu")
	if err != nil {
		t.Fatal(err)
	}
	fin, err := st.Collect()
	if err != nil {
		t.Fatal(err)
	}
	if fin.Status != "succeeded" || fin.Paused || fin.Outputs["text"] != "You said: ship it" {
		t.Fatalf("followed result = %+v", fin)
	}
}

func TestModeRefusal(t *testing.T) {
	t.Parallel()
	s := chatflowtest.NewServer(chatflowtest.WithMode(chatflowtest.ModeCompletion))
	t.Cleanup(s.Close)
	c, err := workflow.NewClient(s.APIKey, chatflow.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(context.Background(), workflow.RunRequest{User: "u"})
	var ae *chatflow.APIError
	if !errors.As(err, &ae) || ae.Code != "not_workflow_app" {
		t.Fatalf("err = %v", err)
	}
}

// scripted is a workflow server whose run stream the test writes.
type scripted struct {
	mu      sync.Mutex
	bodies  []string // request bodies of the runs
	paths   []string
	stops   []string // bodies of the stop requests
	stopped chan struct{}
}

// runStream writes the events of a run; block makes it wait for the
// client to go away after them.
func (sc *scripted) server(t *testing.T, events []string, block bool) *httptest.Server {
	sc.stopped = make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sc.mu.Lock()
		sc.paths = append(sc.paths, r.Method+" "+r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/stop") {
			sc.stops = append(sc.stops, string(b))
			sc.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"result":"success"}`)
			sc.stopped <- struct{}{}
			return
		}
		sc.bodies = append(sc.bodies, string(b))
		sc.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			fmt.Fprintf(w, "data: %s\n\n", e)
		}
		w.(http.Flusher).Flush()
		if block {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (sc *scripted) stopCount() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.stops)
}

const (
	evStarted  = `{"event":"workflow_started","task_id":"t1","workflow_run_id":"r1","data":{"id":"r1","workflow_id":"w1"}}`
	evNode     = `{"event":"node_started","task_id":"t1","workflow_run_id":"r1","data":{"id":"n1","node_id":"start"}}`
	evFinished = `{"event":"workflow_finished","task_id":"t1","workflow_run_id":"r1","data":{"id":"r1","status":"succeeded","outputs":{"x":1},"total_tokens":7}}`
)

func scriptedClient(t *testing.T, url string) *workflow.Client {
	t.Helper()
	c, err := workflow.NewClient("app-test", chatflow.WithBaseURL(url+"/v1"), chatflow.WithResume(false))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRunRequestAndResult(t *testing.T) {
	t.Parallel()
	var sc scripted
	srv := sc.server(t, []string{evStarted, evNode, evFinished}, false)
	c := scriptedClient(t, srv.URL)
	res, err := c.Run(context.Background(), workflow.RunRequest{User: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "succeeded" || res.TotalTokens != 7 || res.Outputs["x"] != float64(1) || res.RunID != "r1" || res.TaskID != "t1" {
		t.Fatalf("result = %+v", res)
	}
	if _, err := c.Run(context.Background(), workflow.RunRequest{User: "u1", WorkflowID: "wf9", Inputs: map[string]any{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.paths[0] != "POST /v1/workflows/run" || sc.paths[1] != "POST /v1/workflows/wf9/run" {
		t.Errorf("paths = %v", sc.paths)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(sc.bodies[0]), &body); err != nil {
		t.Fatal(err)
	}
	if in, ok := body["inputs"].(map[string]any); !ok || len(in) != 0 || body["user"] != "u1" || body["response_mode"] != "streaming" {
		t.Errorf("body = %s", sc.bodies[0])
	}
	if len(sc.stops) != 0 {
		t.Errorf("stop after a normal end: %v", sc.stops)
	}
}

func TestAutoStopOnBreakCloseCancel(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"break", "close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			var sc scripted
			srv := sc.server(t, []string{evStarted, evNode}, true)
			c := scriptedClient(t, srv.URL)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st, err := c.StreamRun(ctx, workflow.RunRequest{User: "u7"})
			if err != nil {
				t.Fatal(err)
			}
			switch how {
			case "break":
				for range st.Events() {
					break
				}
			case "close":
				for _, err := range st.Events() {
					if err != nil {
						if !errors.Is(err, chatflow.ErrIncompleteStream) {
							t.Errorf("error after Close = %v", err)
						}
						break
					}
					st.Close()
				}
			case "cancel":
				var last error
				for _, err := range st.Events() {
					if err != nil {
						last = err
						break
					}
					cancel()
				}
				if !errors.Is(last, context.Canceled) || !errors.Is(last, chatflow.ErrIncompleteStream) {
					t.Errorf("error after cancel = %v", last)
				}
			}
			st.Close()
			select {
			case <-sc.stopped:
			case <-time.After(10 * time.Second):
				t.Fatal("no stop request")
			}
			st.Close()
			if n := sc.stopCount(); n != 1 {
				t.Fatalf("%d stop requests", n)
			}
			sc.mu.Lock()
			defer sc.mu.Unlock()
			if sc.stops[0] != `{"user":"u7"}` || sc.paths[len(sc.paths)-1] != "POST /v1/workflows/tasks/t1/stop" {
				t.Errorf("stop = %v %s", sc.paths, sc.stops[0])
			}
		})
	}
}

func TestCutWithoutResumeIsIncomplete(t *testing.T) {
	t.Parallel()
	var sc scripted
	srv := sc.server(t, []string{evStarted, evNode}, false)
	c := scriptedClient(t, srv.URL)
	res, err := c.Run(context.Background(), workflow.RunRequest{User: "u"})
	if !errors.Is(err, chatflow.ErrIncompleteStream) {
		t.Fatalf("err = %v, result = %+v", err, res)
	}
}

func TestTypedErrorsAndIDs(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":"unauthorized","message":"Invalid key","status":401}`)
	}))
	t.Cleanup(srv.Close)
	c := scriptedClient(t, srv.URL)
	_, err := c.Run(context.Background(), workflow.RunRequest{User: "u"})
	var ae *chatflow.APIError
	if !errors.As(err, &ae) || !errors.Is(err, chatflow.ErrUnauthorized) || ae.Code != "unauthorized" {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{"", ".", ".."} {
		if err := c.StopRun(context.Background(), bad, "u"); !errors.Is(err, chatflow.ErrInvalidID) {
			t.Errorf("StopRun(%q) = %v", bad, err)
		}
		if _, err := c.RunEvents(context.Background(), bad, "u"); !errors.Is(err, chatflow.ErrInvalidID) {
			t.Errorf("RunEvents(%q) = %v", bad, err)
		}
	}
	if _, err := c.Run(context.Background(), workflow.RunRequest{User: "u", WorkflowID: ".."}); !errors.Is(err, chatflow.ErrInvalidID) {
		t.Errorf("Run with WorkflowID .. = %v", err)
	}
}

func TestStopRunAndRunEventsRequests(t *testing.T) {
	t.Parallel()
	var sc scripted
	srv := sc.server(t, []string{evStarted, evFinished}, false)
	c := scriptedClient(t, srv.URL)
	if err := c.StopRun(context.Background(), "task-1", "u5"); err != nil {
		t.Fatal(err)
	}
	st, err := c.RunEvents(context.Background(), "r1", "u5")
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Collect()
	if err != nil || res.Status != "succeeded" {
		t.Fatalf("RunEvents = %+v, %v", res, err)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.paths[0] != "POST /v1/workflows/tasks/task-1/stop" || sc.stops[0] != `{"user":"u5"}` || sc.paths[1] != "GET /v1/workflow/r1/events" {
		t.Errorf("paths = %v stops = %v", sc.paths, sc.stops)
	}
}

func TestNoStopAfterNormalEndAgainstFake(t *testing.T) {
	t.Parallel()
	s, c := fake(t)
	st, err := c.StreamRun(context.Background(), workflow.RunRequest{Inputs: map[string]any{"query": "x"}, User: "wu"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Collect(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := st.WaitStop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, "/stop") {
			t.Errorf("stop after a normal end: %s", r.Path)
		}
	}
}

func TestResumeScripted(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		events := []string{evStarted, evNode} // then the connection drops
		if r.Method == http.MethodGet {
			mu.Lock()
			queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
			mu.Unlock()
			events = []string{evStarted, evNode,
				`{"event":"node_finished","task_id":"t1","workflow_run_id":"r1","data":{"id":"n1","node_id":"start","status":"succeeded"}}`,
				evFinished}
		}
		for _, e := range events {
			fmt.Fprintf(w, "data: %s\n\n", e)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := workflow.NewClient("app-test", chatflow.WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.StreamRun(context.Background(), workflow.RunRequest{User: "u8"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for ev, err := range st.Events() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name())
	}
	want := "workflow_started node_started node_finished workflow_finished"
	if got := strings.Join(names, " "); got != want || !st.Resumed() {
		t.Fatalf("events = %s (resumed %v), want %s", got, st.Resumed(), want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 1 || !strings.HasPrefix(queries[0], "/v1/workflow/r1/events?") || !strings.Contains(queries[0], "user=u8") || !strings.Contains(queries[0], "include_state_snapshot=true") {
		t.Errorf("reattach = %v", queries)
	}
}
