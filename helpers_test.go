package chatflow

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/difykit/chatflow/internal/spectest"
)

// testKey is the API key of test clients; tests check that it never leaks.
const testKey = "app-test-secret-key-123"

// setup starts a test server whose handlers are registered on mux, with
// every request validated against the API description, and returns a client
// for it (retries off, so that each test sees exactly one request).
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux, string) {
	t.Helper()
	mux := http.NewServeMux()
	root := http.NewServeMux()
	root.Handle("/v1/", http.StripPrefix("/v1", mux))
	srv := httptest.NewServer(spectest.Handler(t, "/v1", root))
	t.Cleanup(srv.Close)
	opts = append([]Option{WithBaseURL(srv.URL + "/v1"), WithMaxRetries(0)}, opts...)
	c, err := NewClient(testKey, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, mux, srv.URL
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if r.Method != want {
		t.Errorf("request method = %s, want %s", r.Method, want)
	}
}

func testHeader(t *testing.T, r *http.Request, name, want string) {
	t.Helper()
	if got := r.Header.Get(name); got != want {
		t.Errorf("header %s = %q, want %q", name, got, want)
	}
}

// testJSONBody checks that the request body decodes to the same JSON value
// as want.
func testJSONBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	var got, exp any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad test: %v", err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("request body = %s, want %s", b, want)
	}
}

// writeJSON answers with status and a JSON body.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
