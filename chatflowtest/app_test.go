package chatflowtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/gen"
)

func bearer(key string) gen.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+key)
		return nil
	}
}

func upload(t *testing.T, s *chatflowtest.Server, user, name, contentType string, data []byte) reply {
	t.Helper()
	fields := map[string]string{}
	if user != "" {
		fields["user"] = user
	}
	body, ct := multipartBody(t, "file", name, contentType, data, fields)
	return doWith(t, s, "POST", "/files/upload", body, "Bearer "+s.APIKey, ct)
}

func TestFiles(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithMaxUploadSize(1000))
	r := upload(t, s, "alice", "notes.txt", "text/plain", []byte("hello file"))
	wantStatus(t, r, 201)
	f := r.json(t)
	if f["name"] != "notes.txt" || f["size"] != float64(10) || f["extension"] != "txt" || f["mime_type"] != "text/plain" {
		t.Errorf("upload = %s", r.body)
	}
	for _, k := range []string{"id", "created_by"} {
		if s, _ := f[k].(string); s == "" {
			t.Errorf("%s missing: %s", k, r.body)
		}
	}
	id := f["id"].(string)

	// A file no message refers to cannot be previewed.
	wantError(t, do(t, s, "GET", "/files/"+id+"/preview?user=alice", nil), 404, "file_not_found")
	wantError(t, do(t, s, "GET", "/files/00000000-0000-4000-8000-000000000000/preview", nil), 404, "file_not_found")

	// The file can go with a chat message of its owner, not of others.
	msg := map[string]any{"inputs": map[string]any{}, "query": "see file", "user": "alice",
		"files": []any{map[string]any{"type": "document", "transfer_method": "local_file", "upload_file_id": id}}}
	v := do(t, s, "POST", "/chat-messages", msg).json(t)
	hist := do(t, s, "GET", "/messages?user=alice&conversation_id="+v["conversation_id"].(string), nil).json(t)
	files := hist["data"].([]any)[0].(map[string]any)["message_files"].([]any)
	if len(files) != 1 || files[0].(map[string]any)["upload_file_id"] != id {
		t.Errorf("message_files = %v", files)
	}
	msg["user"] = "bob"
	wantError(t, do(t, s, "POST", "/chat-messages", msg), 400, "invalid_param")

	// Now a message refers to it: anyone with the key can preview it.
	r = do(t, s, "GET", "/files/"+id+"/preview?user=alice", nil)
	wantStatus(t, r, 200)
	if string(r.body) != "hello file" || r.header.Get("Content-Type") != "text/plain" {
		t.Errorf("preview = %q %q", r.body, r.header.Get("Content-Type"))
	}
	r = do(t, s, "GET", "/files/"+id+"/preview?as_attachment=true", nil)
	if !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("Content-Disposition = %q", r.header.Get("Content-Disposition"))
	}
	wantStatus(t, do(t, s, "GET", "/files/"+id+"/preview?user=bob", nil), 200)

	// Server-specific errors.
	body, ct := multipartBody(t, "", "", "", nil, map[string]string{"user": "alice"})
	wantError(t, doWith(t, s, "POST", "/files/upload", body, "Bearer "+s.APIKey, ct), 400, "no_file_uploaded")
	wantError(t, upload(t, s, "alice", "big.bin", "application/octet-stream", make([]byte, 1001)), 413, "file_too_large")
}

