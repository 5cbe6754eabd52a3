package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/difykit/chatflow/relay"
)

func TestChatStreamsInDifyFormatAsUser(t *testing.T) {
	t.Parallel()
	f := newFake(t, alice)
	s := openStream(t, context.Background(), f.relay.URL+"/api/chat-messages",
		`{"query":"hello there","inputs":{},"user":"mallory","response_mode":"streaming"}`)
	var answer strings.Builder
	var names []string
	for {
		frame, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ev := event(t, frame)
		names = append(names, ev["event"].(string))
		if ev["event"] == "message" {
			answer.WriteString(ev["answer"].(string))
		}
	}
	if answer.String() != "You said: hello there" {
		t.Errorf("answer = %q", answer.String())
	}
	if len(names) < 2 || names[0] != "workflow_started" || !contains(names, "message_end") || names[len(names)-1] != "workflow_finished" {
		t.Errorf("events = %v; want workflow_started first, message_end, workflow_finished last", names)
	}
	var users []string
	for _, r := range f.Requests() {
		if r.Operation == "sendChatMessage" {
			users = append(users, r.User)
		}
	}
	if len(users) != 1 || users[0] != "alice" {
		t.Errorf("upstream chat users = %v; want [alice]", users)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Each event reaches the browser while the upstream still holds back the
// next: nothing is buffered until the end of the run.
func TestChatFlushesEachEvent(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"event":"workflow_started","task_id":"t1","workflow_run_id":"r1","conversation_id":"c1","message_id":"m1","data":{"id":"r1"}}`+"\n\n")
		fmt.Fprint(w, `data: {"event":"message","task_id":"t1","conversation_id":"c1","message_id":"m1","answer":"first"}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, `data: {"event":"message","task_id":"t1","conversation_id":"c1","message_id":"m1","answer":" second"}`+"\n\n")
		fmt.Fprint(w, `data: {"event":"message_end","task_id":"t1","conversation_id":"c1","message_id":"m1","metadata":{}}`+"\n\n")
		fmt.Fprint(w, `data: {"event":"workflow_finished","task_id":"t1","workflow_run_id":"r1","data":{"id":"r1","status":"succeeded"}}`+"\n\n")
	})
	rs := relayFor(t, u, alice)
	s := openStream(t, context.Background(), rs.URL+"/api/chat-messages", `{"query":"q","inputs":{}}`)
	for _, want := range []string{"workflow_started", "message"} {
		frame, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if ev := event(t, frame); ev["event"] != want {
			t.Fatalf("event %v; want %s", ev, want)
		}
	}
	close(release) // only now does the upstream send the rest
	var rest []string
	for {
		frame, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, event(t, frame)["event"].(string))
	}
	if strings.Join(rest, ",") != "message,message_end,workflow_finished" {
		t.Errorf("rest = %v", rest)
	}
}

