package relay_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/relay"
)

// testKey is the API key of the tests' upstreams: long, so that its 8-byte
// pieces are easy to look for.
const testKey = "app-RelayTestKey0123456789abcdefXYZ"

// alice is the end user every test's user function names.
func alice(*http.Request) (string, error) { return "alice", nil }

// newClient returns a client of the server at base with testKey, without
// retries (so that an upstream's requests are counted exactly).
func newClient(t *testing.T, base, key string) *chatflow.Client {
	t.Helper()
	c, err := chatflow.NewClient(key, chatflow.WithBaseURL(base), chatflow.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fake is the fake Dify server behind a relay, with hooks on its requests.
type fake struct {
	*chatflowtest.Server
	relay *httptest.Server // the relay, mounted at /api/
	stops chan string      // the path of each stop request the fake got
}

// newFake starts a fake Dify server and a relay in front of it, mounted
// under /api/ with user as the user function.
func newFake(t *testing.T, user func(*http.Request) (string, error), opts ...relay.Option) *fake {
	t.Helper()
	srv := chatflowtest.NewUnstartedServer(chatflowtest.WithAPIKey(testKey))
	f := &fake{Server: srv, stops: make(chan string, 16)}
	inner := srv.Handler()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/stop") {
			select {
			case f.stops <- r.URL.Path:
			default:
			}
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(srv.Close)
	c := newClient(t, up.URL+chatflowtest.Prefix, testKey)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", relay.New(c, user, opts...)))
	f.relay = httptest.NewServer(mux)
	t.Cleanup(f.relay.Close)
	return f
}

// upstream is a scripted Dify server: each request is recorded and
// answered by handle.
type upstream struct {
	*httptest.Server
	reqs chan seen
}

// seen is a request an upstream got.
type seen struct {
	Method, Path, Query, ContentType, Auth string
	Body                                   []byte
}

func newUpstream(t *testing.T, handle http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{reqs: make(chan seen, 64)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.reqs <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		handle(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// relayFor starts a relay, mounted at /api/, in front of u.
func relayFor(t *testing.T, u *upstream, user func(*http.Request) (string, error), opts ...relay.Option) *httptest.Server {
	t.Helper()
	c := newClient(t, u.URL+"/v1", testKey)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", relay.New(c, user, opts...)))
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// noRequests fails when u got a request.
func (u *upstream) noRequests(t *testing.T) {
	t.Helper()
	select {
	case r := <-u.reqs:
		t.Errorf("upstream got %s %s; want nothing sent upstream", r.Method, r.Path)
	default:
	}
}

// do sends a request to the relay and returns the status, headers and body.
func do(t *testing.T, method, url, contentType, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// difyErr decodes Dify's error body and checks its shape and status.
func difyErr(t *testing.T, resp *http.Response, body string, status int, code string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	if resp.StatusCode != status || m["code"] != code || m["status"] != float64(status) {
		t.Fatalf("got %d %s; want %d with code %q and status %d", resp.StatusCode, body, status, code, status)
	}
	if _, ok := m["message"].(string); !ok {
		t.Fatalf("body %s has no message", body)
	}
	return m
}

// sse reads a text/event-stream reply frame by frame.
type sse struct {
	resp *http.Response
	br   *bufio.Reader
}

// openStream posts a streaming chat message to the relay at url.
func openStream(t *testing.T, ctx context.Context, url, body string) *sse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return &sse{resp: resp, br: bufio.NewReader(resp.Body)}
}

// next returns the next frame (without its blank line); io.EOF at the end.
func (s *sse) next() (string, error) {
	var frame strings.Builder
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			if err == io.EOF && frame.Len() > 0 {
				return "", errors.New("stream ended inside a frame: " + frame.String())
			}
			return "", err
		}
		if line == "\n" {
			return frame.String(), nil
		}
		frame.WriteString(line)
	}
}

// event decodes a data frame.
func event(t *testing.T, frame string) map[string]any {
	t.Helper()
	data, ok := strings.CutPrefix(frame, "data: ")
	if !ok {
		return map[string]any{"event": strings.TrimSpace(strings.TrimPrefix(frame, "event: "))}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &m); err != nil {
		t.Fatalf("frame %q: %v", frame, err)
	}
	return m
}