func TestFeedback(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	mid := chat(t, s, "alice", "", "rate me")["message_id"].(string)
	path := "/messages/" + mid + "/feedbacks"
	wantError(t, do(t, s, "POST", path, `{"rating":"like"}`), 400, "invalid_param")
	wantError(t, do(t, s, "POST", path, `{"rating":"like","user":"bob"}`), 404, "not_found")
	// Dify 1.16.1: 400 invalid_param with a readable message.
	v := wantError(t, do(t, s, "POST", path, `{"rating":"great","user":"alice"}`), 400, "invalid_param")
	if msg := v["message"].(string); !strings.Contains(msg, "rating") || strings.HasPrefix(msg, "[") {
		t.Errorf("400 message = %q, want a readable message naming rating", msg)
	}
	// Later source: 422 with field errors.
	s422 := newServer(t, chatflowtest.WithValidationStatus(422))
	mid = chat(t, s422, "alice", "", "rate me")["message_id"].(string)
	v = wantError(t, do(t, s422, "POST", "/messages/"+mid+"/feedbacks", `{"rating":"great","user":"alice"}`), 422, "unprocessable_entity")
	var fieldErrs []map[string]any
	if err := json.Unmarshal([]byte(v["message"].(string)), &fieldErrs); err != nil || len(fieldErrs) != 1 {
		t.Fatalf("422 message %q is not a JSON array of one field error: %v", v["message"], err)
	}
	if loc, _ := fieldErrs[0]["loc"].([]any); len(loc) != 2 || loc[1] != "rating" {
		t.Errorf("field error = %v", fieldErrs[0])
	}
	r := do(t, s, "POST", path, `{"rating":"like","user":"alice","content":"nice"}`)
	wantStatus(t, r, 200)
	if r.json(t)["result"] != "success" {
		t.Errorf("feedback = %s", r.body)
	}
	fb := do(t, s, "GET", "/app/feedbacks", nil).json(t)["data"].([]any)
	if len(fb) != 1 || fb[0].(map[string]any)["rating"] != "like" || fb[0].(map[string]any)["content"] != "nice" {
		t.Errorf("app feedbacks = %v", fb)
	}
	cid := fb[0].(map[string]any)["conversation_id"].(string)
	m := do(t, s, "GET", "/messages?user=alice&conversation_id="+cid, nil).json(t)["data"].([]any)[0].(map[string]any)
	if m["feedback"].(map[string]any)["rating"] != "like" {
		t.Errorf("message feedback = %v", m["feedback"])
	}
	// null revokes.
	wantStatus(t, do(t, s, "POST", path, `{"rating":null,"user":"alice"}`), 200)
	if fb := do(t, s, "GET", "/app/feedbacks?page=1&limit=10", nil).json(t)["data"].([]any); len(fb) != 0 {
		t.Errorf("after revoke: %v", fb)
	}
}

func TestSuggested(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithSuggestedQuestions("A?", "B?"))
	mid := chat(t, s, "alice", "", "hi")["message_id"].(string)
	r := do(t, s, "GET", "/messages/"+mid+"/suggested?user=alice", nil)
	if v := r.json(t); v["result"] != "success" || len(v["data"].([]any)) != 2 {
		t.Errorf("suggested = %s", r.body)
	}
	v := wantError(t, do(t, s, "GET", "/messages/"+mid+"/suggested", nil), 400, "invalid_param")
	if v["message"] != "Arg user must be provided." {
		t.Errorf("message = %v", v["message"])
	}
	wantError(t, do(t, s, "GET", "/messages/"+mid+"/suggested?user=bob", nil), 404, "not_found")
}

func TestAnnotations(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := do(t, s, "POST", "/apps/annotations", `{"question":"What is Dify?","answer":"An LLM app platform."}`)
	wantStatus(t, r, 201)
	id := r.json(t)["id"].(string)
	do(t, s, "POST", "/apps/annotations", `{"question":"Who?","answer":"Us."}`)
	r = do(t, s, "GET", "/apps/annotations?keyword=dify&page=1&limit=10", nil)
	if v := r.json(t); v["total"] != float64(1) || v["page"] != float64(1) || len(v["data"].([]any)) != 1 {
		t.Errorf("list = %s", r.body)
	}
	r = do(t, s, "PUT", "/apps/annotations/"+id, `{"question":"What is Dify?","answer":"Open source."}`)
	if r.json(t)["answer"] != "Open source." {
		t.Errorf("update = %s", r.body)
	}
	wantStatus(t, do(t, s, "DELETE", "/apps/annotations/"+id, nil), 204)
	wantError(t, do(t, s, "DELETE", "/apps/annotations/"+id, nil), 404, "not_found")
	if v := do(t, s, "GET", "/apps/annotations?limit=1", nil).json(t); v["total"] != float64(1) || v["has_more"] != false {
		t.Errorf("after delete: %v", v)
	}

	r = do(t, s, "POST", "/apps/annotation-reply/enable", `{"embedding_provider_name":"openai","embedding_model_name":"text-embedding-3-small","score_threshold":0.9}`)
	job := r.json(t)["job_id"].(string)
	r = do(t, s, "GET", "/apps/annotation-reply/enable/status/"+job, nil)
	if r.json(t)["job_status"] != "completed" {
		t.Errorf("status = %s", r.body)
	}
	v := wantError(t, do(t, s, "GET", "/apps/annotation-reply/enable/status/00000000-0000-4000-8000-000000000000", nil), 404, "not_found")
	if v["message"] != "The job does not exist." {
		t.Errorf("message = %v", v["message"])
	}
	// A job of the other action is not found either.
	wantError(t, do(t, s, "GET", "/apps/annotation-reply/disable/status/"+job, nil), 404, "not_found")
	v = wantError(t, do(t, s, "POST", "/apps/annotation-reply/enable", `{"embedding_provider_name":"openai"}`), 400, "invalid_param")
	if msg := v["message"].(string); !strings.Contains(msg, "embedding_model_name") {
		t.Errorf("400 message = %q", msg)
	}
	s422 := newServer(t, chatflowtest.WithValidationStatus(422))
	v = wantError(t, do(t, s422, "POST", "/apps/annotation-reply/enable", `{"embedding_provider_name":"openai"}`), 422, "unprocessable_entity")
	if msg := v["message"].(string); !strings.Contains(msg, `"loc":["body","embedding_model_name"]`) || !strings.Contains(msg, `"type":"missing"`) {
		t.Errorf("422 message = %q", msg)
	}
}

