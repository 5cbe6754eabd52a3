package chatflow

// Stopping the runs a caller abandons, against a server written here: a
// chat stream that sends the start of a run and then waits, and a stop
// endpoint that records what it receives. Not parallel: each test checks
// that no goroutine outlives it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// stopServer serves a chat stream that sends head, then waits until the
// request ends or more is closed (then sends tail), and records stop
// requests.
type stopServer struct {
	t         *testing.T
	head      []string
	tail      []string
	more      chan struct{} // closed by the test to let the stream go on
	runHeader string
	cut       bool          // cut the connection after head (a drop)
	started   chan struct{} // closed when head is out
	mu        sync.Mutex
	lookups   int
	stopRecorder
}

const (
	abTask = "a0000000-0000-4000-8000-000000000001"
	abRun  = "a0000000-0000-4000-8000-000000000002"
	abUser = "user-ab"
)

func abEvent(name string, extra string) string {
	return `data: {"event":"` + name + `","task_id":"` + abTask + `","workflow_run_id":"` + abRun + `","conversation_id":"c1","message_id":"m1","created_at":1` + extra + "}\n\n"
}

func newStopServer(t *testing.T) *stopServer {
	return &stopServer{
		t:            t,
		head:         []string{abEvent(EventWorkflowStarted, `,"data":{"id":"`+abRun+`"}`), abEvent(EventMessage, `,"answer":"Hel"`)},
		tail:         []string{abEvent(EventMessageEnd, `,"id":"m1"`), abEvent(EventWorkflowFinished, `,"data":{"status":"succeeded"}`)},
		more:         make(chan struct{}),
		started:      make(chan struct{}),
		stopRecorder: stopRecorder{stopped: make(chan struct{}, 8)},
	}
}

func (ss *stopServer) client(t *testing.T, opts ...Option) *Client {
	c, mux, _ := setup(t, opts...)
	var once sync.Once
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		if ss.runHeader != "" {
			w.Header().Set("X-Workflow-Run-ID", ss.runHeader)
		}
		f := sseHeader(t, w)
		for _, e := range ss.head {
			write(w, f, e)
		}
		once.Do(func() { close(ss.started) })
		if ss.cut {
			cut(t, w)
			return
		}
		select {
		case <-ss.more:
		case <-r.Context().Done():
			return
		}
		for _, e := range ss.tail {
			write(w, f, e)
		}
	})
	mux.HandleFunc("GET /workflow/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		ss.mu.Lock()
		ss.lookups++
		ss.mu.Unlock()
		if r.URL.Query().Get("include_state_snapshot") == "true" || r.URL.Query().Get("user") != abUser {
			t.Errorf("task lookup %s", r.URL.RawQuery)
		}
		f := sseHeader(t, w)
		// Live events only: a ping, then an event of the run.
		write(w, f, "event: ping\n\n"+abEvent(EventNodeStarted, `,"data":{"id":"n1"}`))
		<-r.Context().Done()
	})
	ss.handle(mux)
	return c
}

// stream starts a stream of abRequest with ctx on a client of ss.
func (ss *stopServer) stream(t *testing.T, ctx context.Context, opts ...Option) *Stream {
	t.Helper()
	s, err := ss.client(t, opts...).StreamMessage(ctx, abRequest)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readTo reads the events of s up to the first one named name, which must
// come with no error before it.
func readTo(t *testing.T, s *Stream, name string) {
	t.Helper()
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name() == name {
			return
		}
	}
}

// waitBackground waits until the stream's background auto-stop is over.
func waitBackground(t *testing.T, s *Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := s.WaitStop(ctx); err != nil {
		t.Fatalf("timed out waiting for the background stop: %v", err)
	}
}

// exactlyOneStop checks that the server received one stop request, for
// the real task and the user.
func (ss *stopServer) exactlyOneStop(t *testing.T, s *Stream) {
	t.Helper()
	if s != nil {
		waitBackground(t, s)
	} else {
		wait(t, chanOf(ss.stopped), "the stop request")
	}
	if got := ss.stopList(); len(got) != 1 || got[0] != abTask+" "+abUser {
		t.Errorf("stop requests %q, want one for %s %s", got, abTask, abUser)
	}
}

