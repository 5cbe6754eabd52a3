package chatflow

// Resuming a stream after a dropped connection, against a server written
// here that behaves the way Dify does (SERVER_FACTS.md, "Reattaching to a
// run", "Disconnect and stop", "Recovering an answer"): the chat stream is
// cut in the middle of the run (the connection is hijacked and closed),
// the run goes on and stores its answer, GET /workflow/{id}/events serves
// the snapshot and the live events (or the single workflow_finished of an
// ended run), GET /workflows/run/{id} tells the run's state and GET
// /messages lists the stored message.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/difykit/chatflow/internal/stream"
)

// runServer is a fake Dify chatflow app with one run.
type runServer struct {
	t                            *testing.T
	runID, taskID, convID, msgID string
	user                         string
	chunks                       []string // the whole answer, as the model writes it
	cutAfter                     int      // deltas the chat stream sends before the cut
	lost                         int      // deltas produced while the client is away (never sent again)
	header                       bool     // send X-Workflow-Run-ID
	cutBeforeEvents              bool     // cut right after the headers
	mode                         string   // reattach: "running", "finished", "404" (never), "route404" (not served), "drop" (cut again), "500"
	first404                     int      // reattaches answered 404 before the mode applies
	pollRunning                  int      // run detail polls answered "running" before "succeeded"
	idleCut                      bool     // instead of cutting, fall silent (the client's idle timeout ends it)
	storeBeforeEnd               bool     // the message is stored before message_end (Dify's order)
	finishedOutputs              string   // outputs.answer of workflow_finished ("" means the answer)
	messagesFail                 bool     // GET /messages answers 404
	mu                           sync.Mutex
	stored                       string
	ended                        bool
	reattaches, polls, msgReads  int
	queries                      []string
	stopRecorder
	silent chan struct{} // closed when the test ends, for idleCut
}

func newRunServer(t *testing.T) *runServer {
	rs := &runServer{
		t:              t,
		runID:          uuidN(91, 1),
		taskID:         uuidN(91, 2),
		convID:         uuidN(91, 3),
		msgID:          uuidN(91, 4),
		user:           "user-r",
		chunks:         []string{"The ", "answer ", "is ", "forty", "-two", ", as ", "stored."},
		cutAfter:       2,
		lost:           2,
		header:         false, // Dify 1.16.1 sends no X-Workflow-Run-ID
		mode:           "running",
		storeBeforeEnd: true,
		stopRecorder:   stopRecorder{stopped: make(chan struct{}, 16)},
		silent:         make(chan struct{}),
	}
	t.Cleanup(func() { close(rs.silent) })
	return rs
}

func (rs *runServer) answer() string { return strings.Join(rs.chunks, "") }

func (rs *runServer) ev(v map[string]any) string {
	b, err := json.Marshal(v)
	if err != nil {
		rs.t.Fatal(err)
	}
	return "data: " + string(b) + "\n\n"
}

// event builds an event with the ids of a live event; taskID overrides the
// task id ("" leaves it out).
func (rs *runServer) event(name, taskID string, fields map[string]any) string {
	v := map[string]any{"event": name, "conversation_id": rs.convID, "message_id": rs.msgID, "created_at": 1767340000}
	if taskID != "" {
		v["task_id"] = taskID
	}
	for k, x := range fields {
		v[k] = x
	}
	return rs.ev(v)
}

func (rs *runServer) node(name, execID, nodeID string, detail bool) string {
	data := map[string]any{"id": execID, "node_id": nodeID, "node_type": "llm", "title": nodeID, "index": 1, "created_at": 1767340000}
	if detail {
		data["inputs"] = map[string]any{"q": "x"}
	} else {
		data["inputs"] = nil
	}
	if name == EventNodeFinished {
		data["status"] = "succeeded"
	}
	return rs.event(name, rs.taskID, map[string]any{"workflow_run_id": rs.runID, "data": data})
}

