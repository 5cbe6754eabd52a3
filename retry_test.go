package chatflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
)

// retryWaitBase is the ceiling of the first backoff wait (the README's
// figure); each retry doubles it, up to WithRetryWaitMax.
const retryWaitBase = 500 * time.Millisecond

const testVarID = "2b7d4e80-91aa-4c3e-8f0d-5e6a7b8c9d01"

// TestRetryStatuses: a GET answered with a retryable status is sent again
// (here twice, and then it succeeds); one answered with any other error
// status is sent once and its error returned.
func TestRetryStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		retried bool
	}{
		{408, true}, {429, true}, {500, true}, {502, true}, {503, true}, {504, true},
		{400, false}, {401, false}, {403, false}, {404, false}, {409, false}, {413, false}, {415, false}, {501, false},
	}
	for _, tt := range tests {
		name := strconv.Itoa(tt.status) + " retried"
		if !tt.retried {
			name = strconv.Itoa(tt.status) + " not retried"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t, WithMaxRetries(2))
			var n atomic.Int32
			if tt.retried {
				mux.HandleFunc("GET /meta", flaky(2, tt.status, nil, &n, func(w http.ResponseWriter, r *http.Request) {
					writeJSON(w, 200, metaBody)
				}))
			} else {
				mux.HandleFunc("GET /meta", flaky(5, tt.status, nil, &n, nil))
			}
			var w waits
			resp, err := c.API().GetChatAppMetaWithResponse(w.ctx(context.Background()))
			if !tt.retried {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != tt.status {
					t.Fatalf("err = %v, want an APIError %d", err, tt.status)
				}
				if got := n.Load(); got != 1 {
					t.Errorf("attempts = %d, want 1", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if resp.JSON200 == nil {
				t.Fatalf("no JSON200 after retries")
			}
			if got := n.Load(); got != 3 {
				t.Errorf("attempts = %d, want 3", got)
			}
			if got := len(w.get()); got != 2 {
				t.Errorf("waits = %d, want 2", got)
			}
		})
	}
}
func TestRetryExhaustedReturnsLastReply(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(3))
	var n atomic.Int32
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		fmt.Fprintf(w, "<html><title>Bad Gateway %d</title></html>", i)
	})
	var w waits
	_, err := c.API().GetChatAppMetaWithResponse(w.ctx(context.Background()))
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 502 {
		t.Fatalf("err = %v, want APIError 502", err)
	}
	if !strings.Contains(ae.Message, "Bad Gateway 4") {
		t.Errorf("message = %q, want the last reply's", ae.Message)
	}
	if got := n.Load(); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
	if got := len(w.get()); got != 3 {
		t.Errorf("waits = %d, want 3", got)
	}
}

func TestRetryDefaultCount(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		writeJSON(w, 503, `{"code":"unavailable","message":"busy","status":503}`)
	})
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	var w waits
	_, err = c.API().GetChatAppMetaWithResponse(w.ctx(context.Background()))
	if err == nil {
		t.Fatal("no error")
	}
	if got := n.Load(); got != int32(DefaultMaxRetries+1) {
		t.Errorf("attempts = %d, want %d", got, DefaultMaxRetries+1)
	}
}

func TestRetryDisabledAndPerCall(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(0))
	var n atomic.Int32
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		writeJSON(w, 503, `{"code":"x","message":"y","status":503}`)
	})
	var w waits
	ctx := w.ctx(context.Background())
	if _, err := c.API().GetChatAppMetaWithResponse(ctx); err == nil {
		t.Fatal("no error")
	}
	if got := n.Load(); got != 1 {
		t.Errorf("WithMaxRetries(0): attempts = %d, want 1", got)
	}
	n.Store(0)
	if _, err := c.API().GetChatAppMetaWithResponse(WithRetries(ctx, 4)); err == nil {
		t.Fatal("no error")
	}
	if got := n.Load(); got != 5 {
		t.Errorf("WithRetries(ctx, 4): attempts = %d, want 5", got)
	}

	c2, mux2, _ := setup(t, WithMaxRetries(3))
	var n2 atomic.Int32
	mux2.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		n2.Add(1)
		writeJSON(w, 503, `{"code":"x","message":"y","status":503}`)
	})
	for _, k := range []int{0, -1} {
		n2.Store(0)
		if _, err := c2.API().GetChatAppMetaWithResponse(WithRetries(ctx, k)); err == nil {
			t.Fatal("no error")
		}
		if got := n2.Load(); got != 1 {
			t.Errorf("WithRetries(ctx, %d): attempts = %d, want 1", k, got)
		}
	}
}