func (ss *stopServer) noStop(t *testing.T, s *Stream) {
	t.Helper()
	waitBackground(t, s)
	if got := ss.stopList(); len(got) != 0 {
		t.Errorf("stop requests %q, want none", got)
	}
}

var abRequest = ChatRequest{Query: "q", User: abUser}

func TestAutoStopCancel(t *testing.T) {
	leakCheck(t)
	ss := newStopServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := ss.stream(t, ctx)
	var last error
	for ev, err := range s.Events() {
		if err != nil {
			last = err
			continue
		}
		if ev.Name() == EventMessage {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || !errors.Is(last, ErrIncompleteStream) {
		t.Errorf("err = %v", last)
	}
	ss.exactlyOneStop(t, s)
}

func TestAutoStopBreak(t *testing.T) {
	leakCheck(t)
	ss := newStopServer(t)
	s := ss.stream(t, context.Background())
	readTo(t, s, EventMessage)
	ss.exactlyOneStop(t, s)
	_ = s.Close() // no second stop
	ss.exactlyOneStop(t, s)
}

func TestAutoStopClose(t *testing.T) {
	leakCheck(t)
	ss := newStopServer(t)
	s := ss.stream(t, context.Background())
	got, ended := readInBackground(s, EventMessage)
	wait(t, got, "the first message")
	_ = s.Close()
	if err := <-ended; !errors.Is(err, ErrIncompleteStream) {
		t.Errorf("err = %v", err)
	}
	_ = s.Close()
	ss.exactlyOneStop(t, s)
}

// TestAutoStopCloseBeforeAnyEvent: Close before any event was read: the
// stream reads ahead, in the background, for the task id.
func TestAutoStopCloseBeforeAnyEvent(t *testing.T) {
	leakCheck(t)
	ss := newStopServer(t)
	ss.head = nil // the events come only after Close
	ss.tail = []string{abEvent(EventWorkflowStarted, `,"data":{"id":"`+abRun+`"}`), abEvent(EventMessage, `,"answer":"x"`)}
	s := ss.stream(t, context.Background())
	wait(t, ss.started, "the stream to start")
	_ = s.Close()
	close(ss.more)
	ss.exactlyOneStop(t, s)
	for _, err := range s.Events() {
		if !errors.Is(err, ErrIncompleteStream) {
			t.Errorf("Events after Close: %v", err)
		}
	}
}

// TestAutoStopSendMessage: SendMessage whose context ends stops its run.
// The context is cancelled once the client has read the first bytes of
// the stream (a transport that tells).
func TestAutoStopSendMessage(t *testing.T) {
	leakCheck(t)
	ss := newStopServer(t)
	ss.runHeader = abRun
	read := make(chan struct{})
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	c := ss.client(t, WithHTTPClient(&http.Client{Transport: &firstReadTransport{rt: tr, read: read}}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-read
		cancel()
	}()
	r, err := c.SendMessage(ctx, abRequest)
	if !errors.Is(err, context.Canceled) || r == nil {
		t.Fatalf("reply %+v, err %v", r, err)
	}
	ss.exactlyOneStop(t, nil)
}

// firstReadTransport closes read when the body of a chat reply has
// returned its first bytes.
type firstReadTransport struct {
	rt   http.RoundTripper
	read chan struct{}
	once sync.Once
}

func (f *firstReadTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := f.rt.RoundTrip(req)
	if err == nil && req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/chat-messages") {
		resp.Body = &signalBody{ReadCloser: resp.Body, f: f}
	}
	return resp, err
}

type signalBody struct {
	io.ReadCloser
	f *firstReadTransport
}

func (b *signalBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.f.once.Do(func() { close(b.f.read) })
	}
	return n, err
}

// TestAutoStopCancelBeforeAnyEvent: the context ends before any event
// carried the task id; the run id of the header finds it among the run's
// live events.
func TestAutoStopCancelBeforeAnyEvent(t *testing.T) {
	leakCheck(t)
	ss := newStopServer(t)
	ss.head = nil
	ss.runHeader = abRun
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := ss.stream(t, ctx)
	if s.RunID() != abRun {
		t.Errorf("RunID %q", s.RunID())
	}
	cancel()
	for _, err := range s.Events() {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	}
	ss.exactlyOneStop(t, s)
	if ss.lookups != 1 {
		t.Errorf("%d task lookups", ss.lookups)
	}
}

// TestAutoStopNot: no stop after the run's end, after an explicit Stop,
// for a dropped connection, or with WithAutoStop(false).
func TestAutoStopNot(t *testing.T) {
	leakCheck(t)
	t.Run("after message_end", func(t *testing.T) {
		ss := newStopServer(t)
		close(ss.more)
		s := ss.stream(t, context.Background())
		readTo(t, s, EventMessageEnd)
		ss.noStop(t, s)
	})
	t.Run("off", func(t *testing.T) {
		ss := newStopServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := ss.stream(t, ctx, WithAutoStop(false))
		for range s.Events() {
			cancel()
		}
		_ = s.Close()
		ss.noStop(t, s)
	})
	t.Run("explicit stop", func(t *testing.T) {
		ss := newStopServer(t)
		s := ss.stream(t, context.Background())
		for ev, err := range s.Events() {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Name() == EventMessage {
				// Stopped while the loop still runs: breaking would auto-stop.
				if err := s.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		ss.exactlyOneStop(t, s)
	})
	t.Run("dropped", func(t *testing.T) {
		ss := newStopServer(t)
		ss.cut = true
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := ss.stream(t, ctx, WithResume(false))
		_, err := s.Collect()
		if !errors.Is(err, ErrIncompleteStream) {
			t.Errorf("err = %v", err)
		}
		cancel() // after the end: nothing to abandon
		ss.noStop(t, s)
	})
}

// TestIdleTimeoutCountsOnlyTheServer: a consumer that spends longer on
// each event than the idle timeout, reading a server that sends often,
// does not time out (issue: the timer ran while the consumer worked).
func TestIdleTimeoutCountsOnlyTheServer(t *testing.T) {
	t.Parallel()
	// Wide margins: the server sends 20 times per idle timeout; the
	// consumer spends three idle timeouts on each of two events.
	const idle = 500 * time.Millisecond
	c, mux := rawSetup(t, WithIdleTimeout(idle))
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		for range 5 {
			write(w, f, streamMsg("x"))
			select {
			case <-time.After(idle / 20):
			case <-r.Context().Done():
				return
			}
		}
		write(w, f, streamEnd)
	})
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range s.Events() {
		if err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
		n++
		if n <= 2 {
			time.Sleep(3 * idle) // a slow consumer (its work, not synchronisation)
		}
	}
	if n != 6 {
		t.Errorf("%d events", n)
	}
}

// TestCollectBounded: a server that sends message events forever; Collect
// stops at the reply limit with ErrReplyTooLarge (and stops the run).
func TestCollectBounded(t *testing.T) {
	leakCheck(t)
	const limit = 64 << 10
	c, mux, _ := setup(t, WithMaxReplyBytes(limit))
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		for r.Context().Err() == nil {
			write(w, f, streamMsg("0123456789abcdef0123456789abcdef"))
		}
	})
	sr := &stopRecorder{stopped: make(chan struct{}, 1)}
	sr.handle(mux)
	r, err := c.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if !errors.Is(err, ErrReplyTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if r == nil || len(r.Answer) > limit+64 || len(r.Answer) < limit {
		t.Errorf("answer of %d bytes", len(r.Answer))
	}
	wait(t, chanOf(sr.stopped), "the stop request")
}

