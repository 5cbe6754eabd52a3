package stream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/transport"
)

// The engine's tests use a workflow app's and a completion app's
// vocabularies: the chat app's is package chatflow's, tested there.

var names = map[string]string{}

func init() {
	for _, n := range []string{"ping", "error", "message", "message_end", "message_replace", "text_chunk",
		"workflow_started", "node_started", "node_finished", "workflow_finished", "workflow_paused"} {
		names[n] = n
	}
}

// workflowEvents: ends at workflow_finished or workflow_paused, text in
// text_chunk (data.text), no stored answer.
var workflowEvents = &Vocabulary{
	Names: names, Ping: "ping", PingData: `{"event":"ping"}`, Error: "error",
	Terminal:    []string{"workflow_finished", "workflow_paused"},
	RunFinished: "workflow_finished", RunPaused: "workflow_paused",
	Text: map[string]func(string) string{"text_chunk": func(data string) string {
		i := strings.Index(data, `"data":`)
		if i < 0 {
			return ""
		}
		return jsonscan.TopLevelString(data[i+len(`"data":`):len(data)-1], "text")
	}},
}

// completionEvents: ends at message_end, text in message.
var completionEvents = &Vocabulary{
	Names: names, Ping: "ping", PingData: `{"event":"ping"}`, Error: "error",
	Terminal:  []string{"message_end"},
	AnswerEnd: "message_end",
	Text: map[string]func(string) string{"message": func(data string) string {
		return jsonscan.TopLevelString(data, "answer")
	}},
	Replace:     "message_replace",
	ReplaceText: func(data string) (string, bool) { return jsonscan.TopLevelString(data, "answer"), true },
}

// eventStream is a reply whose body is body.
func eventStream(body io.Reader) *http.Response {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(body), Request: &http.Request{Method: "POST", URL: mustURL("http://127.0.0.1/v1/run")}}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// server is a Server whose reattach replies are scripted.
type server struct {
	mu        sync.Mutex
	reattach  []string // bodies of the next reattaches
	lastIDs   []string // the Last-Event-ID of each reattach
	liveOnly  []bool
	stops     []string
	runState  RunState
	reattachN int
	stopped   chan struct{} // closed by the first stop, when not nil
}

func (s *server) Reattach(ctx context.Context, runID string, opts ReattachOptions) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastIDs = append(s.lastIDs, opts.LastEventID)
	s.liveOnly = append(s.liveOnly, opts.LiveOnly)
	if s.reattachN >= len(s.reattach) {
		return nil, &transport.APIError{StatusCode: 404, Code: "not_found"}
	}
	s.reattachN++
	return eventStream(strings.NewReader(s.reattach[s.reattachN-1])), nil
}

func (s *server) RunState(ctx context.Context, runID string) (RunState, error) {
	return s.runState, nil
}

func (s *server) StoredAnswer(ctx context.Context, conversationID, messageID string) (string, bool) {
	return "", false
}

func (s *server) Stop(ctx context.Context, taskID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stops = append(s.stops, taskID)
	if len(s.stops) == 1 && s.stopped != nil {
		close(s.stopped)
	}
	return nil
}

func (s *server) stopList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.stops...)
}

// open opens a stream of body with cfg.
func open(t *testing.T, ctx context.Context, cfg Config, body io.Reader) *Stream {
	t.Helper()
	cfg.MaxEventBytes = 1 << 16
	s, err := Open(ctx, cfg, func(context.Context) (*http.Response, error) { return eventStream(body), nil })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// read returns the names of the events of s and its error.
func read(s *Stream) (evs []string, err error) {
	for ev, err := range s.Events() {
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev.Name)
	}
	return evs, nil
}

var errReset = errors.New("connection reset by peer")

// cut is body, then a read error.
func cut(body string) io.Reader {
	return io.MultiReader(strings.NewReader(body), iotest.ErrReader(errReset))
}

