package chatflow

// Helpers shared by the tests of this package, grouped by what they help
// with: clients and servers, checks of requests, replies, streams, waiting,
// leaks, logs and the API key, misbehaving servers, uploads, captures of a
// real server, and benchmarks. A helper that only one test file uses lives
// in that file.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/difykit/chatflow/internal/stream"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/options"
	"github.com/difykit/chatflow/internal/spectest"
	"github.com/difykit/chatflow/internal/transport"
)

// ---- Clients and servers

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
	srv := newServer(t, spectest.Handler(t, "/v1", root).ServeHTTP)
	return testClient(t, srv.URL, opts...), mux, srv.URL
}

// rawSetup is setup without the validation of requests against the API
// description: for tests with a short idle timeout, which the first
// validation in a process (loading the description) could exceed while
// the client waits for the reply's headers.
func rawSetup(t *testing.T, opts ...Option) (*Client, *http.ServeMux) {
	t.Helper()
	mux := http.NewServeMux()
	srv := newServer(t, http.StripPrefix("/v1", mux).ServeHTTP)
	return testClient(t, srv.URL, opts...), mux
}

// testClient returns a client for the server at srvURL, with retries off
// unless opts turn them on: the client of setup and rawSetup.
func testClient(t *testing.T, srvURL string, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(testKey, append([]Option{WithBaseURL(srvURL + "/v1"), WithMaxRetries(0), withContextSleep()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newServer starts a plain test server (no request validation), closed at
// the end of the test: for handlers that answer every path themselves.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// newTransport is a transport of a test's own, which keeps idle connections
// for a second only: close its idle connections before a leak check.
func newTransport() *http.Transport {
	return &http.Transport{DisableKeepAlives: false, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Second}
}

// faultClient returns a client for srvURL with its own transport, whose
// idle connections are closed when the test ends, and the default retries:
// for the tests that check for leaked goroutines.
func faultClient(t *testing.T, srvURL string, opts ...Option) (*Client, *http.Transport) {
	t.Helper()
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	opts = append([]Option{WithBaseURL(srvURL + "/v1"), WithHTTPClient(&http.Client{Transport: tr})}, opts...)
	c, err := NewClient(testKey, append([]Option{withContextSleep()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, tr
}

// rawServer answers every request with the raw bytes of reply and then
// closes the connection: for replies net/http would not write. With reply
// "", the connection is closed without a reply. It counts requests.
func rawServer(t *testing.T, reply string) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString(reply)
		_ = buf.Flush()
	})
	return srv.URL, &n
}

// closedAddr returns the address of a loopback TCP port nothing listens
// on. It panics when it cannot listen, as httptest.NewServer does, so that
// the table of hostile servers can call it too.
func closedAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// ---- Checks of requests

// testMethod checks the request's method.
func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	if r.Method != want {
		t.Errorf("request method = %s, want %s", r.Method, want)
	}
}

// testHeader checks one header of the request.
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

// ---- Replies

// testConvID is a conversation id, metaBody the body of GET /meta, and
// chatReply that of a blocking chat message.
const (
	testConvID = "8f1c9a52-3f1e-4a53-9d4b-0c6f2a7b9e11"
	metaBody   = `{"tool_icons":{}}`
	chatReply  = `{"event":"message","task_id":"t","id":"m","message_id":"m","conversation_id":"c","mode":"advanced-chat","answer":"hi","metadata":{},"created_at":1}`
)

// writeJSON answers with status and a JSON body.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// flaky answers the first n requests with status (and header), then calls ok.
func flaky(n int32, status int, header http.Header, count *atomic.Int32, ok http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) <= n {
			for k, v := range header {
				w.Header()[k] = v
			}
			writeJSON(w, status, `{"code":"oops","message":"try later","status":`+strconv.Itoa(status)+`}`)
			return
		}
		ok(w, r)
	}
}

// uuidN is a UUID-shaped id numbered n (ids in paths and cursors are UUIDs
// on the real server).
func uuidN(prefix, n int) string {
	return fmt.Sprintf("%08d-0000-4000-8000-%012d", prefix, n)
}

// firstErr ranges over seq and returns its first error (nil if none).
func firstErr[T any](seq iter.Seq2[T, error]) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- Streams

// testTaskID and testRunID are the task and workflow run of test streams.
const (
	testTaskID = "e1c9a7b3-5d2f-4a60-8b14-7c3e9f1a2d45"
	testRunID  = "5a8c2e7f-1b3d-4f69-a0c2-9e4b6d8f1a23"
)

// streamMsg is a "message" event of task testTaskID in conversation c1
// carrying answer; streamEnd ends that message.
func streamMsg(answer string) string {
	return `data: {"event":"message","conversation_id":"c1","message_id":"m1","created_at":1,"task_id":"` + testTaskID + `","answer":"` + answer + `"}` + "\n\n"
}

const streamEnd = `data: {"event":"message_end","conversation_id":"c1","message_id":"m1","created_at":1,"task_id":"` + testTaskID + `","id":"m1","metadata":{"usage":{"total_tokens":3}}}` + "\n\n"

// sseHeader starts an event-stream reply and returns its flusher: with
// write and cut, the parts of a handler that sends events as a test goes
// (sseHandler is the whole handler when the events are known up front).
func sseHeader(t *testing.T, w http.ResponseWriter) http.Flusher {
	t.Helper()
	f, ok := w.(http.Flusher)
	if !ok {
		t.Error("response writer cannot flush")
		return nil
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return f
}

// write sends s at once.
func write(w http.ResponseWriter, f http.Flusher, s string) {
	_, _ = io.WriteString(w, s)
	f.Flush()
}

// cut closes the connection of a streamed reply in the middle of a chunk.
func cut(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	_, _ = io.WriteString(conn, "40\r\ndata: {\"event\":\"mess")
	_ = conn.Close()
}

// sseHandler writes the events, flushing each, then runs then (abort, or a
// wait for the request to end, for example). It answers a stop request
// (sent when a test abandons a stream) like Dify, so it can serve a whole
// server (newServer) without a mux.
func sseHandler(events []string, then func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/stop") {
			writeJSON(w, 200, `{"result":"success"}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for _, e := range events {
			_, _ = io.WriteString(w, e)
			w.(http.Flusher).Flush()
		}
		if then != nil {
			then(w, r)
		}
	}
}

// abort drops the connection: a then of sseHandler.
func abort(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }

// newStream returns a Stream that reads body (no HTTP, no resume, no
// auto-stop), bound to ctx.
func newStream(ctx context.Context, _ context.CancelCauseFunc, body io.ReadCloser, maxEventBytes int) *Stream {
	return &Stream{run: stream.FromBody(ctx, body, stream.Config{Vocabulary: chatEvents, MaxEventBytes: maxEventBytes})}
}

// streamFromBytes returns a Stream that reads b (no HTTP).
func streamFromBytes(b []byte) *Stream {
	ctx, cancel := context.WithCancelCause(context.Background())
	return newStream(ctx, cancel, io.NopCloser(bytes.NewReader(b)), DefaultMaxEventBytes)
}

// checkMessageFastPath fails t when the fast decoder of "message" events
// accepts s but decodes it differently from encoding/json.
func checkMessageFastPath(t *testing.T, s string) {
	t.Helper()
	var fast gen.StreamEventChatMessage
	ok := decodeFlatMessage(s, &fast)
	var std gen.StreamEventChatMessage
	err := json.Unmarshal([]byte(s), &std)
	if ok && err != nil {
		t.Fatalf("fast path accepts %q, encoding/json fails: %v", s, err)
	}
	if ok && fast != std {
		t.Fatalf("fast path decodes %q as\n%+v\nencoding/json as\n%+v", s, fast, std)
	}
}

// stopRecorder serves the stop endpoint, POST /chat-messages/{task}/stop:
// it records "task user" of each request, answers success, then signals
// stopped (which the test makes with room for the stops it expects).
type stopRecorder struct {
	stopMu  sync.Mutex
	stops   []string
	stopped chan struct{}
}

func (sr *stopRecorder) handle(mux *http.ServeMux) {
	mux.HandleFunc("POST /chat-messages/{task}/stop", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ User string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		sr.stopMu.Lock()
		sr.stops = append(sr.stops, r.PathValue("task")+" "+body.User)
		sr.stopMu.Unlock()
		writeJSON(w, 200, `{"result":"success"}`)
		sr.stopped <- struct{}{}
	})
}

// stopList returns the stop requests received so far, "task user" each.
func (sr *stopRecorder) stopList() []string {
	sr.stopMu.Lock()
	defer sr.stopMu.Unlock()
	return append([]string(nil), sr.stops...)
}

// readInBackground ranges over the events of s in a goroutine of its own
// (chatflow.readInBackground.func, for noGoroutines, so at most one
// parallel test may use it): got is closed at the
// first event named name (at the first event when name is ""), and ended
// receives the loop's last error once it is over.
func readInBackground(s *Stream, name string) (got <-chan struct{}, ended <-chan error) {
	first := make(chan struct{})
	last := make(chan error, 1)
	go func() {
		var once sync.Once
		var err error
		for ev, e := range s.Events() {
			if e != nil {
				err = e
				continue
			}
			if name == "" || ev.Name() == name {
				once.Do(func() { close(first) })
			}
		}
		last <- err
	}()
	return first, last
}

// YieldedOnce checks, event by event, that no node or workflow event is
// yielded twice (by its name and its data's id), as a resumed stream must
// not. Exported for the external tests (fake_resume_test.go); like every
// name of this file it exists only while testing.
type YieldedOnce map[string]bool

// Check records ev, failing t if an event of its name and id came before.
func (y YieldedOnce) Check(t *testing.T, ev Event) {
	t.Helper()
	var v struct{ Data struct{ ID string } }
	_ = json.Unmarshal(ev.Raw(), &v)
	key := ev.Name() + " " + v.Data.ID
	if y[key] {
		t.Errorf("%s yielded twice", key)
	}
	y[key] = true
}

// ---- Waiting

// guard is how long a test waits for something that should happen at
// once before it fails instead of hanging.
const guard = 10 * time.Second

// wait fails the test when ch is not closed within the guard time.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// chanOf returns a channel closed when one value arrives on ch.
func chanOf(ch <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
		case <-time.After(guard):
		}
		close(done)
	}()
	return done
}

// Limits the package documents: APIError.Body keeps at most 4 KiB of a
// body, read from at most transport.ErrBodyReadLimit bytes of it;
// APIError.RetryAfter is at most 24 hours.
const (
	errBodyKeep      = 4 << 10
	errBodyReadLimit = transport.ErrBodyReadLimit
	maxRetryAfter    = 24 * time.Hour
)

// sleepKey is the context key of a sleepFunc that replaces the waits of a
// client made with withContextSleep (retries, resuming), so that a test
// can record them without waiting.
type sleepKey struct{}

// sleepFunc waits d, or less if ctx is done first; it returns ctx.Err() then.
type sleepFunc func(ctx context.Context, d time.Duration) error

// withContextSleep makes a client wait with the sleepFunc of the context of
// each call, if it has one (see waits), and with a timer otherwise.
// testClient adds it to every client it makes.
func withContextSleep() Option {
	return func(c *options.Config) error {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			if f, ok := ctx.Value(sleepKey{}).(sleepFunc); ok && f != nil {
				return f(ctx, d)
			}
			return transport.SleepContext(ctx, d)
		}
		return nil
	}
}

// waits records the waits the client asks for (retries, resuming), without
// waiting: w.ctx(ctx) is the context of the calls, w.get() the waits.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, sleepKey{}, sleepFunc(func(ctx context.Context, d time.Duration) error {
		w.mu.Lock()
		w.d = append(w.d, d)
		w.mu.Unlock()
		return ctx.Err()
	}))
}

func (w *waits) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// noWait makes the waits of resuming (and of retries) return at once,
// like waits.ctx, for tests that do not look at the waits.
func noWait(ctx context.Context) context.Context { return new(waits).ctx(ctx) }

// ---- Leaks

// leakCheck fails the test if, once its cleanups have run (servers closed),
// more goroutines are running than when it started. Register it first, so
// that its cleanup runs last. It counts every goroutine of the process, so
// use it in tests that are not parallel (the fault and attack tests); in a
// parallel test use noGoroutines.
func leakCheck(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before the test, %d after:\n%s", base, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// noGoroutines fails t when goroutines whose stack mentions one of the
// given function names remain (a leak check that, unlike leakCheck, works
// next to parallel tests: name functions of this test only, such as its
// handlers "chatflow.TestX.func"). It checks when called, not at cleanup.
// The stream itself starts no goroutine: Events runs in the caller's.
func noGoroutines(t *testing.T, funcs ...string) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			for _, f := range funcs {
				if strings.Contains(g, f) && !strings.Contains(g, "chatflow.noGoroutines") {
					leaked = append(leaked, g)
				}
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left behind:\n%s", strings.Join(leaked, "\n\n"))
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling, as goleak does
	}
}

// ---- Logs and the API key

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestLogger logs everything, as text, to w.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// noKey fails the test if s contains the whole test API key (noKeyRun
// is the stricter check, for servers that echo parts of it).
func noKey(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, testKey) {
		t.Errorf("%s contains the API key: %s", what, s)
	}
}

// formats renders v with every verb that could print a struct's fields.
func formats(v any) string {
	return fmt.Sprintf("%v|%+v|%#v|%s|%q", v, v, v, v, v)
}

// secretPart is the part of testKey after its "app-" prefix.
var secretPart = strings.TrimPrefix(testKey, "app-")

// keyRun returns an 8-byte run of the key's secret part that s contains,
// or "".
func keyRun(s string) string {
	for i := 0; i+8 <= len(secretPart); i++ {
		if strings.Contains(s, secretPart[i:i+8]) {
			return secretPart[i : i+8]
		}
	}
	return ""
}

// noKeyRun fails the test if s holds any 8-byte run of the key's secret.
func noKeyRun(t *testing.T, what, s string) {
	t.Helper()
	if r := keyRun(s); r != "" {
		t.Errorf("%s shows %q of the API key:\n%s", what, r, s)
	}
}

// errNoKey checks err with every verb that could print what it holds, and
// the *APIError in it, if any.
func errNoKey(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	noKeyRun(t, "err.Error()", err.Error())
	noKeyRun(t, "%v of the error", fmt.Sprintf("%v", err))
	noKeyRun(t, "%+v of the error", fmt.Sprintf("%+v", err))
	noKeyRun(t, "%#v of the error", fmt.Sprintf("%#v", err))
	noKeyRun(t, "%s of the error", fmt.Sprintf("%s", err))
	noKeyRun(t, "%q of the error", fmt.Sprintf("%q", err))
	for e := err; e != nil; e = errors.Unwrap(e) {
		noKeyRun(t, "a wrapped error", e.Error())
	}
	var ae *APIError
	if errors.As(err, &ae) {
		noKeyRun(t, "%+v of the *APIError", fmt.Sprintf("%+v", *ae))
		noKeyRun(t, "%#v of the *APIError", fmt.Sprintf("%#v", *ae))
		noKeyRun(t, "APIError.Body", string(ae.Body))
	}
}

// ---- Misbehaving servers (raw TCP)

// hostile is a raw HTTP/1.1 server on loopback: for each connection it
// reads one request and hands the connection to serve, which may write
// anything and hold the connection for as long as it likes (until the test
// ends: hold returns then). The connection is closed when serve returns.
type hostile struct {
	ln    net.Listener
	hits  atomic.Int32
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// newHostile starts a hostile server that reads each request's body before
// serve is called; it is closed, and its goroutines waited for, when the
// test ends.
func newHostile(t *testing.T, serve func(h *hostile, conn net.Conn, req *http.Request)) *hostile {
	t.Helper()
	return startHostile(t, true, serve)
}

// startHostile is newHostile; with drain false, serve gets the request with
// its body unread.
func startHostile(t *testing.T, drain bool, serve func(h *hostile, conn net.Conn, req *http.Request)) *hostile {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{ln: ln, done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, conn)
			h.mu.Unlock()
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				h.hits.Add(1)
				if drain {
					_, _ = io.Copy(io.Discard, req.Body)
				}
				serve(h, conn, req)
			}()
		}
	}()
	t.Cleanup(func() {
		close(h.done)
		_ = ln.Close()
		h.mu.Lock()
		for _, c := range h.conns {
			_ = c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

// URL is the server's base URL, without /v1.
func (h *hostile) URL() string { return "http://" + h.ln.Addr().String() }

// hold blocks until the test ends.
func (h *hostile) hold() { <-h.done }

// reply writes raw bytes.
func reply(conn net.Conn, s string) { _, _ = io.WriteString(conn, s) }

// errorReply answers with status, a content type and body, then closes.
func errorReply(status int, ctype, body string) func(*hostile, net.Conn, *http.Request) {
	return func(_ *hostile, c net.Conn, _ *http.Request) {
		reply(c, fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			status, http.StatusText(status), ctype, len(body), body))
	}
}

// rawReply answers with the raw bytes s (status line, headers and all).
func rawReply(s string) func(*hostile, net.Conn, *http.Request) {
	return func(_ *hostile, c net.Conn, _ *http.Request) { reply(c, s) }
}

// drainAndHold reads what the request body brings, until the client gives
// up, then holds the connection until the test ends.
func drainAndHold(h *hostile, _ net.Conn, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h.hold()
}

// callsOf are the calls each cancellation attack makes: a GET, a stream
// (POST) and a DELETE with a JSON body.
func callsOf(c *Client) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"AppInfo": func(ctx context.Context) error { _, err := c.AppInfo(ctx); return err },
		"StreamMessage": func(ctx context.Context) error {
			_, err := c.StreamMessage(ctx, ChatRequest{Query: "q", User: "u"})
			return err
		},
		"DeleteConversation": func(ctx context.Context) error { return c.DeleteConversation(ctx, "c1", "u") },
		"generated GET":      func(ctx context.Context) error { _, err := c.API().GetChatAppMetaWithResponse(ctx); return err },
	}
}

// runConcurrently runs every call at once and returns their errors and
// durations.
func runConcurrently(calls map[string]func(context.Context) error, ctx func() (context.Context, context.CancelFunc)) (map[string]error, map[string]time.Duration) {
	var mu sync.Mutex
	errs := map[string]error{}
	took := map[string]time.Duration{}
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := ctx()
			defer cancel()
			start := time.Now()
			err := call(cctx)
			mu.Lock()
			errs[name], took[name] = err, time.Since(start)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs, took
}

// ---- Uploads

// uploadReply is a 201 body shaped like a newer server's: extra fields,
// nulls, Unix time stamps.
const uploadReply = `{"id":"72fa9618-8f89-4a37-9b33-7e1178a24a67","name":"report.pdf","size":5,
"extension":"pdf","mime_type":"application/pdf","created_by":"4e6bd2b4-4bd5-4d6f-8a88-9d2e7e0c8e38",
"created_at":1732690000,"preview_url":null,"source_url":"https://files.example/x?sign=1",
"original_url":null,"user_id":null,"tenant_id":"t-1","conversation_id":null,"file_key":"upload_files/x.pdf",
"reference":"ref-1","new_in_2026":{"nested":true}}`

// zeros reads n zero bytes without allocating; it cannot seek.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.n)]
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// zeroAt is an endless io.ReaderAt of zeros, for seekable section readers.
type zeroAt struct{}

func (zeroAt) ReadAt(p []byte, _ int64) (int, error) { clear(p); return len(p), nil }

// streamOnly hides every method but Read (so a bytes.Reader cannot seek).
type streamOnly struct{ r io.Reader }

func (o streamOnly) Read(p []byte) (int, error) { return o.r.Read(p) }

// filePart is what a handler found in an upload's multipart body.
type filePart struct {
	user, filename, contentType string
	sum                         [32]byte
	size                        int64
}

func readUpload(t *testing.T, r *http.Request) filePart {
	t.Helper()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		t.Fatalf("multipart: %v", err)
	}
	var fp filePart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		switch p.FormName() {
		case "user":
			b, _ := io.ReadAll(p)
			fp.user = string(b)
		case "file":
			fp.filename = p.FileName()
			fp.contentType = p.Header.Get("Content-Type")
			h := sha256.New()
			fp.size, _ = io.Copy(h, p)
			copy(fp.sum[:], h.Sum(nil))
		default:
			t.Errorf("unexpected part %q", p.FormName())
		}
	}
	return fp
}

// ---- Captures of a real server

// captures returns all the real streams (*.sse) of
// ../shared/upstream/captures, or skips the test when there are none;
// surfaceCapture returns one named reply.
func captures(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "shared", "upstream", "captures", "*.sse"))
	if len(files) == 0 {
		t.Skip("no captures in ../shared/upstream/captures")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// surfaceCapture returns a reply captured from a real server
// (../shared/upstream/captures), skipping the test when it is absent.
func surfaceCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "shared", "upstream", "captures", name))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("capture %s not available", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---- Benchmarks

// handDo sends req with hc and decodes the JSON of a 200 reply into a new
// T: the end of the hand-written (net/http and encoding/json) baselines of
// the benchmarks.
func handDo[T any](hc *http.Client, req *http.Request) (*T, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var v T
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// memTransport answers every request in memory (no sockets): it drains the
// request body, then replies with status and body.
type memTransport struct {
	status int
	body   []byte
}

func (m *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{
		StatusCode:    m.status,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(m.body)),
		ContentLength: int64(len(m.body)),
		Request:       req,
	}, nil
}

// benchClient is a client over rt (a memTransport), retries off: for
// benchmarks and for the tests that check what they measure.
func benchClient(tb testing.TB, rt http.RoundTripper) *Client {
	tb.Helper()
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL("https://dify.example/v1"), WithHTTPClient(&http.Client{Transport: rt}), WithMaxRetries(0))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// baselineEvent is the small struct of the baseline decoder.
type baselineEvent struct {
	Event          string `json:"event"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	TaskID         string `json:"task_id"`
	Answer         string `json:"answer"`
	CreatedAt      int64  `json:"created_at"`
}