func (rs *runServer) workflowFinished(taskID string, withIDs bool) string {
	out := rs.finishedOutputs
	if out == "" {
		out = rs.answer()
	}
	v := map[string]any{"event": EventWorkflowFinished, "task_id": taskID, "workflow_run_id": rs.runID, "created_at": 1767340000,
		"data": map[string]any{"id": rs.runID, "workflow_id": "wf", "status": "succeeded", "outputs": map[string]any{"answer": out},
			"elapsed_time": 1.5, "total_tokens": 10, "total_steps": 4, "created_at": 1767340000, "finished_at": 1767340002}}
	if withIDs {
		v["conversation_id"], v["message_id"] = rs.convID, rs.msgID
	}
	return rs.ev(v)
}

func (rs *runServer) store() {
	rs.mu.Lock()
	rs.stored, rs.ended = rs.answer(), true
	rs.mu.Unlock()
}

func (rs *runServer) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ User string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.User != rs.user {
			rs.t.Errorf("chat user %q", body.User)
		}
		if rs.header {
			w.Header().Set("X-Workflow-Run-ID", rs.runID)
		}
		f := sseHeader(rs.t, w)
		if rs.cutBeforeEvents {
			cut(rs.t, w)
			return
		}
		write(w, f, rs.event(EventWorkflowStarted, rs.taskID, map[string]any{"workflow_run_id": rs.runID,
			"data": map[string]any{"id": rs.runID, "workflow_id": "wf", "created_at": 1767340000}}))
		write(w, f, rs.node(EventNodeStarted, "exec-start", "start", true)+rs.node(EventNodeFinished, "exec-start", "start", true))
		write(w, f, rs.node(EventNodeStarted, "exec-llm", "llm", true))
		for _, c := range rs.chunks[:rs.cutAfter] {
			write(w, f, rs.event(EventMessage, rs.taskID, map[string]any{"answer": c}))
		}
		if rs.idleCut {
			select {
			case <-rs.silent:
			case <-r.Context().Done():
			}
			return
		}
		cut(rs.t, w)
	})
	mux.HandleFunc("GET /workflow/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		rs.mu.Lock()
		rs.reattaches++
		n := rs.reattaches
		rs.queries = append(rs.queries, r.URL.RawQuery)
		rs.mu.Unlock()
		if r.PathValue("id") != rs.runID || q.Get("user") != rs.user {
			writeJSON(w, 404, `{"code":"not_found","message":"Workflow run not found","status":404}`)
			return
		}
		if n <= rs.first404 || rs.mode == "404" {
			writeJSON(w, 404, `{"code":"not_found","message":"Workflow run not found","status":404}`)
			return
		}
		if rs.mode == "route404" { // a server without the endpoint: Flask's route 404
			writeJSON(w, 404, `{"code":"not_found","message":"The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.","status":404}`)
			return
		}
		if rs.mode == "500" {
			writeJSON(w, 500, `{"code":"internal_server_error","message":"boom","status":500}`)
			return
		}
		f := sseHeader(rs.t, w)
		if rs.mode == "finished" {
			rs.store()
			write(w, f, rs.workflowFinished(rs.runID, false))
			return
		}
		if !strings.EqualFold(q.Get("include_state_snapshot"), "true") {
			write(w, f, "event: ping\n\n")
		} else {
			// The snapshot: rebuilt, task_id the run id, details null.
			write(w, f, rs.event(EventWorkflowStarted, rs.runID, map[string]any{"workflow_run_id": rs.runID,
				"data": map[string]any{"id": rs.runID, "workflow_id": "wf", "created_at": 1767340000}}))
			write(w, f, rs.event(EventMessageReplace, rs.runID, map[string]any{"answer": "", "reason": ""}))
			write(w, f, rs.node(EventNodeStarted, "exec-start", "start", false)+rs.node(EventNodeFinished, "exec-start", "start", false))
			write(w, f, rs.node(EventNodeStarted, "exec-llm", "llm", false))
		}
		if rs.mode == "drop" {
			cut(rs.t, w)
			return
		}
		for _, c := range rs.chunks[rs.cutAfter+rs.lost:] {
			write(w, f, rs.event(EventMessage, rs.taskID, map[string]any{"answer": c}))
		}
		write(w, f, rs.node(EventNodeFinished, "exec-llm", "llm", true))
		if rs.storeBeforeEnd {
			rs.store()
		}
		write(w, f, rs.event(EventMessageEnd, rs.taskID, map[string]any{"id": rs.msgID, "metadata": map[string]any{"usage": map[string]any{"total_tokens": 10}}}))
		write(w, f, rs.workflowFinished(rs.taskID, true))
		rs.store()
	})
	mux.HandleFunc("GET /workflows/run/{id}", func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.polls++
		running := rs.polls <= rs.pollRunning
		rs.mu.Unlock()
		if r.PathValue("id") != rs.runID {
			writeJSON(w, 404, `{"code":"not_found","message":"Workflow run not found","status":404}`)
			return
		}
		status, finished := "running", "null"
		if !running {
			rs.store()
			status, finished = "succeeded", "1767340002"
		}
		out, _ := json.Marshal(rs.answer())
		writeJSON(w, 200, fmt.Sprintf(`{"id":%q,"workflow_id":"wf","status":%q,"inputs":{},"outputs":{"answer":%s},"error":null,"total_steps":4,"total_tokens":10,"created_at":1767340000,"finished_at":%s,"elapsed_time":1.5}`,
			rs.runID, status, out, finished))
	})
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		rs.mu.Lock()
		rs.msgReads++
		stored, ended := rs.stored, rs.ended
		rs.mu.Unlock()
		if rs.messagesFail || q.Get("conversation_id") != rs.convID || q.Get("user") != rs.user {
			writeJSON(w, 404, `{"code":"not_found","message":"Conversation Not Exists.","status":404}`)
			return
		}
		if !ended {
			stored = "" // stored at the start with an empty answer
		}
		other, _ := json.Marshal(map[string]any{"id": uuidN(91, 9), "conversation_id": rs.convID, "query": "earlier", "answer": "earlier answer", "status": "normal", "created_at": 1767330000})
		mine, _ := json.Marshal(map[string]any{"id": rs.msgID, "conversation_id": rs.convID, "query": "q", "answer": stored, "status": "normal", "created_at": 1767340000})
		writeJSON(w, 200, `{"limit":20,"has_more":false,"data":[`+string(other)+`,`+string(mine)+`]}`)
	})
	rs.handle(mux)
}