func TestWaitStopWaitsForTheBackgroundStop(t *testing.T) {
	ss := newStopServer(t)
	s := ss.stream(t, context.Background())
	<-ss.started
	if err := s.WaitStop(context.Background()); err != nil {
		t.Fatalf("WaitStop before any abandon: %v", err)
	}
	s.Close()
	if err := s.WaitStop(context.Background()); err != nil {
		t.Fatalf("WaitStop: %v", err)
	}
	// WaitStop returned: the stop is on the server without more waiting.
	if got := ss.stopList(); len(got) != 1 || got[0] != abTask+" "+abUser {
		t.Errorf("after WaitStop: stop requests %q, want one for %s %s", got, abTask, abUser)
	}
}

// TestAutoStopNoRunHeaderCancelWhileWaiting: Dify 1.16.1 names neither the
// task nor the run in the reply's headers. The caller's context ends while
// Events waits for the first event: Events returns at once with the
// context's error, and the library reads on in the background until the
// task id arrives, then stops the run with the request's user.
func TestAutoStopNoRunHeaderCancelWhileWaiting(t *testing.T) {
	leakCheck(t)
	ss := newStopServer(t)
	ss.head = nil // nothing until the test lets the run go on
	ss.tail = []string{abEvent(EventWorkflowStarted, `,"data":{"id":"`+abRun+`"}`), abEvent(EventMessage, `,"answer":"Hel"`),
		abEvent(EventMessageEnd, `,"id":"m1"`), abEvent(EventWorkflowFinished, `,"data":{"status":"stopped"}`)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := ss.stream(t, ctx)
	<-ss.started
	ended := make(chan error, 1)
	go func() {
		var last error
		for _, err := range s.Events() {
			last = err
		}
		ended <- last
	}()
	cancel()
	if err := <-ended; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrIncompleteStream) {
		t.Errorf("Events ended with %v, want context.Canceled", err)
	}
	if got := ss.stopList(); len(got) != 0 {
		t.Fatalf("a stop before the task id was known: %q", got)
	}
	// The caller closes the stream too, as a deferred Close does: that
	// must not take the connection from the background read.
	s.Close()
	close(ss.more) // the run's first events come now
	if err := s.WaitStop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ss.stopList(); len(got) != 1 || got[0] != abTask+" "+abUser {
		t.Errorf("stop requests %q, want one for %s %s", got, abTask, abUser)
	}
	if ss.lookups != 0 {
		t.Errorf("%d reattaches; the connection itself carries the task id", ss.lookups)
	}
}