const (
	wfStarted  = `data: {"event":"workflow_started","task_id":"t1","workflow_run_id":"r1","data":{"id":"r1"}}` + "\n\n"
	wfNode     = `data: {"event":"node_started","task_id":"t1","workflow_run_id":"r1","data":{"id":"n1"}}` + "\n\n"
	wfText     = `data: {"event":"text_chunk","task_id":"t1","workflow_run_id":"r1","data":{"text":"Hi"}}` + "\n\n"
	wfFinished = `data: {"event":"workflow_finished","task_id":"t1","workflow_run_id":"r1","data":{"id":"r1","status":"succeeded","elapsed_time":1.5}}` + "\n\n"
)

// A cut workflow stream reattaches and yields no event twice: those the
// snapshot repeats are dropped by key, those a server replays by SSE id,
// and the last SSE id is sent back.
func TestResumeWorkflow(t *testing.T) {
	t.Parallel()
	srv := &server{reattach: []string{
		"id: 1\n" + wfStarted + "id: 2\n" + wfNode + "id: 3\n" + wfText + "id: 4\n" + wfText + wfFinished,
	}}
	s := open(t, context.Background(), Config{Vocabulary: workflowEvents, Server: srv, Resume: true, AutoStop: true},
		cut("id: 1\n"+wfStarted+"id: 2\n"+wfNode+"id: 3\n"+wfText))
	evs, err := read(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(evs, " "), "workflow_started node_started text_chunk text_chunk workflow_finished"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	if !s.Resumed() || s.TaskID() != "t1" || s.RunID() != "r1" {
		t.Errorf("resumed %v, task %q, run %q", s.Resumed(), s.TaskID(), s.RunID())
	}
	if len(srv.lastIDs) != 1 || srv.lastIDs[0] != "3" {
		t.Errorf("Last-Event-IDs %q, want [3]", srv.lastIDs)
	}
	if rec := s.Recovery(); rec.Resumes != 1 || !rec.Reattached || !rec.SawText {
		t.Errorf("recovery %+v", rec)
	}
	if tm := s.Timing(); tm.RunElapsed != 1500*time.Millisecond || tm.FirstText.IsZero() {
		t.Errorf("timing %+v", tm)
	}
	if stops := srv.stopList(); len(stops) != 0 {
		t.Errorf("stops %q after a normal end", stops)
	}
}

// A run that ended while the connection was down, on a server that cannot
// reattach, ends with its final event rebuilt from the run's state.
func TestResumeFromRunState(t *testing.T) {
	t.Parallel()
	srv := &server{runState: RunState{Status: "succeeded", Elapsed: time.Second, Data: map[string]any{"status": "succeeded"}}}
	s := open(t, context.Background(), Config{Vocabulary: workflowEvents, Server: srv, Resume: true}, cut(wfStarted))
	var last Event
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		last = ev
	}
	if last.Name != "workflow_finished" || jsonscan.TopLevelString(last.Data, "workflow_run_id") != "r1" ||
		jsonscan.TopLevelString(last.Data, "task_id") != "t1" {
		t.Errorf("last event %+v", last)
	}
	if s.Timing().RunElapsed != time.Second {
		t.Errorf("run elapsed %v", s.Timing().RunElapsed)
	}
}

// A completion stream cannot resume: a cut is an error matching
// ErrIncompleteStream and the cause, and nothing is reattached.
func TestNoResumeIsIncomplete(t *testing.T) {
	t.Parallel()
	srv := &server{}
	s := open(t, context.Background(), Config{Vocabulary: completionEvents, Server: srv, AutoStop: true},
		cut(`data: {"event":"message","task_id":"t1","answer":"Hi"}`+"\n\n"))
	evs, err := read(s)
	if !errors.Is(err, ErrIncompleteStream) || !errors.Is(err, errReset) || len(evs) != 1 {
		t.Fatalf("events %q, err %v", evs, err)
	}
	if len(srv.lastIDs) != 0 {
		t.Errorf("%d reattaches", len(srv.lastIDs))
	}
	// The end without message_end names the terminal event.
	s = open(t, context.Background(), Config{Vocabulary: completionEvents}, strings.NewReader(""))
	if _, err := read(s); !errors.Is(err, ErrIncompleteStream) || !strings.Contains(err.Error(), "without message_end") {
		t.Errorf("err %v", err)
	}
}