// resumeClient starts rs and returns a client for it.
func resumeClient(t *testing.T, rs *runServer, opts ...Option) *Client {
	t.Helper()
	c, mux, _ := setup(t, opts...)
	rs.register(mux)
	return c
}

func (rs *runServer) request() ChatRequest { return ChatRequest{Query: "q", User: rs.user} }

// checkReply checks the reply of a resumed run.
func (rs *runServer) checkReply(t *testing.T, r *Reply, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("err = %v; reply %+v", err, r)
	}
	if r.Answer != rs.answer() || r.AnswerFromOutputs {
		t.Errorf("answer %q (from outputs: %v), want the stored %q", r.Answer, r.AnswerFromOutputs, rs.answer())
	}
	if r.ConversationID != rs.convID || r.MessageID != rs.msgID || r.TaskID != rs.taskID || r.WorkflowRunID != rs.runID {
		t.Errorf("ids: conversation %q message %q task %q run %q", r.ConversationID, r.MessageID, r.TaskID, r.WorkflowRunID)
	}
	if !r.Resumed || r.WorkflowStatus != "succeeded" || !r.WorkflowFinished {
		t.Errorf("resumed %v, status %q, finished %v", r.Resumed, r.WorkflowStatus, r.WorkflowFinished)
	}
}

// TestResumeSendMessage: the connection drops in the middle of the run;
// SendMessage reattaches (snapshot, then live events that lack the text
// produced meanwhile) and returns the answer the server stored.
func TestResumeSendMessage(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	c := resumeClient(t, rs)
	r, err := c.SendMessage(context.Background(), rs.request())
	rs.checkReply(t, r, err)
	if r.Usage.TotalTokens != 10 || !r.MessageEnded {
		t.Errorf("usage %+v, message_end %v", r.Usage, r.MessageEnded)
	}
	if rs.reattaches != 1 || !strings.Contains(rs.queries[0], "include_state_snapshot=true") {
		t.Errorf("reattaches %d, queries %v", rs.reattaches, rs.queries)
	}
	if s := rs.stopList(); len(s) != 0 {
		t.Errorf("a dropped connection sent stop requests: %v", s)
	}
}

