package chatflow_test

// Chat ("chat") and agent ("agent-chat") apps through chatflow.Client:
// their streams carry no workflow events; SendMessage gathers them and
// StreamMessage streams them, against the fake in those modes and against
// scripted servers.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

func modeClient(t *testing.T, mode string) (*chatflowtest.Server, *chatflow.Client) {
	t.Helper()
	srv := chatflowtest.NewServer(chatflowtest.WithMode(mode))
	t.Cleanup(srv.Close)
	c, err := chatflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestChatAndAgentAppsThroughClient(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{chatflowtest.ModeChat, chatflowtest.ModeAgentChat} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			_, c := modeClient(t, mode)
			ctx := context.Background()
			r, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: "hello sea", User: "mu"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.Answer, "hello sea") || r.ConversationID == "" || r.MessageID == "" || !r.MessageEnded || r.WorkflowFinished || r.WorkflowRunID != "" {
				t.Fatalf("reply = %+v", r)
			}
			s, err := c.StreamMessage(ctx, chatflow.ChatRequest{Query: "again", User: "mu", ConversationID: r.ConversationID})
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]int{}
			var text strings.Builder
			for ev, err := range s.Events() {
				if err != nil {
					t.Fatal(err)
				}
				names[ev.Name()]++
				text.WriteString(ev.Text())
			}
			for n := range names {
				if strings.HasPrefix(n, "workflow_") || strings.HasPrefix(n, "node_") {
					t.Errorf("%s app streamed %s", mode, n)
				}
			}
			answerEvent := chatflow.EventMessage
			if mode == chatflowtest.ModeAgentChat {
				answerEvent = chatflow.EventAgentMessage
				if names[chatflow.EventAgentThought] == 0 {
					t.Errorf("no agent_thought: %v", names)
				}
			}
			if names[answerEvent] == 0 || names[chatflow.EventMessageEnd] != 1 || !strings.Contains(text.String(), "again") {
				t.Errorf("events = %v, text = %q", names, text.String())
			}
		})
	}
}

// scriptedChat serves one chat stream and records the stops.
func scriptedChat(t *testing.T, events []string, block bool) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var stops []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/stop") {
			mu.Lock()
			stops = append(stops, r.URL.Path)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"result":"success"}`)
			return
		}
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
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), stops...)
	}
}

func TestAgentStreamScripted(t *testing.T) {
	t.Parallel()
	srv, stops := scriptedChat(t, []string{
		`{"event":"agent_thought","task_id":"t1","conversation_id":"c1","message_id":"m1","id":"th1","position":1,"thought":"look it up","tool":"search"}`,
		`{"event":"agent_message","task_id":"t1","conversation_id":"c1","message_id":"m1","answer":"The sea "}`,
		`{"event":"agent_message","task_id":"t1","conversation_id":"c1","message_id":"m1","answer":"is blue."}`,
		`{"event":"message_end","task_id":"t1","conversation_id":"c1","message_id":"m1","id":"m1","metadata":{"usage":{"total_tokens":9}}}`,
	}, false)
	c, err := chatflow.NewClient("app-test", chatflow.WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.SendMessage(context.Background(), chatflow.ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Answer != "The sea is blue." || r.ConversationID != "c1" || r.MessageID != "m1" || r.TaskID != "t1" || r.Usage.TotalTokens != 9 || r.WorkflowStatus != "" {
		t.Fatalf("reply = %+v", r)
	}
	if s := stops(); len(s) != 0 {
		t.Errorf("stops after a normal end: %v", s)
	}
}

func TestPlainChatStreamScripted(t *testing.T) {
	t.Parallel()
	srv, stops := scriptedChat(t, []string{
		`{"event":"message","task_id":"t2","conversation_id":"c2","message_id":"m2","answer":"Hi"}`,
		`{"event":"message","task_id":"t2","conversation_id":"c2","message_id":"m2","answer":" there"}`,
	}, true)
	c, err := chatflow.NewClient("app-test", chatflow.WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.StreamMessage(context.Background(), chatflow.ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name() != chatflow.EventMessage {
			t.Fatalf("event %s", ev.Name())
		}
		break // abandon the chat: one stop
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitStop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stops(); len(got) != 1 || got[0] != "/v1/chat-messages/t2/stop" {
		t.Fatalf("stops = %v", got)
	}
	// A plain chat stream cut before message_end cannot be resumed (no run
	// id): it is incomplete, never a silent success.
	cut, _ := scriptedChat(t, []string{`{"event":"message","task_id":"t3","conversation_id":"c3","message_id":"m3","answer":"Hi"}`}, false)
	c2, err := chatflow.NewClient("app-test", chatflow.WithBaseURL(cut.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.SendMessage(context.Background(), chatflow.ChatRequest{Query: "q", User: "u"}); !errors.Is(err, chatflow.ErrIncompleteStream) {
		t.Fatalf("cut chat err = %v", err)
	}
}
