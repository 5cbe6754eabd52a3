package chatflowtest_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/internal/spec"
)

func TestBlockingIsTheDefault(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := do(t, s, "POST", "/chat-messages", `{"inputs":{},"query":"hello there world","user":"alice"}`)
	wantStatus(t, r, 200)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	v := r.json(t)
	if v["event"] != "message" || v["mode"] != "advanced-chat" {
		t.Errorf("reply = %s", r.body)
	}
	if v["answer"] != "You said: hello there world" {
		t.Errorf("answer = %v", v["answer"])
	}
	for _, k := range []string{"task_id", "id", "message_id", "conversation_id"} {
		if s, _ := v[k].(string); s == "" {
			t.Errorf("%s missing in %s", k, r.body)
		}
	}
	if v["id"] != v["message_id"] {
		t.Errorf("id %v != message_id %v", v["id"], v["message_id"])
	}
	md, _ := v["metadata"].(map[string]any)
	usage, _ := md["usage"].(map[string]any)
	if usage["total_tokens"] == nil {
		t.Errorf("metadata.usage missing: %s", r.body)
	}
}

func TestAnswerOption(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithAnswer(strings.ToUpper))
	if got := chat(t, s, "u", "", "shout this")["answer"]; got != "SHOUT THIS" {
		t.Errorf("answer = %v", got)
	}
}

// streamEventSchemas maps event names to the schema of their payload.
var streamEventSchemas = map[string]string{
	"message":           "StreamEventChatMessage",
	"message_end":       "StreamEventChatMessageEnd",
	"workflow_started":  "StreamEventWorkflowStarted",
	"workflow_finished": "StreamEventWorkflowFinished",
	"node_started":      "StreamEventNodeStarted",
	"node_finished":     "StreamEventNodeFinished",
	"error":             "StreamEventChatError",

	"human_input_required":    "StreamEventHumanInputRequired",
	"workflow_paused":         "StreamEventWorkflowPaused",
	"human_input_form_filled": "StreamEventHumanInputFormFilled",
	"message_replace":         "StreamEventChatMessageReplace",
}

// checkEvents validates each event's payload against its schema.
func checkEvents(t *testing.T, evs []event) {
	t.Helper()
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.ping {
			continue
		}
		name, ok := streamEventSchemas[ev.name]
		if !ok {
			t.Errorf("unexpected event %q", ev.name)
			continue
		}
		ref := doc.Components.Schemas[name]
		if ref == nil {
			t.Fatalf("no schema %s", name)
		}
		var v any = map[string]any(ev.data)
		if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
			t.Errorf("event %s does not match %s: %v", ev.raw, name, err)
		}
	}
}

func stream(t *testing.T, s *chatflowtest.Server, user, conversationID, query string) (reply, []event) {
	t.Helper()
	body := map[string]any{"inputs": map[string]any{}, "query": query, "user": user, "response_mode": "streaming"}
	if conversationID != "" {
		body["conversation_id"] = conversationID
	}
	r := do(t, s, "POST", "/chat-messages", body)
	wantStatus(t, r, 200)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type = %q", ct)
	}
	evs := readEvents(t, r.body)
	checkEvents(t, evs)
	return r, evs
}

func TestStreamShape(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	_, evs := stream(t, s, "alice", "", "one two three")
	want := []string{
		"workflow_started",
		"node_started", "node_finished", // start
		"node_started", "message", "message", "message", "message", "message", "node_finished", // llm
		"node_started", "node_finished", // answer
		"message_end", "workflow_finished",
	}
	if got := names(evs); !slices.Equal(got, want) {
		t.Fatalf("events = %v\nwant     %v", got, want)
	}
	var answer strings.Builder
	first := evs[0].data
	for _, ev := range evs {
		for _, k := range []string{"task_id", "conversation_id", "message_id", "created_at"} {
			if ev.data[k] == nil {
				t.Errorf("%s has no %s", ev.raw, k)
			}
			if k != "created_at" && ev.data[k] != first[k] {
				t.Errorf("%s: %s = %v, want %v", ev.name, k, ev.data[k], first[k])
			}
		}
		if strings.HasPrefix(ev.name, "workflow_") || strings.HasPrefix(ev.name, "node_") {
			if ev.data["workflow_run_id"] != first["workflow_run_id"] || ev.data["workflow_run_id"] == nil {
				t.Errorf("%s: workflow_run_id = %v", ev.name, ev.data["workflow_run_id"])
			}
		}
		if ev.name == "message" {
			answer.WriteString(ev.data["answer"].(string))
		}
	}
	if answer.String() != "You said: one two three" {
		t.Errorf("streamed answer = %q", answer.String())
	}
	end := evs[len(evs)-2].data
	if md, _ := end["metadata"].(map[string]any); md["usage"] == nil {
		t.Errorf("message_end without usage: %v", end)
	}
	if wf := evs[len(evs)-1].data["data"].(map[string]any); wf["status"] != "succeeded" {
		t.Errorf("workflow_finished status = %v", wf["status"])
	}
	// Node ids are graph ids, not UUIDs.
	if id := evs[1].data["data"].(map[string]any)["node_id"]; id != "start" {
		t.Errorf("start node_id = %v", id)
	}
	// Like Dify's, every event starts with its name.
	for _, ev := range evs {
		if !strings.HasPrefix(ev.raw, `{"event":"`+ev.name+`",`) {
			t.Errorf("event does not start with its name: %.80s", ev.raw)
		}
	}
}