// TestResumeEvents: the events loop goes on after the drop without the
// events already seen, and ends with a message_replace carrying the
// stored answer, then the terminal events.
func TestResumeEvents(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.header = true // a server that names the run in a header: the run id is known at once
	c := resumeClient(t, rs)
	s, err := c.StreamMessage(context.Background(), rs.request())
	if err != nil {
		t.Fatal(err)
	}
	if s.RunID() != rs.runID {
		t.Errorf("RunID before any event = %q", s.RunID())
	}
	var names []string
	var text strings.Builder
	seen := YieldedOnce{}
	replaces := 0
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatalf("after %v: %v", names, err)
		}
		names = append(names, ev.Name())
		switch ev.Name() {
		case EventNodeStarted, EventNodeFinished, EventWorkflowStarted:
			seen.Check(t, ev)
		case EventMessage:
			text.WriteString(ev.Text())
		case EventMessageReplace:
			m, err := ev.MessageReplace()
			if err != nil || m.Reason != ReasonResumed {
				t.Errorf("message_replace %+v, %v", m, err)
			}
			replaces++
			text.Reset()
			text.WriteString(m.Answer)
		}
	}
	if len(names) == 0 || names[len(names)-1] != EventWorkflowFinished {
		t.Errorf("events %v do not end with a terminal event", names)
	}
	if replaces != 1 || text.String() != rs.answer() {
		t.Errorf("%d message_replace, text %q; want one and %q", replaces, text.String(), rs.answer())
	}
	// The replacement comes before the terminal events.
	want := []string{EventMessageReplace, EventMessageEnd, EventWorkflowFinished}
	if got := names[len(names)-3:]; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("last events %v, want %v", got, want)
	}
	if !seen[EventNodeFinished+" exec-llm"] || !s.Resumed() || s.TaskID() != rs.taskID {
		t.Errorf("node_finished of llm seen: %v, resumed %v, task %q", seen[EventNodeFinished+" exec-llm"], s.Resumed(), s.TaskID())
	}
	if st := rs.stopList(); len(st) != 0 {
		t.Errorf("stops %v", st)
	}
}

// TestResumeWholeAnswerNoReplace: when nothing was lost, no
// message_replace is added.
func TestResumeWholeAnswerNoReplace(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.lost = 0
	c := resumeClient(t, rs)
	s, err := c.StreamMessage(context.Background(), rs.request())
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name() == EventMessageReplace {
			t.Errorf("message_replace %s", ev.Raw())
		}
		text.WriteString(ev.Text())
	}
	if text.String() != rs.answer() || !s.Resumed() {
		t.Errorf("text %q, resumed %v", text.String(), s.Resumed())
	}
}

// TestResumeFinishedRun: by the time the client reattaches the run has
// ended: the server sends one workflow_finished, without conversation or
// message id and with the run id as task_id. The answer comes from GET
// /messages; the task id stays the real one.
func TestResumeFinishedRun(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.mode = "finished"
	rs.finishedOutputs = "outputs differ from the stored answer"
	c := resumeClient(t, rs)
	r, err := c.SendMessage(context.Background(), rs.request())
	rs.checkReply(t, r, err)
	if r.MessageEnded {
		t.Error("message_end reported, but none came")
	}
}

// TestResumeAnswerFromOutputs: the stored message cannot be read: the
// answer is outputs.answer, and the reply says so.
func TestResumeAnswerFromOutputs(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.mode = "finished"
	rs.messagesFail = true
	c := resumeClient(t, rs)
	r, err := c.SendMessage(context.Background(), rs.request())
	if err != nil || r.Answer != rs.answer() || !r.AnswerFromOutputs || !r.Resumed {
		t.Fatalf("reply %+v, %v", r, err)
	}
}

// TestResumeCutBeforeEvents: the connection drops right after the headers:
// the run id of X-Workflow-Run-ID is enough to reattach; the snapshot's
// task_id (the run id) never becomes the task id, the live events' does.
func TestResumeCutBeforeEvents(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.header = true
	rs.cutBeforeEvents, rs.cutAfter, rs.lost = true, 0, 3
	c := resumeClient(t, rs)
	r, err := c.SendMessage(context.Background(), rs.request())
	rs.checkReply(t, r, err)
}

