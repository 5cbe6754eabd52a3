package completion_test

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
	"github.com/difykit/chatflow/completion"
)

func fake(t *testing.T) (*chatflowtest.Server, *completion.Client) {
	t.Helper()
	s := chatflowtest.NewServer(chatflowtest.WithMode(chatflowtest.ModeCompletion))
	t.Cleanup(s.Close)
	c, err := completion.NewClient(s.APIKey, chatflow.WithBaseURL(s.URL), chatflow.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestCompleteAgainstFake(t *testing.T) {
	t.Parallel()
	_, c := fake(t)
	res, err := c.Complete(context.Background(), completion.Request{Query: "hello there", User: "cu"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Answer, "hello there") || res.MessageID == "" || res.TaskID == "" {
		t.Fatalf("result = %+v", res)
	}
	if err := c.SendFeedback(context.Background(), res.MessageID, "cu", chatflow.RatingLike, "good"); err != nil {
		t.Fatal(err)
	}
	info, err := c.AppInfo(context.Background())
	if err != nil || info.Mode != "completion" {
		t.Fatalf("AppInfo = %+v, %v", info, err)
	}
}

func TestCutIsIncomplete(t *testing.T) {
	t.Parallel()
	s, c := fake(t)
	s.CutStreamAfter(2)
	res, err := c.Complete(context.Background(), completion.Request{Query: "a b c d e", User: "cu"})
	if !errors.Is(err, chatflow.ErrIncompleteStream) {
		t.Fatalf("err = %v (result %+v), want ErrIncompleteStream", err, res)
	}
	for _, r := range s.Requests() {
		if strings.HasPrefix(r.Path, "/workflow/") {
			t.Errorf("a completion reattached: %s", r.Path)
		}
	}
}

// scripted serves one scripted completion stream and records stops.
type scripted struct {
	mu      sync.Mutex
	bodies  []string
	stops   []string
	paths   []string
	stopped chan struct{}
}

func (sc *scripted) server(t *testing.T, events []string, block bool) *httptest.Server {
	sc.stopped = make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sc.mu.Lock()
		sc.paths = append(sc.paths, r.URL.Path)
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

func client(t *testing.T, url string) *completion.Client {
	t.Helper()
	c, err := completion.NewClient("app-test", chatflow.WithBaseURL(url+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGatherWithReplace(t *testing.T) {
	t.Parallel()
	var sc scripted
	srv := sc.server(t, []string{
		`{"event":"message","task_id":"t1","message_id":"m1","answer":"bad "}`,
		`{"event":"message_replace","task_id":"t1","message_id":"m1","answer":"clean ","reason":"moderation"}`,
		`{"event":"message","task_id":"t1","message_id":"m1","answer":"end"}`,
		`{"event":"message_end","task_id":"t1","id":"m1","message_id":"m1","metadata":{"usage":{"total_tokens":5}}}`,
	}, false)
	res, err := client(t, srv.URL).Complete(context.Background(), completion.Request{User: "u2", Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer != "clean end" || res.MessageID != "m1" || res.TaskID != "t1" || res.Usage.TotalTokens != 5 {
		t.Fatalf("result = %+v", res)
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(sc.bodies[0]), &body)
	if in, ok := body["inputs"].(map[string]any); !ok || len(in) != 0 || body["response_mode"] != "streaming" || body["user"] != "u2" || body["query"] != "q" {
		t.Errorf("body = %s", sc.bodies[0])
	}
	if sc.paths[0] != "/v1/completion-messages" || len(sc.stops) != 0 {
		t.Errorf("paths = %v, stops = %v", sc.paths, sc.stops)
	}
}

func TestErrorEvent(t *testing.T) {
	t.Parallel()
	var sc scripted
	srv := sc.server(t, []string{
		`{"event":"message","task_id":"t1","message_id":"m1","answer":"par"}`,
		`{"event":"error","message_id":"m1","status":400,"code":"completion_request_error","message":"model failed"}`,
	}, false)
	res, err := client(t, srv.URL).Complete(context.Background(), completion.Request{User: "u"})
	var ae *chatflow.APIError
	if !errors.As(err, &ae) || ae.Code != "completion_request_error" || res.Answer != "par" {
		t.Fatalf("err = %v, result = %+v", err, res)
	}
}

func TestAutoStopOnBreak(t *testing.T) {
	t.Parallel()
	var sc scripted
	srv := sc.server(t, []string{`{"event":"message","task_id":"t9","message_id":"m1","answer":"x"}`}, true)
	st, err := client(t, srv.URL).StreamCompletion(context.Background(), completion.Request{User: "u3"})
	if err != nil {
		t.Fatal(err)
	}
	for range st.Events() {
		break
	}
	select {
	case <-sc.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("no stop")
	}
	st.Close()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if len(sc.stops) != 1 || sc.stops[0] != `{"user":"u3"}` || sc.paths[1] != "/v1/completion-messages/t9/stop" {
		t.Fatalf("stops = %v paths = %v", sc.stops, sc.paths)
	}
}

func TestAutoStopOnCloseAndCancel(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			var sc scripted
			srv := sc.server(t, []string{`{"event":"message","task_id":"t5","message_id":"m1","answer":"x"}`}, true)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st, err := client(t, srv.URL).StreamCompletion(ctx, completion.Request{User: "u4"})
			if err != nil {
				t.Fatal(err)
			}
			var last error
			for _, err := range st.Events() {
				if err != nil {
					last = err
					break
				}
				if how == "close" {
					st.Close()
				} else {
					cancel()
				}
			}
			if !errors.Is(last, chatflow.ErrIncompleteStream) {
				t.Errorf("error after %s = %v", how, last)
			}
			st.Close()
			wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer wcancel()
			if err := st.WaitStop(wctx); err != nil {
				t.Fatal(err)
			}
			sc.mu.Lock()
			defer sc.mu.Unlock()
			if len(sc.stops) != 1 || sc.stops[0] != `{"user":"u4"}` {
				t.Fatalf("stops = %v", sc.stops)
			}
		})
	}
}

func TestNoStopAfterNormalEnd(t *testing.T) {
	t.Parallel()
	s, c := fake(t)
	st, err := c.StreamCompletion(context.Background(), completion.Request{Query: "a b", User: "cu"})
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

func TestRefusedOnAnotherAppType(t *testing.T) {
	t.Parallel()
	s := chatflowtest.NewServer(chatflowtest.WithMode(chatflowtest.ModeWorkflow))
	t.Cleanup(s.Close)
	c, err := completion.NewClient(s.APIKey, chatflow.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(context.Background(), completion.Request{Query: "q", User: "u"})
	var ae *chatflow.APIError
	if !errors.As(err, &ae) || !errors.Is(err, chatflow.ErrBadRequest) || ae.Code != "app_unavailable" {
		t.Fatalf("err = %v", err)
	}
	if err := c.StopCompletion(context.Background(), "..", "u"); !errors.Is(err, chatflow.ErrInvalidID) {
		t.Errorf("StopCompletion(..) = %v", err)
	}
}
