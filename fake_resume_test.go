package chatflow_test

// Resume and auto-stop against chatflowtest, the fake Dify server, whose
// runs go on after a disconnect and which serves reattach, run detail and
// message history the way Dify does.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

const fakeQuery = "tell me a rather long story about the sea and the wind and the boats that sail there"

func fakeClient(t *testing.T, opts ...chatflow.Option) (*chatflowtest.Server, *chatflow.Client) {
	t.Helper()
	srv := chatflowtest.NewServer()
	t.Cleanup(srv.Close)
	c, err := chatflow.NewClient(srv.APIKey, append([]chatflow.Option{chatflow.WithBaseURL(srv.URL)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func countOps(srv *chatflowtest.Server, op string) (n int, paths []string) {
	for _, r := range srv.Requests() {
		if r.Operation == op {
			n++
			paths = append(paths, r.Path+" "+r.User)
		}
	}
	return n, paths
}

func TestFakeResumeSendMessage(t *testing.T) {
	t.Parallel()
	srv, c := fakeClient(t)
	ctx := context.Background()
	want, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: fakeQuery, User: "ann"})
	if err != nil || want.Resumed {
		t.Fatalf("uncut run: %+v, %v", want, err)
	}
	srv.SetEventDelay(time.Millisecond) // the run goes on while the client reattaches
	srv.CutStreamAfter(6)
	r, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: fakeQuery, User: "ann", ConversationID: want.ConversationID})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Resumed || r.Answer != want.Answer || r.AnswerFromOutputs || r.WorkflowStatus != "succeeded" {
		t.Errorf("reply %+v; want the answer %q, resumed", r, want.Answer)
	}
	if r.ConversationID != want.ConversationID || r.MessageID == "" || r.MessageID == want.MessageID ||
		r.TaskID == "" || r.TaskID == r.WorkflowRunID || r.WorkflowRunID == "" {
		t.Errorf("ids %q %q %q %q", r.ConversationID, r.MessageID, r.TaskID, r.WorkflowRunID)
	}
	if n, _ := countOps(srv, "streamWorkflowEvents"); n == 0 {
		t.Error("no reattach")
	}
	if n, p := countOps(srv, "stopChatMessageGeneration"); n != 0 {
		t.Errorf("a dropped connection sent stop requests: %v", p)
	}
}

func TestFakeResumeEvents(t *testing.T) {
	t.Parallel()
	srv, c := fakeClient(t)
	srv.SetEventDelay(time.Millisecond)
	srv.CutStreamAfter(5)
	s, err := c.StreamMessage(context.Background(), chatflow.ChatRequest{Query: fakeQuery, User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	seen := chatflow.YieldedOnce{}
	var last string
	var text strings.Builder
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		last = ev.Name()
		switch ev.Name() {
		case chatflow.EventMessage:
			text.WriteString(ev.Text())
		case chatflow.EventMessageReplace:
			m, _ := ev.MessageReplace()
			text.Reset()
			text.WriteString(m.Answer)
		}
		if strings.HasPrefix(ev.Name(), "node_") || ev.Name() == chatflow.EventWorkflowStarted {
			seen.Check(t, ev)
		}
	}
	if last != chatflow.EventWorkflowFinished && last != chatflow.EventMessageEnd {
		t.Errorf("the loop ended with %q", last)
	}
	if !s.Resumed() || !strings.Contains(text.String(), "sea") {
		t.Errorf("resumed %v, text %q", s.Resumed(), text.String())
	}
}

func TestFakeResumeOff(t *testing.T) {
	t.Parallel()
	srv, c := fakeClient(t, chatflow.WithResume(false))
	srv.CutStreamAfter(4)
	_, err := c.SendMessage(context.Background(), chatflow.ChatRequest{Query: fakeQuery, User: "cat"})
	if !errors.Is(err, chatflow.ErrIncompleteStream) {
		t.Errorf("err = %v", err)
	}
}

// TestFakeAutoStop: the caller cancels in the middle of the run; the run
// is stopped on the server (a reattach sees it end "stopped"), with one
// stop request for the real task id and the user.
func TestFakeAutoStop(t *testing.T) {
	t.Parallel()
	srv, c := fakeClient(t)
	srv.SetEventDelay(5 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.StreamMessage(ctx, chatflow.ChatRequest{Query: fakeQuery, User: "dan"})
	if err != nil {
		t.Fatal(err)
	}
	var task string
	for ev, err := range s.Events() {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v", err)
			}
			break
		}
		if ev.Name() == chatflow.EventMessage {
			task = s.TaskID()
			cancel()
		}
	}
	// Follow the run to its end: "stopped" once the stop request is in.
	w, err := c.WorkflowEvents(context.Background(), s.RunID(), "dan")
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.Collect()
	if err != nil || r.WorkflowStatus != "stopped" {
		t.Fatalf("run ended %q, %v", r.WorkflowStatus, err)
	}
	n, paths := countOps(srv, "stopChatMessageGeneration")
	if n != 1 || paths[0] != "/chat-messages/"+task+"/stop dan" {
		t.Errorf("stop requests %v, want one for task %s", paths, task)
	}
}