// Breaking out of the loop before the end stops the run once, with the
// task id; a normal end stops nothing.
func TestAutoStop(t *testing.T) {
	t.Parallel()
	srv := &server{}
	s := open(t, context.Background(), Config{Vocabulary: completionEvents, Server: srv, AutoStop: true},
		strings.NewReader(`data: {"event":"message","task_id":"t1","answer":"Hi"}`+"\n\n"))
	for range s.Events() {
		break
	}
	_ = s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.WaitStop(ctx); err != nil {
		t.Fatal(err)
	}
	if stops := srv.stopList(); len(stops) != 1 || stops[0] != "t1" {
		t.Errorf("stops %q, want [t1]", stops)
	}

	srv = &server{}
	s = open(t, context.Background(), Config{Vocabulary: completionEvents, Server: srv, AutoStop: true},
		strings.NewReader(`data: {"event":"message","task_id":"t1","answer":"Hi"}`+"\n\n"+`data: {"event":"message_end","task_id":"t1"}`+"\n\n"))
	if _, err := read(s); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if err := s.WaitStop(ctx); err != nil || len(srv.stopList()) != 0 {
		t.Errorf("stops %q after a normal end (%v)", srv.stopList(), err)
	}
}

// A reply that is not an event stream is an error wrapping
// ErrNotEventStream, with the page's message.
func TestNotEventStream(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), Config{Vocabulary: completionEvents, MaxEventBytes: 1 << 10}, func(context.Context) (*http.Response, error) {
		resp := eventStream(strings.NewReader(`{"message":"blocked by proxy"}`))
		resp.Header.Set("Content-Type", "application/json")
		return resp, nil
	})
	if !errors.Is(err, ErrNotEventStream) || !strings.Contains(err.Error(), "blocked by proxy") {
		t.Errorf("err %v", err)
	}
}

func TestDifyEventKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, data, want string }{
		{"message_end", `{"id":"m"}`, "message_end"},
		{"message", `{"id":"m"}`, ""},
		{"text_chunk", `{"data":{"id":"x"}}`, ""},
		{"node_started", `{"data":{"id":"n1"}}`, "node_started\x00n1"},
		{"human_input_required", `{"data":{"id":"n1","form_token":"f"}}`, "human_input_required\x00f"},
		{"iteration_next", `{"data":{"id":"i","index":2}}`, "iteration_next\x00i\x002"},
		{"node_retry", `{"data":{"id":"n","retry_index":1}}`, "node_retry\x00n\x001"},
		{"message_file", `{"id":"f1"}`, "message_file\x00f1"},
		{"node_started", `{"data":{}}`, ""},
		{"node_started", `not json`, ""},
	} {
		if got := DifyEventKey(tt.name, tt.data); got != tt.want {
			t.Errorf("DifyEventKey(%s, %s) = %q, want %q", tt.name, tt.data, got, tt.want)
		}
	}
}

// A caller that gives up before the reply's headers gets its context's
// error at once; the reply is awaited in the background and its run
// stopped once an event carries the task id.
func TestGiveUpBeforeHeaders(t *testing.T) {
	t.Parallel()
	srv := &server{stopped: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	sending, headers := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := Open(ctx, Config{Vocabulary: completionEvents, Server: srv, AutoStop: true, MaxEventBytes: 1 << 10},
			func(context.Context) (*http.Response, error) {
				close(sending)
				<-headers
				return eventStream(strings.NewReader(`data: {"event":"message","task_id":"t1","answer":"Hi"}` + "\n\n")), nil
			})
		errc <- err
	}()
	<-sending
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Open = %v, want context.Canceled", err)
	}
	close(headers)
	select {
	case <-srv.stopped:
	case <-time.After(time.Minute):
		t.Fatal("no stop request")
	}
	if stops := srv.stopList(); len(stops) != 1 || stops[0] != "t1" {
		t.Errorf("stops %q, want [t1]", stops)
	}
}