// TestResumeCutBeforeEventsNoHeader: the released server names the run in
// no header, so a connection that drops before the first event cannot be
// resumed: an error matching ErrIncompleteStream, never a silent success.
func TestResumeCutBeforeEventsNoHeader(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.cutBeforeEvents, rs.cutAfter, rs.lost = true, 0, 3
	c := resumeClient(t, rs)
	r, err := c.SendMessage(context.Background(), rs.request())
	if !errors.Is(err, ErrIncompleteStream) || r == nil || r.Answer != "" {
		t.Errorf("reply %+v, err %v; want ErrIncompleteStream", r, err)
	}
}

// TestResumeRunIDFromEvents: a server without the header; the run id of
// the first workflow event serves.
func TestResumeRunIDFromEvents(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.header = false
	c := resumeClient(t, rs)
	s, err := c.StreamMessage(context.Background(), rs.request())
	if err != nil {
		t.Fatal(err)
	}
	if s.RunID() != "" {
		t.Errorf("RunID before any event = %q", s.RunID())
	}
	r, err := s.Collect()
	rs.checkReply(t, r, err)
	if s.RunID() != rs.runID {
		t.Errorf("RunID = %q", s.RunID())
	}
}

// TestResumePolling: reattaching answers 404 (an older server): the run's
// state is polled until it has ended, then the stored answer is read.
func TestResumePolling(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.mode, rs.pollRunning = "404", 3
	c := resumeClient(t, rs)
	s, err := c.StreamMessage(noWait(context.Background()), rs.request())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name())
	}
	if n := len(names); n < 2 || names[n-2] != EventMessageReplace || names[n-1] != EventWorkflowFinished {
		t.Errorf("events %v", names)
	}
	s2, err := c.StreamMessage(noWait(context.Background()), rs.request())
	if err != nil {
		t.Fatal(err)
	}
	rs.polls = 0
	r, err := s2.Collect()
	rs.checkReply(t, r, err)
	if rs.polls != 4 {
		t.Errorf("%d polls, want 4", rs.polls)
	}
}

// TestResumeRoute404: a server that does not serve the reattach endpoint
// (a route-level 404, ErrEndpointNotFound) is polled like one that answers
// 404 for the run, and the stored answer is read.
func TestResumeRoute404(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.mode, rs.pollRunning = "route404", 1
	c := resumeClient(t, rs)
	s, err := c.StreamMessage(noWait(context.Background()), rs.request())
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Collect()
	rs.checkReply(t, r, err)
	if rs.polls < 2 {
		t.Errorf("%d polls of the run's state, want at least 2", rs.polls)
	}
}

// TestResume404RightAfterTheDrop: the first reattach answers 404, the run
// is still going, the next reattach works.
func TestResume404RightAfterTheDrop(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.first404, rs.pollRunning = 1, 100
	c := resumeClient(t, rs)
	r, err := c.SendMessage(noWait(context.Background()), rs.request())
	rs.checkReply(t, r, err)
	if rs.reattaches != 2 || rs.polls != 1 {
		t.Errorf("reattaches %d, polls %d", rs.reattaches, rs.polls)
	}
}

// TestResumeIdleTimeout: a connection that falls silent (a proxy that
// keeps it open) ends on the idle timeout, which is a drop: it resumes.
func TestResumeIdleTimeout(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.idleCut = true
	c, mux := rawSetup(t, WithIdleTimeout(200*time.Millisecond))
	rs.register(mux)
	r, err := c.SendMessage(context.Background(), rs.request())
	rs.checkReply(t, r, err)
	if s := rs.stopList(); len(s) != 0 {
		t.Errorf("stops %v", s)
	}
}

// TestResumeOff: WithResume(false) keeps the old behaviour.
func TestResumeOff(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	c := resumeClient(t, rs, WithResume(false))
	r, err := c.SendMessage(context.Background(), rs.request())
	if !errors.Is(err, ErrIncompleteStream) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want ErrIncompleteStream", err)
	}
	if r == nil || r.Answer != "The answer " || r.Resumed {
		t.Errorf("reply %+v", r)
	}
	if rs.reattaches != 0 || rs.polls != 0 || len(rs.stopList()) != 0 {
		t.Errorf("reattaches %d, polls %d, stops %v", rs.reattaches, rs.polls, rs.stopList())
	}
}