// TestAutoStopNoRunHeaderCloseWhileWaiting: the same with Close, called
// from another goroutine while Events waits for the first event, and with
// a stream nobody reads.
func TestAutoStopNoRunHeaderCloseWhileWaiting(t *testing.T) {
	for _, reading := range []bool{true, false} {
		t.Run(fmt.Sprintf("reading %v", reading), func(t *testing.T) {
			leakCheck(t)
			ss := newStopServer(t)
			ss.head = nil
			ss.tail = []string{abEvent(EventWorkflowStarted, `,"data":{"id":"`+abRun+`"}`), abEvent(EventMessageEnd, `,"id":"m1"`)}
			s := ss.stream(t, context.Background())
			<-ss.started
			ended := make(chan error, 1)
			if reading {
				go func() {
					var last error
					for _, err := range s.Events() {
						last = err
					}
					ended <- last
				}()
			}
			s.Close()
			if reading {
				if err := <-ended; !errors.Is(err, ErrIncompleteStream) {
					t.Errorf("Events ended with %v, want ErrIncompleteStream", err)
				}
			}
			close(ss.more)
			if err := s.WaitStop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := ss.stopList(); len(got) != 1 || got[0] != abTask+" "+abUser {
				t.Errorf("stop requests %q, want one for %s %s", got, abTask, abUser)
			}
		})
	}
}

// TestAutoStopCancelBeforeHeaders: Dify sends the reply's headers with the
// run's first event, so a caller that gives up while StreamMessage waits
// for them may have started a run. StreamMessage returns the context's
// error at once; the library awaits the reply in the background and stops
// the run once an event carries the task id.
func TestAutoStopCancelBeforeHeaders(t *testing.T) {
	leakCheck(t)
	c, mux, _ := setup(t)
	sr := stopRecorder{stopped: make(chan struct{}, 8)}
	sr.handle(mux)
	arrived, more := make(chan struct{}), make(chan struct{})
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select { // nothing, not even the headers, until the test says
		case <-more:
		case <-r.Context().Done():
			return
		}
		f := sseHeader(t, w)
		write(w, f, abEvent(EventWorkflowStarted, `,"data":{"id":"`+abRun+`"}`))
		write(w, f, abEvent(EventMessage, `,"answer":"Hel"`))
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		s   *Stream
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := c.StreamMessage(ctx, abRequest)
		done <- result{s, err}
	}()
	<-arrived
	cancel()
	r := <-done
	if r.s != nil || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("StreamMessage = %v, %v; want context.Canceled", r.s, r.err)
	}
	close(more) // the headers and the first events come now
	wait(t, chanOf(sr.stopped), "the stop request")
	if got := sr.stopList(); len(got) != 1 || got[0] != abTask+" "+abUser {
		t.Errorf("stop requests %q, want one for %s %s", got, abTask, abUser)
	}
}