func TestStreamOptions(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithEarlyPing(), chatflowtest.WithWorkflowFinishedFirst())
	_, evs := stream(t, s, "bob", "", "hi")
	if !evs[0].ping {
		t.Errorf("first event = %q, want a ping", evs[0].name)
	}
	n := len(evs)
	if evs[n-2].name != "workflow_finished" || evs[n-1].name != "message_end" {
		t.Errorf("terminal events = %v", names(evs[n-2:]))
	}
}

func TestPingsWhileWaiting(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithPingInterval(1_000_000)) // 1ms
	s.SetEventDelay(30_000_000)                                 // 30ms between tokens
	_, evs := stream(t, s, "bob", "", "a b c")
	pings := 0
	for _, ev := range evs {
		if ev.ping {
			pings++
		}
	}
	if pings == 0 {
		t.Errorf("no pings in %v", names(evs))
	}
}

func TestConversationContinues(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	first := chat(t, s, "alice", "", "first")
	cid := first["conversation_id"].(string)
	_, evs := stream(t, s, "alice", cid, "second")
	if evs[0].data["conversation_id"] != cid {
		t.Errorf("conversation_id = %v, want %s", evs[0].data["conversation_id"], cid)
	}
	// Another user cannot continue it.
	r := do(t, s, "POST", "/chat-messages", map[string]any{"inputs": map[string]any{}, "query": "x", "user": "mallory", "conversation_id": cid})
	if v := wantError(t, r, 404, "not_found"); v["message"] != "Conversation Not Exists." {
		t.Errorf("message = %v", v["message"])
	}
}

