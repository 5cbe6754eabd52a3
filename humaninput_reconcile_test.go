package chatflow

// After a human-input form is submitted, the run resumes on the server at
// once and may send answer text before the client's reattach
// (WorkflowEvents) subscribes: that text is never sent again. The stream
// cannot prove it saw every piece, so at the run's end it reconciles the
// answer with the one the server stored and says so.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// formRunServer is one chatflow run that pauses for a form. lost pieces of
// the answer are produced between the submit and the reattach.
type formRunServer struct {
	t           *testing.T
	before      string   // the answer before the pause (stored at the pause)
	lost        []string // produced before the reattach subscribed
	after       []string // sent on the reattach
	messages404 bool     // GET /messages fails: only workflow_finished's outputs remain
	mu          sync.Mutex
	stored      string
	submitted   bool
}

const (
	frRun, frTask, frConv, frMsg = "f0000000-0000-4000-8000-000000000001", "f0000000-0000-4000-8000-000000000002", "f0000000-0000-4000-8000-000000000003", "f0000000-0000-4000-8000-000000000004"
	frUser, frToken              = "user-form", "form-token-1"
)

func (fs *formRunServer) full() string {
	return fs.before + strings.Join(fs.lost, "") + strings.Join(fs.after, "")
}

func (fs *formRunServer) ev(name, task string, extra map[string]any) string {
	v := map[string]any{"event": name, "task_id": task, "workflow_run_id": frRun, "conversation_id": frConv, "message_id": frMsg, "created_at": 1}
	for k, x := range extra {
		v[k] = x
	}
	b, _ := json.Marshal(v)
	return "data: " + string(b) + "\n\n"
}

func (fs *formRunServer) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(fs.t, w)
		write(w, f, fs.ev(EventWorkflowStarted, frTask, map[string]any{"data": map[string]any{"id": frRun}}))
		write(w, f, fs.ev(EventMessage, frTask, map[string]any{"answer": fs.before}))
		write(w, f, fs.ev(EventHumanInputRequired, frTask, map[string]any{"data": map[string]any{"form_token": frToken, "form_content": "Approve?", "node_id": "n", "node_title": "Ask"}}))
		fs.mu.Lock()
		fs.stored = fs.before // stored at the pause
		fs.mu.Unlock()
		write(w, f, fs.ev(EventWorkflowPaused, frTask, map[string]any{"data": map[string]any{"workflow_run_id": frRun, "status": "paused"}}))
	})
	mux.HandleFunc("POST /form/human_input/{token}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("token") != frToken {
			writeJSON(w, 404, `{"code":"not_found","message":"Form not found","status":404}`)
			return
		}
		fs.mu.Lock()
		fs.submitted = true
		fs.mu.Unlock()
		writeJSON(w, 200, `{}`)
	})
	mux.HandleFunc("GET /workflow/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != frRun || r.URL.Query().Get("user") != frUser {
			writeJSON(w, 404, `{"code":"not_found","message":"Workflow run not found","status":404}`)
			return
		}
		fs.mu.Lock()
		stored := fs.stored
		fs.mu.Unlock()
		f := sseHeader(fs.t, w)
		// The snapshot, then the live events: fs.lost went out before.
		write(w, f, fs.ev(EventWorkflowStarted, frRun, map[string]any{"data": map[string]any{"id": frRun}}))
		write(w, f, fs.ev(EventMessageReplace, frRun, map[string]any{"answer": stored, "reason": ""}))
		for _, p := range fs.after {
			write(w, f, fs.ev(EventMessage, frTask, map[string]any{"answer": p}))
		}
		fs.mu.Lock()
		fs.stored = fs.full()
		fs.mu.Unlock()
		write(w, f, fs.ev(EventMessageEnd, frTask, map[string]any{"id": frMsg, "metadata": map[string]any{"usage": map[string]any{"total_tokens": 7}}}))
		write(w, f, fs.ev(EventWorkflowFinished, frTask, map[string]any{"data": map[string]any{"id": frRun, "status": "succeeded", "outputs": map[string]any{"answer": fs.full()}}}))
	})
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		if fs.messages404 || r.URL.Query().Get("conversation_id") != frConv {
			writeJSON(w, 404, `{"code":"not_found","message":"Conversation Not Exists.","status":404}`)
			return
		}
		fs.mu.Lock()
		stored := fs.stored
		fs.mu.Unlock()
		b, _ := json.Marshal(map[string]any{"id": frMsg, "conversation_id": frConv, "query": "q", "answer": stored, "status": "normal", "created_at": 1})
		writeJSON(w, 200, `{"limit":20,"has_more":false,"data":[`+string(b)+`]}`)
	})
}

