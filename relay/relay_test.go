package relay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/difykit/chatflow/relay"
)

// okUpstream answers every request with a small JSON object.
func okUpstream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"result":"success"}`)
}

func TestUserFunctionFailsIs401AndNothingUpstream(t *testing.T) {
	t.Parallel()
	for name, user := range map[string]func(*http.Request) (string, error){
		"error": func(*http.Request) (string, error) { return "", errors.New("no session") },
		"empty": func(*http.Request) (string, error) { return "", nil },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := newUpstream(t, okUpstream)
			rs := relayFor(t, u, user)
			for _, c := range []struct{ method, path, body string }{
				{"POST", "/chat-messages", `{"query":"q","inputs":{},"user":"alice"}`},
				{"GET", "/conversations?user=alice", ""},
				{"GET", "/parameters", ""},
			} {
				resp, body := do(t, c.method, rs.URL+"/api"+c.path, "application/json", c.body)
				difyErr(t, resp, body, http.StatusUnauthorized, "unauthorized")
			}
			u.noRequests(t)
		})
	}
}

// Every listed endpoint reaches its upstream path with the user of
// user(r), whatever the browser says, and never with the browser's
// Authorization header.
func TestEndpointsReachUpstreamAsUser(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, okUpstream)
	rs := relayFor(t, u, alice)
	cases := []struct {
		method, path, body, upPath string
		where                      string // where the user goes: query, json or form
	}{
		{"POST", "/chat-messages/task-1/stop", `{"user":"mallory"}`, "/v1/chat-messages/task-1/stop", "json"},
		{"GET", "/conversations?user=mallory&limit=5", "", "/v1/conversations", "query"},
		{"DELETE", "/conversations/c-1", `{"user":"mallory"}`, "/v1/conversations/c-1", "json"},
		{"DELETE", "/conversations/c-2", ``, "/v1/conversations/c-2", "json"},
		{"POST", "/conversations/c-1/name", `{"name":"n","user":"mallory"}`, "/v1/conversations/c-1/name", "json"},
		{"GET", "/conversations/c-1/variables?user=mallory", "", "/v1/conversations/c-1/variables", "query"},
		{"GET", "/messages?conversation_id=c-1&user=mallory", "", "/v1/messages", "query"},
		{"POST", "/messages/m-1/feedbacks", `{"rating":"like","user":"mallory"}`, "/v1/messages/m-1/feedbacks", "json"},
		{"GET", "/messages/m-1/suggested?user=mallory", "", "/v1/messages/m-1/suggested", "query"},
		{"GET", "/parameters?user=mallory", "", "/v1/parameters", "query"},
		{"GET", "/meta", "", "/v1/meta", "query"},
		{"GET", "/info", "", "/v1/info", "query"},
		{"GET", "/site", "", "/v1/site", "query"},
		{"POST", "/text-to-audio", `{"text":"hi","user":"mallory"}`, "/v1/text-to-audio", "json"},
		{"GET", "/form/human_input/tok-1", "", "/v1/form/human_input/tok-1", "query"},
		{"POST", "/form/human_input/tok-1", `{"action":"ok","inputs":{},"user":"mallory"}`, "/v1/form/human_input/tok-1", "json"},
	}
	for _, c := range cases {
		resp, body := do(t, c.method, rs.URL+"/api"+c.path, "application/json", c.body,
			"Authorization", "Bearer browser-dummy-key")
		if resp.StatusCode != 200 || body != `{"result":"success"}` {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
			continue
		}
		got := <-u.reqs
		if got.Method != c.method || got.Path != c.upPath {
			t.Errorf("%s %s went upstream as %s %s; want %s", c.method, c.path, got.Method, got.Path, c.upPath)
		}
		if got.Auth != "Bearer "+testKey {
			t.Errorf("%s %s: upstream Authorization %q; want the app key", c.method, c.path, got.Auth)
		}
		switch c.where {
		case "query":
			q, _ := url.ParseQuery(got.Query)
			if q["user"] == nil || len(q["user"]) != 1 || q.Get("user") != "alice" {
				t.Errorf("%s %s: upstream query %q; want user=alice only", c.method, c.path, got.Query)
			}
			if c.path == "/conversations?user=mallory&limit=5" && q.Get("limit") != "5" {
				t.Errorf("the browser's limit was not passed on: %q", got.Query)
			}
		case "json":
			var m map[string]any
			if err := json.Unmarshal(got.Body, &m); err != nil || m["user"] != "alice" {
				t.Errorf("%s %s: upstream body %s; want user alice", c.method, c.path, got.Body)
			}
			if !strings.HasPrefix(got.ContentType, "application/json") {
				t.Errorf("%s %s: upstream Content-Type %q", c.method, c.path, got.ContentType)
			}
		}
	}
	for _, path := range []string{"/files/upload", "/audio-to-text"} {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("user", "mallory")
		fw, _ := mw.CreateFormFile("file", "a.txt")
		fmt.Fprint(fw, "file content")
		_ = mw.Close()
		resp, body := do(t, "POST", rs.URL+"/api"+path, mw.FormDataContentType(), b.String())
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
			continue
		}
		got := <-u.reqs
		if got.Path != "/v1"+path {
			t.Errorf("%s went upstream to %s", path, got.Path)
		}
		req, _ := http.NewRequest("POST", "/", bytes.NewReader(got.Body))
		req.Header.Set("Content-Type", got.ContentType)
		if err := req.ParseMultipartForm(1 << 20); err != nil {
			t.Fatalf("%s: upstream body is not multipart: %v", path, err)
		}
		if v := req.MultipartForm.Value["user"]; len(v) != 1 || v[0] != "alice" {
			t.Errorf("%s: upstream user fields %v; want [alice]", path, v)
		}
		if fh := req.MultipartForm.File["file"]; len(fh) != 1 || fh[0].Filename != "a.txt" || fh[0].Size != int64(len("file content")) {
			t.Errorf("%s: upstream file part %v", path, fh)
		}
	}
	u.noRequests(t)
}

func TestUnlistedPathsAre404AndWrongMethods405(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, okUpstream)
	rs := relayFor(t, u, alice)
	for _, c := range []struct{ method, path string }{
		{"GET", "/apps/annotations"},
		{"POST", "/apps/annotations"},
		{"POST", "/apps/annotation-reply/enable"},
		{"GET", "/workflows/logs"},
		{"GET", "/app/feedbacks"},
		{"GET", "/workflows/run/r-1"},
		{"GET", "/end-users/u-1"},
		{"GET", "/workflow/r-1/events"},
		{"GET", "/files/f-1/preview"},
		{"GET", "/conversations/"},
		{"GET", "/"},
	} {
		resp, body := do(t, c.method, rs.URL+"/api"+c.path, "", "")
		difyErr(t, resp, body, http.StatusNotFound, "not_found")
	}
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/chat-messages", "POST"},
		{"PUT", "/conversations/c-1", "DELETE"},
		{"POST", "/parameters", "GET"},
		{"DELETE", "/form/human_input/tok", "GET, POST"},
	} {
		resp, body := do(t, c.method, rs.URL+"/api"+c.path, "", "")
		difyErr(t, resp, body, http.StatusMethodNotAllowed, "method_not_allowed")
		if resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q; want %q", c.method, c.path, resp.Header.Get("Allow"), c.allow)
		}
	}
	u.noRequests(t)
}

func TestBodyLimitsAndMalformedJSON(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, okUpstream)
	rs := relayFor(t, u, alice, relay.WithMaxBodyBytes(100), relay.WithMaxUploadBytes(200))
	big := `{"query":"` + strings.Repeat("x", 200) + `","inputs":{}}`
	resp, body := do(t, "POST", rs.URL+"/api/chat-messages", "application/json", big)
	difyErr(t, resp, body, http.StatusRequestEntityTooLarge, "request_entity_too_large")
	resp, body = do(t, "POST", rs.URL+"/api/conversations/c-1/name", "application/json", big)
	difyErr(t, resp, body, http.StatusRequestEntityTooLarge, "request_entity_too_large")
	for _, bad := range []string{`{"query":`, `[1,2]`, `"text"`, `null`, `{"query":"q","inputs":"not an object"}`} {
		resp, body = do(t, "POST", rs.URL+"/api/chat-messages", "application/json", bad)
		difyErr(t, resp, body, http.StatusBadRequest, "invalid_param")
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "a.txt")
	fmt.Fprint(fw, strings.Repeat("y", 300))
	_ = mw.Close()
	resp, body = do(t, "POST", rs.URL+"/api/files/upload", mw.FormDataContentType(), b.String())
	difyErr(t, resp, body, http.StatusRequestEntityTooLarge, "request_entity_too_large")
	resp, body = do(t, "POST", rs.URL+"/api/files/upload", "application/json", `{}`)
	difyErr(t, resp, body, http.StatusBadRequest, "invalid_param")
	u.noRequests(t)
}

func TestUpstreamErrorsPassThroughWithoutBaseURL(t *testing.T) {
	t.Parallel()
	var base string
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"code":"not_found","message":"Conversation Not Exists. (%s%s)","status":404}`, base, r.URL.Path)
	})
	base = u.URL
	rs := relayFor(t, u, alice)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/messages?conversation_id=c-9", ""},
		{"POST", "/conversations/c-9/name", `{"name":"x"}`},
		{"POST", "/chat-messages", `{"query":"q","inputs":{},"conversation_id":"c-9"}`},
		{"POST", "/chat-messages", `{"query":"q","inputs":{},"conversation_id":"c-9","response_mode":"blocking"}`},
	} {
		resp, body := do(t, c.method, rs.URL+"/api"+c.path, "application/json", c.body)
		m := difyErr(t, resp, body, http.StatusNotFound, "not_found")
		if !strings.HasPrefix(m["message"].(string), "Conversation Not Exists.") {
			t.Errorf("%s %s: message %q", c.method, c.path, m["message"])
		}
		host := strings.TrimPrefix(base, "http://")
		if strings.Contains(body, host) {
			t.Errorf("%s %s: the body names the upstream: %s", c.method, c.path, body)
		}
		for k, v := range resp.Header {
			if strings.Contains(strings.Join(v, " "), host) {
				t.Errorf("header %s names the upstream: %v", k, v)
			}
		}
	}
}

func TestUpstreamErrorEventMidStream(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"event":"workflow_started","task_id":"t1","workflow_run_id":"r1","conversation_id":"c1","message_id":"m1","data":{"id":"r1"}}`+"\n\n")
		fmt.Fprint(w, `data: {"event":"error","task_id":"t1","message_id":"m1","status":400,"code":"completion_request_error","message":"the model failed"}`+"\n\n")
	})
	rs := relayFor(t, u, alice)
	s := openStream(t, t.Context(), rs.URL+"/api/chat-messages", `{"query":"q","inputs":{}}`)
	var last map[string]any
	for {
		frame, err := s.next()
		if err != nil {
			break
		}
		last = event(t, frame)
	}
	if last["event"] != "error" || last["code"] != "completion_request_error" || last["status"] != float64(400) || last["message"] != "the model failed" {
		t.Errorf("last event = %v", last)
	}
}