func TestChatRequestChecks(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	cases := []struct {
		name, body string
		status     int
		code, msg  string
	}{
		{"no user", `{"inputs":{},"query":"q"}`, 400, "invalid_param", "Arg user must be provided."},
		{"empty user", `{"inputs":{},"query":"q","user":""}`, 400, "invalid_param", "Arg user must be provided."},
		{"no inputs", `{"query":"q","user":"u"}`, 400, "invalid_param", ""},
		{"bad mode", `{"inputs":{},"query":"q","user":"u","response_mode":"fast"}`, 400, "invalid_param", ""},
		{"not json", `{"inputs":`, 400, "bad_request", ""},
		{"unknown conversation", `{"inputs":{},"query":"q","user":"u","conversation_id":"6f2c8e51-0000-4000-8000-000000000000"}`, 404, "not_found", "Conversation Not Exists."},
		{"bad upload id", `{"inputs":{},"query":"q","user":"u","files":[{"type":"image","transfer_method":"local_file","upload_file_id":"6f2c8e51-0000-4000-8000-000000000000"}]}`, 400, "invalid_param", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := wantError(t, do(t, s, "POST", "/chat-messages", tc.body), tc.status, tc.code)
			if tc.msg != "" && v["message"] != tc.msg {
				t.Errorf("message = %q, want %q", v["message"], tc.msg)
			}
		})
	}
	// Shapes the real server accepts.
	for _, body := range []string{
		`{"inputs":{},"query":"q","user":"u","files":null}`,
		`{"inputs":{"x":1},"query":"q","user":"u","conversation_id":null,"response_mode":"blocking","files":null,"workflow_id":null}`,
		`{"inputs":{},"query":"q","user":"u","conversation_id":"","auto_generate_name":false,"extra":"ignored"}`,
	} {
		wantStatus(t, do(t, s, "POST", "/chat-messages", body), 200)
	}
	// A request without a JSON content type is refused like Flask does (the
	// description does not list 415 here).
	wantError(t, doUnchecked(t, s, "POST", "/chat-messages", `{"inputs":{},"query":"q","user":"u"}`, "Bearer "+s.APIKey, "text/plain"), 415, "unsupported_media_type")
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for _, auth := range []string{"", "Bearer", "Bearer wrong-key", "Basic " + s.APIKey, s.APIKey} {
		r := doWith(t, s, "GET", "/info", nil, auth, "")
		wantError(t, r, 401, "unauthorized")
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="api"` {
			t.Errorf("auth %q: WWW-Authenticate = %q", auth, got)
		}
	}
	for _, auth := range []string{"bearer " + s.APIKey, "BEARER " + s.APIKey} {
		wantStatus(t, doWith(t, s, "GET", "/info", nil, auth, ""), 200)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	// Unknown tasks are fine.
	r := do(t, s, "POST", "/chat-messages/no-such-task/stop", `{"user":"u"}`)
	wantStatus(t, r, 200)
	if r.json(t)["result"] != "success" {
		t.Errorf("body = %s", r.body)
	}
	wantError(t, do(t, s, "POST", "/chat-messages/t/stop", `{}`), 400, "invalid_param")
}

// TestStopRunningStream stops a stream after its first token: the run ends
// with workflow_finished (stopped) and message_end, and the stored answer
// is what was sent.
func TestStopRunningStream(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetEventDelay(10_000_000_000) // tokens would take 10s each
	req, _ := http.NewRequest("POST", s.URL+"/chat-messages", strings.NewReader(`{"inputs":{},"query":"a b c d","user":"u","response_mode":"streaming"}`))
	req.Header.Set("Authorization", "Bearer "+s.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read until the first message event, then stop the task.
	buf := make([]byte, 0, 4096)
	var task string
	for task == "" {
		chunk := make([]byte, 1024)
		n, err := resp.Body.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if i := strings.Index(string(buf), `"event":"message"`); i >= 0 {
			evs := readEvents(t, buf[:strings.LastIndex(string(buf), "\n\n")+2])
			for _, ev := range evs {
				if ev.name == "message" {
					task = ev.data["task_id"].(string)
				}
			}
		}
		if err != nil {
			t.Fatalf("stream ended early: %v (%s)", err, buf)
		}
	}
	wantStatus(t, do(t, s, "POST", "/chat-messages/"+task+"/stop", `{"user":"u"}`), 200)
	rest := make([]byte, 0)
	for {
		chunk := make([]byte, 1024)
		n, err := resp.Body.Read(chunk)
		rest = append(rest, chunk[:n]...)
		if err != nil {
			break
		}
	}
	evs := readEvents(t, append(buf, rest...))
	checkEvents(t, evs)
	n := len(evs)
	if evs[n-2].name != "message_end" || evs[n-1].name != "workflow_finished" {
		t.Fatalf("events = %v", names(evs))
	}
	wf := evs[n-1].data["data"].(map[string]any)
	if wf["status"] != "stopped" || wf["error"] != "Stopped by user." {
		t.Errorf("workflow_finished data = %v", wf)
	}
	for _, ev := range evs {
		if ev.name == "error" {
			t.Errorf("a stopped run sent an error event: %s", ev.raw)
		}
	}
	// The partial answer is stored, status normal.
	cid := evs[0].data["conversation_id"].(string)
	m := do(t, s, "GET", "/messages?user=u&conversation_id="+cid, nil).json(t)["data"].([]any)[0].(map[string]any)
	if m["answer"] != "You" || m["status"] != "normal" || m["error"] != nil {
		t.Errorf("stored message = %v", m)
	}
	run := do(t, s, "GET", "/workflows/run/"+evs[0].data["workflow_run_id"].(string), nil).json(t)
	if run["status"] != "stopped" {
		t.Errorf("run status = %v", run["status"])
	}
}

func TestFailNextRun(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.FailNextRun("model exploded")
	v := wantError(t, do(t, s, "POST", "/chat-messages", `{"inputs":{},"query":"q","user":"u"}`), 400, "invalid_param")
	if v["message"] != "Run failed: model exploded" {
		t.Errorf("message = %v", v["message"])
	}
	s.FailNextRun("again")
	_, evs := stream(t, s, "u", "", "q")
	n := len(evs)
	if evs[n-2].name != "workflow_finished" || evs[n-1].name != "error" || slices.Contains(names(evs), "message_end") {
		t.Fatalf("events = %v", names(evs))
	}
	if _, ok := evs[n-1].data["task_id"]; ok {
		t.Errorf("error event has a task_id: %s", evs[n-1].raw)
	}
	// The next run is fine again.
	_, evs = stream(t, s, "u", "", "q")
	if evs[len(evs)-1].name != "workflow_finished" {
		t.Errorf("events = %v", names(evs))
	}
}

func TestConcurrentChats(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "user" + string(rune('a'+i))
			cid := ""
			for range 3 {
				if i%2 == 0 {
					cid = chat(t, s, user, cid, "hello")["conversation_id"].(string)
				} else {
					_, evs := stream(t, s, user, cid, "hello")
					cid = evs[0].data["conversation_id"].(string)
				}
				do(t, s, "GET", "/conversations?user="+user, nil)
				do(t, s, "GET", "/messages?user="+user+"&conversation_id="+cid, nil)
			}
		}()
	}
	wg.Wait()
	for i := range 8 {
		user := "user" + string(rune('a'+i))
		r := do(t, s, "GET", "/conversations?user="+user, nil)
		data := r.json(t)["data"].([]any)
		if len(data) != 1 {
			t.Errorf("%s has %d conversations", user, len(data))
		}
	}
}