// TestResumeBounded: a run that cannot be resumed ends with an error that
// wraps ErrIncompleteStream, after a bounded number of attempts.
func TestResumeBounded(t *testing.T) {
	leakCheck(t)
	for _, mode := range []string{"drop", "500"} {
		t.Run(mode, func(t *testing.T) {
			rs := newRunServer(t)
			rs.mode, rs.pollRunning = mode, 1<<30
			c := resumeClient(t, rs)
			r, err := c.SendMessage(noWait(context.Background()), rs.request())
			if !errors.Is(err, ErrIncompleteStream) || r == nil || r.Answer != "The answer " {
				t.Fatalf("reply %+v, err %v", r, err)
			}
			if !strings.Contains(err.Error(), "resuming failed") {
				t.Errorf("err = %v", err)
			}
			if rs.reattaches > stream.MaxResumes+stream.MaxResumeFailures || rs.reattaches == 0 {
				t.Errorf("%d reattaches", rs.reattaches)
			}
			if len(rs.stopList()) != 0 {
				t.Errorf("stops %v", rs.stopList())
			}
		})
	}
}

// TestResumeCancelled: the caller's context ends while the stream waits
// to reattach: the call returns at once with the context's error, and the
// abandoned run is stopped.
func TestResumeCancelled(t *testing.T) {
	leakCheck(t)
	rs := newRunServer(t)
	rs.mode, rs.pollRunning = "404", 1<<30
	c := resumeClient(t, rs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiting := make(chan struct{})
	var once sync.Once
	ctx = context.WithValue(ctx, sleepKey{}, sleepFunc(func(ctx context.Context, _ time.Duration) error {
		once.Do(func() { close(waiting) })
		<-ctx.Done()
		return ctx.Err()
	}))
	go func() {
		<-waiting
		cancel()
	}()
	r, err := c.SendMessage(ctx, rs.request())
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrIncompleteStream) || r == nil {
		t.Fatalf("reply %+v, err %v", r, err)
	}
	wait(t, chanOf(rs.stopped), "the stop request")
	if s := rs.stopList(); len(s) != 1 || s[0] != rs.taskID+" "+rs.user {
		t.Errorf("stops %v", s)
	}
}

// TestWorkflowEventsOptions: the flags WorkflowEvents sends.
func TestWorkflowEventsOptions(t *testing.T) {
	t.Parallel()
	// A server without the spec's validation, which fills in the
	// parameters' defaults.
	c, mux := rawSetup(t)
	got := make(chan string, 4)
	mux.HandleFunc("GET /workflow/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query().Encode() // sorted
		f := sseHeader(t, w)
		write(w, f, `data: {"event":"workflow_finished","task_id":"`+testRunID+`","workflow_run_id":"`+testRunID+`","data":{"id":"`+testRunID+`","status":"succeeded","outputs":{"answer":"from outputs"}}}`+"\n\n")
	})
	for _, tt := range []struct {
		opts []WorkflowEventsOption
		want string
	}{
		{nil, "include_state_snapshot=true&user=u"},
		{[]WorkflowEventsOption{WithStateSnapshot(false)}, "user=u"},
		{[]WorkflowEventsOption{WithContinueOnPause(true)}, "continue_on_pause=true&include_state_snapshot=true&user=u"},
		{[]WorkflowEventsOption{WithStateSnapshot(true), WithContinueOnPause(false)}, "include_state_snapshot=true&user=u"},
	} {
		s, err := c.WorkflowEvents(context.Background(), testRunID, "u", tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if s.RunID() != testRunID {
			t.Errorf("RunID %q", s.RunID())
		}
		r, err := s.Collect()
		if q := <-got; q != tt.want {
			t.Errorf("flags %q, want %q", q, tt.want)
		}
		// A finished run: one workflow_finished, the answer only in outputs.
		if err != nil || r.Answer != "from outputs" || !r.AnswerFromOutputs || r.TaskID != "" || r.WorkflowRunID != testRunID {
			t.Errorf("reply %+v, %v", r, err)
		}
	}
}