func TestAppInfo(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	if v := do(t, s, "GET", "/info", nil).json(t); v["mode"] != "advanced-chat" {
		t.Errorf("info = %v", v)
	}
	// Unknown query parameters (the Node SDK sends user) are ignored.
	if v := do(t, s, "GET", "/parameters?user=alice", nil).json(t); v["system_parameters"] == nil {
		t.Errorf("parameters = %v", v)
	}
	wantStatus(t, do(t, s, "GET", "/meta", nil), 200)
	wantStatus(t, do(t, s, "GET", "/site", nil), 200)
	wantError(t, do(t, s, "GET", "/no/such/path", nil), 404, "not_found")
	wantError(t, do(t, s, "PATCH", "/info", `{}`), 405, "method_not_allowed")
}

func TestEndUser(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := upload(t, s, "dave", "a.txt", "text/plain", []byte("x"))
	uid := r.json(t)["created_by"].(string)
	r = do(t, s, "GET", "/end-users/"+uid, nil)
	if v := r.json(t); v["session_id"] != "dave" || v["is_anonymous"] != false || v["id"] != uid {
		t.Errorf("end user = %s", r.body)
	}
	wantError(t, do(t, s, "GET", "/end-users/00000000-0000-4000-8000-000000000000", nil), 404, "end_user_not_found")
}

func TestAudio(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	r := do(t, s, "POST", "/text-to-audio", `{"text":"say this","user":"u","voice":"alloy"}`)
	wantStatus(t, r, 200)
	if r.header.Get("Content-Type") != "audio/mpeg" || len(r.body) == 0 || r.body[0] != 0xFF {
		t.Errorf("audio = %q, %d bytes", r.header.Get("Content-Type"), len(r.body))
	}
	wantError(t, do(t, s, "POST", "/text-to-audio", `{"user":"u"}`), 400, "invalid_param")
	mid := chat(t, s, "u", "", "read it")["message_id"].(string)
	wantStatus(t, do(t, s, "POST", "/text-to-audio", `{"message_id":"`+mid+`","user":"u"}`), 200)
	// An unknown message gives 200 with a null JSON body, like Dify (the
	// description does not say so).
	r = doUnchecked(t, s, "POST", "/text-to-audio", `{"message_id":"00000000-0000-4000-8000-000000000000"}`, "Bearer "+s.APIKey, "application/json")
	if r.status != 200 || strings.TrimSpace(string(r.body)) != "null" {
		t.Errorf("unknown message: %d %q", r.status, r.body)
	}

	body, ct := multipartBody(t, "file", "voice.mp3", "audio/mpeg", []byte("ID3..."), map[string]string{"user": "u"})
	r = doWith(t, s, "POST", "/audio-to-text", body, "Bearer "+s.APIKey, ct)
	if v := r.json(t); v["text"] == "" || r.status != 200 {
		t.Errorf("audio-to-text = %d %s", r.status, r.body)
	}
	body, ct = multipartBody(t, "", "", "", nil, map[string]string{"user": "u"})
	wantError(t, doWith(t, s, "POST", "/audio-to-text", body, "Bearer "+s.APIKey, ct), 400, "bad_request_key_error")
	body, ct = multipartBody(t, "file", "notes.txt", "text/plain", []byte("x"), nil)
	wantError(t, doWith(t, s, "POST", "/audio-to-text", body, "Bearer "+s.APIKey, ct), 415, "unsupported_audio_type")
}