func TestRetryPOSTNeverRepeatedAfterServerError(t *testing.T) {
	t.Parallel()
	for _, status := range []int{408, 500, 502, 503, 504} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t, WithMaxRetries(3))
			var n atomic.Int32
			mux.HandleFunc("POST /chat-messages", flaky(5, status, http.Header{"Retry-After": {"1"}}, &n, nil))
			var w waits
			_, err := c.API().SendChatMessageWithResponse(w.ctx(context.Background()), ChatRequest{Query: "hi", User: "u", Inputs: map[string]any{}})
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != status {
				t.Fatalf("err = %v, want APIError %d", err, status)
			}
			if got := n.Load(); got != 1 {
				t.Errorf("POST attempts = %d, want 1", got)
			}
		})
	}
}

func TestRetryPOSTOn429ResendsSameBody(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(2))
	var (
		mu     sync.Mutex
		bodies []string
		n      atomic.Int32
	)
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) <= 2 {
			writeJSON(w, 429, `{"code":"too_many_requests","message":"slow down","status":429}`)
			return
		}
		writeJSON(w, 200, chatReply)
	})
	var w waits
	resp, err := c.API().SendChatMessageWithResponse(w.ctx(context.Background()), ChatRequest{Query: "héllo", User: "u", Inputs: map[string]any{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil || resp.JSON200.Answer != "hi" {
		t.Fatalf("reply = %s", resp.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 3 {
		t.Fatalf("attempts = %d, want 3", len(bodies))
	}
	for i, b := range bodies {
		if b != bodies[0] || b == "" {
			t.Errorf("body of attempt %d = %q, want %q", i+1, b, bodies[0])
		}
	}
}

func TestRetryPUTResendsSameBody(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(2))
	var (
		mu     sync.Mutex
		bodies []string
		n      atomic.Int32
	)
	mux.HandleFunc("PUT /conversations/{cid}/variables/{vid}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) <= 2 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html><title>502 Bad Gateway</title></html>")
			return
		}
		writeJSON(w, 200, `{"id":"`+testVarID+`","name":"n","value_type":"string","value":"v","description":"","created_at":1,"updated_at":1}`)
	})
	var w waits
	_, err := c.API().UpdateChatConversationVariableWithResponse(w.ctx(context.Background()), testConvID, testVarID,
		gen.ConversationVariableUpdateRequest{User: "u", Value: "v"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 3 {
		t.Fatalf("attempts = %d, want 3", len(bodies))
	}
	for i, b := range bodies {
		if b != bodies[0] || !strings.Contains(b, `"value":"v"`) {
			t.Errorf("body of attempt %d = %q, want %q", i+1, b, bodies[0])
		}
	}
}

func TestRetryDELETE(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(2))
	var n atomic.Int32
	mux.HandleFunc("DELETE /conversations/{cid}", flaky(1, 504, nil, &n, func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"user":"u"}`)
		w.WriteHeader(204)
	}))
	var w waits
	if err := c.DeleteConversation(w.ctx(context.Background()), testConvID, "u"); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}

// onlyReader hides every method but Read, so that net/http cannot replay it.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestRetryNeverReplaysUnreplayableBody(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(3))
	var n atomic.Int32
	mux.HandleFunc("POST /files/upload", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, 429, `{"code":"too_many_requests","message":"slow down","status":429}`)
	})
	body := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
	var w waits
	_, err := c.API().UploadChatFileWithBodyWithResponse(w.ctx(context.Background()), "multipart/form-data; boundary=b", onlyReader{strings.NewReader(body)})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("attempts = %d, want 1 (body cannot be replayed)", got)
	}
}

// TestRetryAfter: the client waits as long as Retry-After says (seconds or
// an HTTP date), no longer than the longest wait allowed, and backs off as
// usual when the header makes no sense.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []Option
		post       bool // POST /chat-messages; else GET /meta
		failures   int32
		status     int
		retryAfter func() string // the header's value, made when the reply is sent
		check      func(t *testing.T, got []time.Duration)
	}{
		{
			name: "seconds", opts: []Option{WithMaxRetries(2)}, post: true, failures: 2, status: 429,
			retryAfter: func() string { return "3" },
			check: func(t *testing.T, got []time.Duration) {
				if len(got) != 2 || got[0] != 3*time.Second || got[1] != 3*time.Second {
					t.Errorf("waits = %v, want [3s 3s]", got)
				}
			},
		},
		{
			name: "HTTP date", opts: []Option{WithMaxRetries(1)}, failures: 1, status: 503,
			retryAfter: func() string { return time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat) },
			check: func(t *testing.T, got []time.Duration) {
				if len(got) != 1 || got[0] < 8*time.Second || got[0] > 10*time.Second {
					t.Errorf("waits = %v, want one of about 9-10s", got)
				}
			},
		},
		{
			name: "capped", opts: []Option{WithMaxRetries(1), WithRetryWaitMax(5 * time.Second)}, failures: 1, status: 429,
			retryAfter: func() string { return "3600" },
			check: func(t *testing.T, got []time.Duration) {
				if len(got) != 1 || got[0] != 5*time.Second {
					t.Errorf("waits = %v, want [5s]", got)
				}
			},
		},
		{
			name: "invalid falls back to backoff", opts: []Option{WithMaxRetries(1)}, failures: 1, status: 503,
			retryAfter: func() string { return "soon" },
			check: func(t *testing.T, got []time.Duration) {
				if len(got) != 1 || got[0] > retryWaitBase {
					t.Errorf("waits = %v, want one backoff <= %v", got, retryWaitBase)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t, tt.opts...)
			route, okBody := "GET /meta", metaBody
			if tt.post {
				route, okBody = "POST /chat-messages", chatReply
			}
			var n atomic.Int32
			mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
				flaky(tt.failures, tt.status, http.Header{"Retry-After": {tt.retryAfter()}}, &n, func(w http.ResponseWriter, r *http.Request) {
					writeJSON(w, 200, okBody)
				})(w, r)
			})
			var w waits
			ctx := w.ctx(context.Background())
			var err error
			if tt.post {
				_, err = c.API().SendChatMessageWithResponse(ctx, ChatRequest{Query: "q", User: "u", Inputs: map[string]any{}})
			} else {
				_, err = c.API().GetChatAppMetaWithResponse(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, w.get())
		})
	}
}
func TestRetryBackoffJitterAndCap(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(8), WithRetryWaitMax(4*time.Second))
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, `{"code":"internal_server_error","message":"boom","status":500}`)
	})
	var w waits
	if _, err := c.API().GetChatAppMetaWithResponse(w.ctx(context.Background())); err == nil {
		t.Fatal("no error")
	}
	got := w.get()
	if len(got) != 8 {
		t.Fatalf("waits = %v, want 8", got)
	}
	for i, d := range got {
		ceiling := min(retryWaitBase<<i, 4*time.Second)
		if d < 0 || d > ceiling {
			t.Errorf("wait %d = %v, want within [0, %v]", i, d, ceiling)
		}
	}
}

func TestRetryWaitPastDeadlineGivesUpAtOnce(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(3))
	var n atomic.Int32
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "10")
		writeJSON(w, 503, `{"code":"busy","message":"come back later","status":503}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.API().GetChatAppMetaWithResponse(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v: the client waited into the deadline instead of giving up", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || ae.Code != "busy" || ae.RetryAfter != 10*time.Second {
		t.Fatalf("err = %#v, want the last reply's APIError", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

func TestRetryCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(3))
	var n atomic.Int32
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "20")
		writeJSON(w, 503, `{"code":"busy","message":"come back later","status":503}`)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the client is waiting before its retry (20s, from
	// Retry-After): the real wait must end at once.
	ctx = context.WithValue(ctx, sleepKey{}, sleepFunc(func(ctx context.Context, d time.Duration) error {
		cancel()
		return transport.SleepContext(ctx, d)
	}))
	_, err := c.API().GetChatAppMetaWithResponse(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Errorf("err = %v, want it to carry the last reply's APIError", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

// countingTransport counts round trips and tracks reply bodies.
type countingTransport struct {
	rt     http.RoundTripper
	n      atomic.Int32
	mu     sync.Mutex
	bodies []*trackedBody
}

type trackedBody struct {
	io.ReadCloser
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return b.ReadCloser.Close() }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	resp, err := c.rt.RoundTrip(r)
	if resp != nil {
		tb := &trackedBody{ReadCloser: resp.Body}
		resp.Body = tb
		c.mu.Lock()
		c.bodies = append(c.bodies, tb)
		c.mu.Unlock()
	}
	return resp, err
}

func (c *countingTransport) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.bodies {
		if !b.closed.Load() {
			n++
		}
	}
	return n
}

func TestRetryDialErrors(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			tr := &countingTransport{rt: newTransport()}
			c, err := NewClient(testKey, withContextSleep(), WithBaseURL("http://"+closedAddr()+"/v1"), WithMaxRetries(2), WithHTTPClient(&http.Client{Transport: tr}))
			if err != nil {
				t.Fatal(err)
			}
			var w waits
			ctx := w.ctx(context.Background())
			if method == "GET" {
				_, err = c.API().GetChatAppMetaWithResponse(ctx)
			} else {
				_, err = c.API().SendChatMessageWithResponse(ctx, ChatRequest{Query: "q", User: "u", Inputs: map[string]any{}})
			}
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "dial" {
				t.Fatalf("err = %v, want a dial error", err)
			}
			if !strings.Contains(err.Error(), "after 3 attempts") {
				t.Errorf("err = %q, want it to count the attempts", err)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("err leaks the key: %v", err)
			}
			if got := tr.n.Load(); got != 3 {
				t.Errorf("attempts = %d, want 3", got)
			}
		})
	}
}

func TestRetryNoReply(t *testing.T) {
	t.Parallel()
	t.Run("GET is retried", func(t *testing.T) {
		t.Parallel()
		u, n := rawServer(t, "")
		c, err := NewClient(testKey, withContextSleep(), WithBaseURL(u+"/v1"), WithMaxRetries(2))
		if err != nil {
			t.Fatal(err)
		}
		var w waits
		_, err = c.API().GetChatAppMetaWithResponse(w.ctx(context.Background()))
		if err == nil {
			t.Fatal("no error")
		}
		if got := n.Load(); got != 3 {
			t.Errorf("attempts = %d, want 3", got)
		}
	})
	t.Run("POST is not retried", func(t *testing.T) {
		t.Parallel()
		u, n := rawServer(t, "")
		c, err := NewClient(testKey, withContextSleep(), WithBaseURL(u+"/v1"), WithMaxRetries(2))
		if err != nil {
			t.Fatal(err)
		}
		var w waits
		_, err = c.API().SendChatMessageWithResponse(w.ctx(context.Background()), ChatRequest{Query: "q", User: "u", Inputs: map[string]any{}})
		if err == nil {
			t.Fatal("no error")
		}
		if got := n.Load(); got != 1 {
			t.Errorf("POST reached the server %d times, want 1", got)
		}
	})
}

func TestRetryClosesAbandonedBodies(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			_, _ = w.Write(bytes.Repeat([]byte("<p>busy</p>"), 20000)) // larger than anything drained
			return
		}
		writeJSON(w, 200, metaBody)
	})
	tr := &countingTransport{rt: newTransport()}
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(srv.URL+"/v1"), WithMaxRetries(3), WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	var w waits
	if _, err := c.API().GetChatAppMetaWithResponse(w.ctx(context.Background())); err != nil {
		t.Fatal(err)
	}
	if got := tr.n.Load(); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
	if open := tr.open(); open != 0 {
		t.Errorf("%d reply bodies left open", open)
	}
}

func TestRetryLogsAttemptsWithoutKey(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	c, mux, _ := setup(t, WithMaxRetries(2), WithLogger(newTestLogger(&buf)))
	var n atomic.Int32
	mux.HandleFunc("GET /meta", flaky(1, 503, nil, &n, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, metaBody)
	}))
	var w waits
	if _, err := c.API().GetChatAppMetaWithResponse(w.ctx(context.Background())); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"method=GET", "path=/v1/meta", "status=503", "status=200", "attempt=1", "attempt=2", "duration=", "retry=true", "chatflow: retrying", "wait="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testKey) || strings.Contains(strings.ToLower(out), "authorization") || strings.Contains(out, "Bearer") {
		t.Errorf("log leaks the key or header:\n%s", out)
	}
}
