package chatflowtest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/internal/spectest"
)

// reply is a finished HTTP exchange with the fake.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("reply %d %q is not a JSON object: %v", r.status, r.body, err)
	}
	return v
}

func newServer(t *testing.T, opts ...chatflowtest.Option) *chatflowtest.Server {
	t.Helper()
	s := chatflowtest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// do sends a request with the server's key and checks the reply against
// the API description. body may be nil, a string (sent as is, JSON) or any
// value (encoded as JSON).
func do(t *testing.T, s *chatflowtest.Server, method, path string, body any) reply {
	t.Helper()
	return doWith(t, s, method, path, body, "Bearer "+s.APIKey, "application/json")
}

func doWith(t *testing.T, s *chatflowtest.Server, method, path string, body any, auth, contentType string) reply {
	t.Helper()
	req := newRequest(t, s, method, path, body, auth, contentType)
	return send(t, s, req)
}

// doUnchecked is doWith without checking the reply against the description,
// for replies the real server sends but the description lacks.
func doUnchecked(t *testing.T, s *chatflowtest.Server, method, path string, body any, auth, contentType string) reply {
	t.Helper()
	req := newRequest(t, s, method, path, body, auth, contentType)
	return roundTrip(t, s, req)
}

func newRequest(t *testing.T, s *chatflowtest.Server, method, path string, body any, auth, contentType string) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func send(t *testing.T, s *chatflowtest.Server, req *http.Request) reply {
	t.Helper()
	r := roundTrip(t, s, req)
	checkReply(t, req, r)
	return r
}

func roundTrip(t *testing.T, s *chatflowtest.Server, req *http.Request) reply {
	t.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// checkReply validates a reply against the API description (streams are
// checked event by event elsewhere; 404s from unknown routes have no
// operation).
func checkReply(t *testing.T, req *http.Request, r reply) {
	t.Helper()
	ct := r.header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/event-stream") {
		return
	}
	if _, _, err := spectest.Find(req.Method, strings.TrimPrefix(req.URL.EscapedPath(), "/v1")); err != nil {
		return
	}
	if err := spectest.ValidateResponse(req, "/v1", r.status, r.header, r.body); err != nil {
		t.Errorf("reply to %s %s (%d %s) does not match the API description: %v", req.Method, req.URL.Path, r.status, r.body, err)
	}
}

// wantError checks a Dify error reply.
func wantError(t *testing.T, r reply, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	v := r.json(t)
	if v["code"] != code {
		t.Errorf("code = %v, want %s (body %s)", v["code"], code, r.body)
	}
	if v["status"] != float64(status) {
		t.Errorf("status in body = %v, want %d", v["status"], status)
	}
	if _, ok := v["message"].(string); !ok {
		t.Errorf("message missing in %s", r.body)
	}
	return v
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
}

// chat sends a blocking chat message and returns the reply's JSON.
func chat(t *testing.T, s *chatflowtest.Server, user, conversationID, query string) map[string]any {
	t.Helper()
	body := map[string]any{"inputs": map[string]any{}, "query": query, "user": user}
	if conversationID != "" {
		body["conversation_id"] = conversationID
	}
	r := do(t, s, "POST", "/chat-messages", body)
	wantStatus(t, r, 200)
	return r.json(t)
}

// event is one server-sent event: a ping or a JSON object.
type event struct {
	ping bool
	name string
	data map[string]any
	raw  string
}

// readEvents parses a text/event-stream body.
func readEvents(t *testing.T, body []byte) []event {
	t.Helper()
	var out []event
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var lines []string
	flush := func() {
		if len(lines) == 0 {
			return
		}
		var ev event
		for _, l := range lines {
			switch {
			case l == "event: ping":
				ev.ping = true
				ev.name = "ping"
			case strings.HasPrefix(l, "data: "):
				ev.raw = strings.TrimPrefix(l, "data: ")
				if err := json.Unmarshal([]byte(ev.raw), &ev.data); err != nil {
					t.Fatalf("event data %q is not JSON: %v", ev.raw, err)
				}
				ev.name, _ = ev.data["event"].(string)
			default:
				t.Fatalf("unexpected line %q in stream", l)
			}
		}
		out = append(out, ev)
		lines = nil
	}
	for sc.Scan() {
		if sc.Text() == "" {
			flush()
			continue
		}
		lines = append(lines, sc.Text())
	}
	if len(lines) > 0 {
		t.Fatalf("stream ends inside an event: %q", lines)
	}
	return out
}

func names(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.name)
	}
	return out
}

// multipartBody builds a multipart/form-data body with one file part and
// optional fields.
func multipartBody(t *testing.T, field, filename, contentType string, data []byte, fields map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if field != "" {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="` + field + `"; filename="` + filename + `"`}
		h["Content-Type"] = []string{contentType}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// sse reads a stream event by event, as the events arrive.
type sse struct {
	t    *testing.T
	resp *http.Response
	br   *bufio.Reader
}

// openStream sends a request whose reply is an event stream and returns a
// reader for it (closed at the end of the test).
func openStream(t *testing.T, s *chatflowtest.Server, method, path string, body any) *sse {
	t.Helper()
	req := newRequest(t, s, method, path, body, "Bearer "+s.APIKey, "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %q %s", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return &sse{t: t, resp: resp, br: bufio.NewReader(resp.Body)}
}

// next returns the next event; ok is false at the end of the stream (err
// says how it ended: nil for a clean end).
func (r *sse) next() (ev event, ok bool, err error) {
	r.t.Helper()
	var raw []byte
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			if err == io.EOF && len(raw) == 0 && line == "" {
				return event{}, false, nil
			}
			return event{}, false, err
		}
		if line == "\n" {
			if len(raw) == 0 {
				continue
			}
			evs := readEvents(r.t, append(raw, '\n'))
			return evs[0], true, nil
		}
		raw = append(raw, line...)
	}
}

// must returns the next event and fails the test at the end of the stream.
func (r *sse) must() event {
	r.t.Helper()
	ev, ok, err := r.next()
	if !ok {
		r.t.Fatalf("stream ended (%v), want another event", err)
	}
	return ev
}

// until reads events up to and including the first one named name.
func (r *sse) until(name string) []event {
	r.t.Helper()
	var out []event
	for {
		ev := r.must()
		out = append(out, ev)
		if ev.name == name {
			return out
		}
	}
}

// rest reads the events up to the end of the stream, which must be clean.
func (r *sse) rest() []event {
	r.t.Helper()
	var out []event
	for {
		ev, ok, err := r.next()
		if !ok {
			if err != nil {
				r.t.Fatalf("stream ended with %v after %v", err, names(out))
			}
			return out
		}
		out = append(out, ev)
	}
}