func TestWorkflowRuns(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	_, evs := stream(t, s, "erin", "", "run it")
	runID := evs[0].data["workflow_run_id"].(string)
	r := do(t, s, "GET", "/workflows/run/"+runID, nil)
	if v := r.json(t); v["status"] != "succeeded" || v["total_steps"] != float64(3) {
		t.Errorf("run = %s", r.body)
	}
	wantError(t, do(t, s, "GET", "/workflows/run/nope", nil), 404, "not_found")
	r = do(t, s, "GET", "/workflows/logs?status=succeeded&page=1&limit=5", nil)
	if v := r.json(t); v["total"] != float64(1) {
		t.Errorf("logs = %s", r.body)
	}
	// Reattaching to a finished run gives one synthesized workflow_finished
	// without conversation or message ids; the answer is in outputs.
	for _, q := range []string{"", "&include_state_snapshot=true"} {
		r = do(t, s, "GET", "/workflow/"+runID+"/events?user=erin"+q, nil)
		again := readEvents(t, r.body)
		if len(again) != 1 || again[0].name != "workflow_finished" {
			t.Fatalf("reattach%s: %v", q, names(again))
		}
		checkEvents(t, again)
		ev := again[0].data
		if _, ok := ev["conversation_id"]; ok {
			t.Errorf("synthesized event has conversation_id: %s", again[0].raw)
		}
		if _, ok := ev["message_id"]; ok {
			t.Errorf("synthesized event has message_id: %s", again[0].raw)
		}
		if _, ok := ev["answer"]; ok {
			t.Errorf("synthesized event has answer: %s", again[0].raw)
		}
		data := ev["data"].(map[string]any)
		if data["status"] != "succeeded" || data["outputs"].(map[string]any)["answer"] != "You said: run it" || ev["workflow_run_id"] != runID {
			t.Errorf("synthesized event = %s", again[0].raw)
		}
	}
	for _, path := range []string{
		"/workflow/" + runID + "/events?user=frank",
		"/workflow/00000000-0000-4000-8000-000000000000/events?user=erin",
	} {
		v := wantError(t, do(t, s, "GET", path, nil), 404, "not_found")
		if v["message"] != "Workflow run not found" {
			t.Errorf("message = %v", v["message"])
		}
	}
}