// roundTrip sends the chat message, submits the form and reads the
// resumed run with Events (the names of the events, a message_replace with
// its reason, and the text they carry) and, in a second round trip on a
// fresh run, with Collect.
func (fs *formRunServer) roundTrip(t *testing.T) (*Reply, []string) {
	t.Helper()
	var names []string
	var text strings.Builder
	s := fs.resumed(t)
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatalf("after %v: %v", names, err)
		}
		names = append(names, ev.Name())
		switch ev.Name() {
		case EventMessage:
			text.WriteString(ev.Text())
		case EventMessageReplace:
			m, _ := ev.MessageReplace()
			names[len(names)-1] += "(" + m.Reason + ")"
			text.Reset()
			text.WriteString(m.Answer)
		}
	}
	if text.String() != fs.full() {
		t.Errorf("the events' text is %q, want the whole answer %q", text.String(), fs.full())
	}
	reply, err := fs.resumed(t).Collect()
	if err != nil {
		t.Fatal(err)
	}
	return reply, names
}

// resumed runs the first part of a run on a new server (until the pause),
// submits the form and returns the stream of the resumed run.
func (fs *formRunServer) resumed(t *testing.T) *Stream {
	t.Helper()
	fs.mu.Lock()
	fs.stored, fs.submitted = "", false
	fs.mu.Unlock()
	c, mux, _ := setup(t)
	fs.register(mux)
	ctx := context.Background()
	r, err := c.SendMessage(ctx, ChatRequest{Query: "q", User: frUser})
	if err != nil || !r.Paused || len(r.Forms) != 1 {
		t.Fatalf("first part: %+v, %v", r, err)
	}
	if err := c.SubmitHumanInputForm(ctx, r.Forms[0].Token, frUser, "approve", nil); err != nil {
		t.Fatal(err)
	}
	s, err := c.WorkflowEvents(ctx, r.WorkflowRunID, frUser)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHumanInputResumeReconcilesLostText(t *testing.T) {
	leakCheck(t)
	fs := &formRunServer{t: t, before: "Approved ", lost: []string{"and ", "then "}, after: []string{"done."}}
	reply, names := fs.roundTrip(t)
	if reply.Answer != fs.full() || !reply.Resumed || reply.AnswerFromOutputs {
		t.Errorf("reply answer %q resumed %v from outputs %v; want %q, resumed", reply.Answer, reply.Resumed, reply.AnswerFromOutputs, fs.full())
	}
	want := fmt.Sprintf("message_replace(%s) message_end workflow_finished", ReasonResumed)
	if got := strings.Join(names, " "); !strings.HasSuffix(got, want) {
		t.Errorf("events %s, want them to end with %s", got, want)
	}
}

func TestHumanInputResumeFallsBackToOutputs(t *testing.T) {
	leakCheck(t)
	fs := &formRunServer{t: t, before: "Approved ", lost: []string{"and "}, after: []string{"done."}, messages404: true}
	reply, err := fs.resumed(t).Collect()
	if err != nil || reply.Answer != fs.full() || !reply.AnswerFromOutputs {
		t.Errorf("reply %q from outputs %v, %v; want %q from outputs", reply.Answer, reply.AnswerFromOutputs, err, fs.full())
	}
}

func TestHumanInputResumeNothingLost(t *testing.T) {
	leakCheck(t)
	fs := &formRunServer{t: t, before: "Approved ", after: []string{"and ", "done."}}
	reply, names := fs.roundTrip(t)
	if reply.Answer != fs.full() || reply.Resumed || reply.AnswerFromOutputs {
		t.Errorf("reply answer %q resumed %v from outputs %v; want %q, not resumed", reply.Answer, reply.Resumed, reply.AnswerFromOutputs, fs.full())
	}
	for _, n := range names {
		if strings.HasPrefix(n, EventMessageReplace+"("+ReasonResumed) {
			t.Errorf("events %v: a replacement when nothing was lost", names)
		}
	}
}