func TestChatBlockingGathersDifyShape(t *testing.T) {
	t.Parallel()
	f := newFake(t, alice)
	resp, body := do(t, "POST", f.relay.URL+"/api/chat-messages", "application/json",
		`{"query":"hi","inputs":{},"user":"bob","response_mode":"blocking"}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m["event"] != "message" || m["answer"] != "You said: hi" || m["mode"] != "advanced-chat" {
		t.Errorf("reply = %s", body)
	}
	for _, k := range []string{"task_id", "id", "message_id", "conversation_id"} {
		if s, _ := m[k].(string); s == "" {
			t.Errorf("reply has no %s: %s", k, body)
		}
	}
	if m["id"] != m["message_id"] {
		t.Errorf("id %v != message_id %v", m["id"], m["message_id"])
	}
	if _, ok := m["metadata"].(map[string]any)["usage"]; !ok {
		t.Errorf("metadata has no usage: %s", body)
	}
	if _, ok := m["created_at"].(float64); !ok {
		t.Errorf("created_at is not a number: %s", body)
	}
}

// A browser that goes away mid-run gets the run stopped upstream, as
// user(r), within 2 s.
func TestChatBrowserGoneStopsRun(t *testing.T) {
	t.Parallel()
	f := newFake(t, alice)
	f.SetEventDelay(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openStream(t, ctx, f.relay.URL+"/api/chat-messages",
		`{"query":"a question with quite a few words in it so that the run lasts","inputs":{}}`)
	var taskID string
	for taskID == "" {
		frame, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if ev := event(t, frame); ev["event"] == "message" {
			taskID, _ = ev["task_id"].(string)
		}
	}
	cancel()
	select {
	case path := <-f.stops:
		if path != "/v1/chat-messages/"+taskID+"/stop" {
			t.Errorf("stop path = %s; want task %s", path, taskID)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no stop request upstream within 2 s of the browser going away")
	}
	for _, r := range f.Requests() {
		if r.Operation == "stopChatMessageGeneration" && r.User != "alice" {
			t.Errorf("stop sent as %q; want alice", r.User)
		}
	}
}

// An upstream connection cut mid-run is resumed: the browser's stream
// goes on without repeating an event and ends normally.
func TestChatUpstreamCutInvisible(t *testing.T) {
	t.Parallel()
	f := newFake(t, alice)
	f.SetEventDelay(5 * time.Millisecond)
	f.CutStreamAfter(4)
	s := openStream(t, context.Background(), f.relay.URL+"/api/chat-messages",
		`{"query":"one two three four five six seven eight","inputs":{}}`)
	seen := map[string]bool{}
	var answer strings.Builder
	var names []string
	for {
		frame, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ev := event(t, frame)
		name := ev["event"].(string)
		if name == "ping" {
			continue
		}
		if seen[frame] {
			t.Errorf("event repeated: %s", frame)
		}
		seen[frame] = true
		names = append(names, name)
		switch name {
		case "message":
			answer.WriteString(ev["answer"].(string))
		case "message_replace":
			answer.Reset()
			answer.WriteString(ev["answer"].(string))
		case "error":
			t.Errorf("error event: %s", frame)
		}
	}
	if answer.String() != "You said: one two three four five six seven eight" {
		t.Errorf("answer = %q", answer.String())
	}
	if last := names[len(names)-1]; last != "workflow_finished" && last != "message_end" {
		t.Errorf("events = %v; want a terminal event last", names)
	}
	reattached := false
	for _, r := range f.Requests() {
		reattached = reattached || strings.HasPrefix(r.Path, "/workflow/")
	}
	if !reattached {
		t.Error("the relay did not reattach to the run: the cut was not exercised")
	}
}

func TestChatTooManyRuns(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"event":"workflow_started","task_id":"t1","workflow_run_id":"r1","conversation_id":"c1","message_id":"m1","data":{"id":"r1"}}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, `data: {"event":"message_end","task_id":"t1","conversation_id":"c1","message_id":"m1","metadata":{}}`+"\n\n")
		fmt.Fprint(w, `data: {"event":"workflow_finished","task_id":"t1","workflow_run_id":"r1","data":{"id":"r1","status":"succeeded"}}`+"\n\n")
	})
	rs := relayFor(t, u, alice, relay.WithMaxRunsPerUser(1))
	s := openStream(t, context.Background(), rs.URL+"/api/chat-messages", `{"query":"q","inputs":{}}`)
	if _, err := s.next(); err != nil {
		t.Fatal(err)
	}
	<-u.reqs // the first run
	resp, body := do(t, "POST", rs.URL+"/api/chat-messages", "application/json", `{"query":"q2","inputs":{}}`)
	difyErr(t, resp, body, http.StatusTooManyRequests, "too_many_requests")
	u.noRequests(t)
	close(release)
	for {
		if _, err := s.next(); err != nil {
			break
		}
	}
	// The first run has ended: the user may start another.
	resp, body = do(t, "POST", rs.URL+"/api/chat-messages", "application/json", `{"query":"q3","inputs":{}}`)
	if resp.StatusCode != 200 {
		t.Errorf("after the first run ended: %d %s", resp.StatusCode, body)
	}
}

// A blocking request whose browser goes away stops the run too.
func TestChatBlockingBrowserGoneStopsRun(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	stops := make(chan string, 1)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/stop") {
			body, _ := io.ReadAll(r.Body)
			stops <- r.URL.Path + " " + string(body)
			fmt.Fprint(w, `{"result":"success"}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"event":"workflow_started","task_id":"t-9","workflow_run_id":"r-9","conversation_id":"c1","message_id":"m1","data":{"id":"r-9"}}`+"\n\n")
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	})
	rs := relayFor(t, u, alice)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", rs.URL+"/api/chat-messages",
			strings.NewReader(`{"query":"q","inputs":{},"response_mode":"blocking","user":"mallory"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; err == nil {
		t.Error("the cancelled request got a reply")
	}
	select {
	case got := <-stops:
		if !strings.HasPrefix(got, "/v1/chat-messages/t-9/stop ") || !strings.Contains(got, `"user":"alice"`) {
			t.Errorf("stop request: %s", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no stop request upstream within 2 s of the browser going away")
	}
}

// A browser that leaves before any event named the run's task gets the run
// stopped too, once the task id arrives.
func TestChatBrowserGoneBeforeFirstEventStopsRun(t *testing.T) {
	t.Parallel()
	left := make(chan struct{}) // closed when the relay's request context ends
	stops := make(chan string, 1)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/stop") {
			body, _ := io.ReadAll(r.Body)
			stops <- r.URL.Path + " " + string(body)
			fmt.Fprint(w, `{"result":"success"}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		select {
		case <-left: // only now does the run's first event come
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, `data: {"event":"workflow_started","task_id":"t-7","workflow_run_id":"r-7","conversation_id":"c1","message_id":"m1","data":{"id":"r-7"}}`+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c := newClient(t, u.URL+"/v1", testKey)
	h := relay.New(c, alice)
	var once sync.Once
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stop := context.AfterFunc(r.Context(), func() { once.Do(func() { close(left) }) })
		defer stop()
		h.ServeHTTP(w, r)
	}))
	defer site.Close()
	ctx, cancel := context.WithCancel(context.Background())
	openStream(t, ctx, site.URL+"/chat-messages", `{"query":"q","inputs":{}}`)
	cancel() // the browser leaves before any event
	select {
	case got := <-stops:
		if !strings.HasPrefix(got, "/v1/chat-messages/t-7/stop ") || !strings.Contains(got, `"user":"alice"`) {
			t.Errorf("stop request: %s", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no stop request upstream within 2 s of the browser going away")
	}
}