func TestHumanInputFormUnknown(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	wantError(t, do(t, s, "GET", "/form/human_input/tok", nil), 404, "not_found")
	wantError(t, do(t, s, "POST", "/form/human_input/tok", `{"inputs":{},"action":"approve","user":"u"}`), 404, "not_found")
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.FailNext("sendChatMessage", 2, 429, "too_many_requests")
	body := `{"inputs":{},"query":"q","user":"u"}`
	wantError(t, do(t, s, "POST", "/chat-messages", body), 429, "too_many_requests")
	wantError(t, do(t, s, "POST", "/chat-messages", body), 429, "too_many_requests")
	wantStatus(t, do(t, s, "GET", "/info", nil), 200) // other operations are not affected
	wantStatus(t, do(t, s, "POST", "/chat-messages", body), 200)

	// An empty code answers like a proxy: HTML.
	s.FailNext("getChatAppInfo", 1, 502, "")
	r := doUnchecked(t, s, "GET", "/info", nil, "Bearer "+s.APIKey, "")
	if r.status != 502 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !bytes.Contains(r.body, []byte("502 Bad Gateway")) {
		t.Errorf("proxy failure = %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	// The key is checked first.
	s.FailNext("getChatAppInfo", 1, 500, "internal_server_error")
	wantError(t, doWith(t, s, "GET", "/info", nil, "Bearer nope", ""), 401, "unauthorized")
	wantError(t, doUnchecked(t, s, "GET", "/info", nil, "Bearer "+s.APIKey, ""), 500, "internal_server_error")
}

func TestSetDelay(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/info", nil)
	req.Header.Set("Authorization", "Bearer "+s.APIKey)
	_, err := s.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline", err)
	}
	s.SetDelay(0)
	wantStatus(t, do(t, s, "GET", "/info", nil), 200)
}

func TestCutStream(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.CutStreamAfter(3)
	req, _ := http.NewRequest("POST", s.URL+"/chat-messages", strings.NewReader(`{"inputs":{},"query":"a b c","user":"u","response_mode":"streaming"}`))
	req.Header.Set("Authorization", "Bearer "+s.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read error = %v, want unexpected EOF", err)
	}
	if evs := readEvents(t, body); len(evs) != 3 {
		t.Errorf("events before the cut = %v", names(evs))
	}
	// Only the next stream is cut; the run itself completed.
	_, evs := stream(t, s, "u", "", "again")
	if evs[len(evs)-1].name != "workflow_finished" {
		t.Errorf("events = %v", names(evs))
	}
	convs := do(t, s, "GET", "/conversations?user=u", nil).json(t)["data"].([]any)
	cid := convs[1].(map[string]any)["id"].(string)
	m := do(t, s, "GET", "/messages?user=u&conversation_id="+cid, nil).json(t)["data"].([]any)[0].(map[string]any)
	if m["answer"] != "You said: a b c" {
		t.Errorf("answer of the cut run = %v", m["answer"])
	}

	s.EndStreamAfter(5)
	_, evs = stream(t, s, "u", "", "a b c")
	if len(evs) != 5 {
		t.Errorf("events = %v", names(evs))
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	chat(t, s, "alice", "", "hi")
	do(t, s, "GET", "/conversations?user=alice", nil)
	doWith(t, s, "GET", "/info", nil, "", "")
	do(t, s, "GET", "/nowhere?user=x", nil)
	got := s.Requests()
	want := []chatflowtest.Request{
		{Method: "POST", Path: "/chat-messages", Operation: "sendChatMessage", User: "alice", Status: 200},
		{Method: "GET", Path: "/conversations", Operation: "getConversationsList", User: "alice", Status: 200},
		{Method: "GET", Path: "/info", Operation: "getChatAppInfo", Status: 401},
		{Method: "GET", Path: "/nowhere", Status: 404},
	}
	if len(got) != len(want) {
		t.Fatalf("requests = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHumanInputPause(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.PauseNextRun()
	_, evs := stream(t, s, "gina", "", "needs approval")
	n := len(evs)
	if n < 2 || evs[n-2].name != "human_input_required" || evs[n-1].name != "workflow_paused" {
		t.Fatalf("events = %v", names(evs))
	}
	data := evs[n-2].data["data"].(map[string]any)
	token := data["form_token"].(string)
	runID := evs[0].data["workflow_run_id"].(string)
	if r := do(t, s, "GET", "/workflows/run/"+runID, nil); r.json(t)["status"] != "paused" {
		t.Errorf("run = %s", r.body)
	}

	r := do(t, s, "GET", "/form/human_input/"+token, nil)
	if v := r.json(t); len(v["user_actions"].([]any)) == 0 {
		t.Errorf("form = %s", r.body)
	}
	wantError(t, do(t, s, "POST", "/form/human_input/"+token, `{"inputs":{},"action":"nope","user":"gina"}`), 400, "invalid_param")
	// A plain reattach to the paused run waits (its ping says it follows
	// the run); submitting the form resumes the run in the background.
	follow := openStream(t, s, "GET", "/workflow/"+runID+"/events?user=gina", nil)
	if ev := follow.must(); !ev.ping {
		t.Fatalf("first event of a plain reattach = %s, want a ping", ev.name)
	}
	wantStatus(t, do(t, s, "POST", "/form/human_input/"+token, `{"inputs":{"note":"fine"},"action":"approve","user":"gina"}`), 200)
	wantError(t, do(t, s, "POST", "/form/human_input/"+token, `{"inputs":{},"action":"approve","user":"gina"}`), 412, "human_input_form_submitted")
	wantError(t, do(t, s, "GET", "/form/human_input/"+token, nil), 412, "human_input_form_submitted")

	rest := follow.rest()
	checkEvents(t, rest)
	got := names(rest)
	if got[0] != "workflow_started" || got[1] != "human_input_form_filled" || got[len(got)-2] != "message_end" || got[len(got)-1] != "workflow_finished" {
		t.Fatalf("resumed events = %v", got)
	}
	rest = rest[1:]
	if filled := rest[0].data["data"].(map[string]any); filled["action_id"] != "approve" || filled["submitted_data"].(map[string]any)["note"] != "fine" {
		t.Errorf("form filled = %s", rest[0].raw)
	}
	cid := evs[0].data["conversation_id"].(string)
	m := do(t, s, "GET", "/messages?user=gina&conversation_id="+cid, nil).json(t)["data"].([]any)[0].(map[string]any)
	if m["answer"] != "You said: needs approval" {
		t.Errorf("answer after resume = %v", m["answer"])
	}
	if r := do(t, s, "GET", "/workflows/run/"+runID, nil); r.json(t)["status"] != "succeeded" {
		t.Errorf("run = %s", r.body)
	}
}
