package chatflow

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestStreamMessageRequest(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		testHeader(t, r, "Accept", "text/event-stream")
		testHeader(t, r, "Authorization", "Bearer "+testKey)
		testJSONBody(t, r, `{"query":"Hi","user":"u1","inputs":{},"response_mode":"streaming","conversation_id":"c0"}`)
		f := sseHeader(t, w)
		write(w, f, "event: ping\n\n"+streamMsg("Hel")+streamMsg("lo")+streamEnd)
	})
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "Hi", User: "u1", ConversationID: "c0", ResponseMode: "blocking"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var answer strings.Builder
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name())
		if ev.Name() == EventMessage {
			m, err := ev.Message()
			if err != nil {
				t.Fatal(err)
			}
			answer.WriteString(m.Answer)
		}
	}
	if got := strings.Join(names, " "); got != "ping message message message_end" {
		t.Errorf("events: %s", got)
	}
	if answer.String() != "Hello" || s.TaskID() != testTaskID {
		t.Errorf("answer %q, task %q", answer.String(), s.TaskID())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the end: %v", err)
	}
}

func TestStreamMessageKeepsInputs(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"query":"Hi","user":"u1","inputs":{"city":"Paris"},"response_mode":"streaming"}`)
		f := sseHeader(t, w)
		write(w, f, streamMsg("ok")+streamEnd)
	})
	r, err := c.SendMessage(context.Background(), ChatRequest{Query: "Hi", User: "u1", Inputs: map[string]any{"city": "Paris"}})
	if err != nil || r.Answer != "ok" || r.Usage.TotalTokens != 3 || r.TaskID != testTaskID {
		t.Fatalf("SendMessage = %+v, %v", r, err)
	}
}

// TestStreamLatency checks that each event is yielded as soon as the blank
// line that ends it has arrived: the server sends one event and waits until
// the client has seen it before sending anything more. A decoder that
// waited for more bytes would hang (and fail after the guard time).
func TestStreamLatency(t *testing.T) {
	t.Parallel()
	for name, eol := range map[string]string{"lf": "\n", "crlf": "\r\n", "cr": "\r"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			seen := make(chan struct{}, 3)
			mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
				f := sseHeader(t, w)
				events := []string{"event: ping" + eol + eol, strings.ReplaceAll(streamMsg("a"), "\n", eol), ": comment" + eol + strings.ReplaceAll(streamEnd, "\n", eol)}
				for _, ev := range events {
					write(w, f, ev)
					select {
					case <-seen:
					case <-r.Context().Done():
						return
					}
				}
			})
			s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for ev, err := range s.Events() {
				if err != nil {
					t.Fatal(err)
				}
				n++
				t.Logf("got %s", ev.Name())
				seen <- struct{}{}
			}
			if n != 3 {
				t.Errorf("%d events", n)
			}
		})
	}
}

// TestStreamEarlyBreak checks that breaking out of the loop releases the
// connection: the server sees its request end.
func TestStreamEarlyBreak(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	done := make(chan struct{})
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		f := sseHeader(t, w)
		write(w, f, streamMsg("a")+streamMsg("b"))
		<-r.Context().Done()
	})
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range s.Events() {
		if err != nil || ev.Name() != EventMessage {
			t.Fatalf("%v %v", ev, err)
		}
		break
	}
	wait(t, done, "the server to see the request end")
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Reading again is an error, not a silent empty stream.
	for _, err := range s.Events() {
		if err == nil {
			t.Error("second Events yielded an event")
		}
	}
	noGoroutines(t, "chatflow.TestStreamEarlyBreak.func")
}

func TestStreamErrorsBeforeTheStream(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Case") {
		case "401":
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			writeJSON(w, 401, `{"code":"unauthorized","message":"Access token is invalid","status":401}`)
		case "404":
			writeJSON(w, 404, `{"code":"not_found","message":"Conversation Not Exists.","status":404}`)
		case "429":
			writeJSON(w, 429, `{"code":"too_many_requests","message":"Too many requests. Please try again later.","status":429}`)
		case "502":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
		}
	})
	for _, tt := range []struct {
		code   string
		status int
		is     error
		dify   string
	}{
		{"401", 401, ErrUnauthorized, "unauthorized"},
		{"404", 404, ErrNotFound, "not_found"},
		{"429", 429, ErrRateLimited, "too_many_requests"},
		{"502", 502, nil, ""},
	} {
		ctx := context.Background()
		code := tt.code
		cc, err := NewClient(testKey, WithBaseURL(c.BaseURL()), WithMaxRetries(0), WithRequestEditor(func(_ context.Context, r *http.Request) error {
			r.Header.Set("X-Case", code)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		s, err := cc.StreamMessage(ctx, ChatRequest{Query: "q", User: "u"})
		var ae *APIError
		if s != nil || !errors.As(err, &ae) || ae.StatusCode != tt.status || ae.Code != tt.dify {
			t.Errorf("%s: stream %v, err %#v", tt.code, s, err)
			continue
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: %v does not match %v", tt.code, err, tt.is)
		}
		if tt.code == "502" && !strings.Contains(ae.Message, "502 Bad Gateway") {
			t.Errorf("502: message %q", ae.Message)
		}
		if r, err := cc.SendMessage(ctx, ChatRequest{Query: "q", User: "u"}); r != nil || !errors.As(err, &ae) {
			t.Errorf("%s: SendMessage = %v, %v", tt.code, r, err)
		}
	}
}

func TestStreamNotAnEventStream(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Case") == "json" {
			writeJSON(w, 200, `{"event":"message","answer":"blocking","conversation_id":"c1"}`)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>Just a moment...</title>")
	})
	for _, kind := range []string{"html", "json"} {
		cc, _ := NewClient(testKey, WithBaseURL(c.BaseURL()), WithMaxRetries(0), WithRequestEditor(func(_ context.Context, r *http.Request) error {
			r.Header.Set("X-Case", kind)
			return nil
		}))
		s, err := cc.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
		if s != nil || !errors.Is(err, ErrNotEventStream) {
			t.Errorf("%s: %v, %v", kind, s, err)
			continue
		}
		var ae *APIError
		if errors.As(err, &ae) {
			t.Errorf("%s: a 200 reply reported as *APIError", kind)
		}
		if kind == "html" && !strings.Contains(err.Error(), "Just a moment...") {
			t.Errorf("html: %v", err)
		}
	}
}

// TestStreamErrorEvent: a failed run sends workflow_finished (failed) and
// an error event; Events yields the events before it, then one *APIError.
func TestStreamErrorEvent(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		write(w, f, streamMsg("partial")+
			`data: {"event":"workflow_finished","task_id":"`+testTaskID+`","workflow_run_id":"`+testRunID+`","data":{"status":"failed","error":"boom"}}`+"\n\n"+
			`data: {"event":"error","conversation_id":"c1","message_id":"m1","created_at":1,"code":"invalid_param","message":"Run failed: boom","status":400}`+"\n\n"+
			streamMsg("never"))
	})
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var errs []error
	for ev, err := range s.Events() {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, ev.Name())
	}
	if strings.Join(names, " ") != "message workflow_finished" || len(errs) != 1 {
		t.Fatalf("events %v, errors %v", names, errs)
	}
	var ae *APIError
	if !errors.As(errs[0], &ae) || ae.StatusCode != 400 || ae.Code != "invalid_param" || ae.Message != "Run failed: boom" ||
		ae.Method != "POST" || !strings.HasSuffix(ae.URL, "/chat-messages") {
		t.Errorf("error = %#v", errs[0])
	}

	r, err := c.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if !errors.As(err, &ae) || r == nil || r.Answer != "partial" || r.WorkflowStatus != "failed" || r.WorkflowError != "boom" {
		t.Errorf("SendMessage = %+v, %v", r, err)
	}
}

// TestStreamCutOff: the server stops inside an event, or closes the
// connection in the middle of a chunk, or ends cleanly too early.
func TestStreamCutOff(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		write(w, f, streamMsg("one ")+streamMsg("two"))
		switch r.Header.Get("X-Case") {
		case "inside":
			write(w, f, `data: {"event":"message","answer":"thr`)
		case "hijack":
			write(w, f, `data: {"event":"mess`)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			// A chunk header announcing more bytes than will come.
			_, _ = io.WriteString(conn, "100\r\ndata: {")
			_ = conn.Close()
		case "clean":
		}
	})
	for _, tt := range []struct {
		kind       string
		unexpected bool
	}{{"inside", true}, {"hijack", true}, {"clean", false}} {
		kind := tt.kind
		cc, _ := NewClient(testKey, WithBaseURL(c.BaseURL()), WithMaxRetries(0), WithRequestEditor(func(_ context.Context, r *http.Request) error {
			r.Header.Set("X-Case", kind)
			return nil
		}))
		r, err := cc.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
		if !errors.Is(err, ErrIncompleteStream) || errors.Is(err, io.ErrUnexpectedEOF) != tt.unexpected {
			t.Errorf("%s: err = %v; want ErrIncompleteStream, io.ErrUnexpectedEOF: %v", kind, err, tt.unexpected)
		}
		if r == nil || r.Answer != "one two" || r.TaskID != testTaskID {
			t.Errorf("%s: reply %+v", kind, r)
		}
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	t.Parallel()
	c, mux := rawSetup(t, WithIdleTimeout(50*time.Millisecond))
	done := make(chan struct{})
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		f := sseHeader(t, w)
		write(w, f, streamMsg("a"))
		<-r.Context().Done() // silent from here on
	})
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last error
	for _, err := range s.Events() {
		if err != nil {
			last = err
			continue
		}
		n++
	}
	if n != 1 || !errors.Is(last, ErrIdleTimeout) || !errors.Is(last, ErrIncompleteStream) {
		t.Errorf("%d events, error %v; want 1 and ErrIdleTimeout", n, last)
	}
	wait(t, done, "the server to see the request end")
	noGoroutines(t, "chatflow.TestStreamIdleTimeout.func")
}

// TestStreamIdleTimeoutResets: a stream that keeps sending (pings) is not
// idle, however long it lasts.
func TestStreamIdleTimeoutResets(t *testing.T) {
	t.Parallel()
	// Generous margins: a ping every 10ms against a 2s limit, for 2.4s, so
	// that a loaded machine cannot make a gap look idle (a 1s limit was
	// once passed at a load average of 11).
	const idle = 2 * time.Second
	c, mux := rawSetup(t, WithIdleTimeout(idle))
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for end := time.Now().Add(idle + idle/5); time.Now().Before(end); <-tick.C {
			write(w, f, "event: ping\n\n")
		}
		write(w, f, streamEnd)
	})
	if _, err := c.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u"}); err != nil {
		t.Fatal(err)
	}
}

// TestStreamContextCancel: cancelling the context unblocks a read at once.
func TestStreamContextCancel(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithIdleTimeout(0))
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		write(w, f, streamMsg("a"))
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.StreamMessage(ctx, ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var last error
	for _, err := range s.Events() {
		if err != nil {
			last = err
			continue
		}
		cancel() // the server sends nothing more: only cancellation ends the read
	}
	if !errors.Is(last, context.Canceled) || !errors.Is(last, ErrIncompleteStream) {
		t.Errorf("error %v, want context.Canceled", last)
	}
	if d := time.Since(start); d > guard/2 {
		t.Errorf("cancellation took %v", d)
	}
	noGoroutines(t, "chatflow.TestStreamContextCancel.func")
}

// TestStreamCloseWhileReading: Close from another goroutine ends a loop
// blocked in a read.
func TestStreamCloseWhileReading(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		write(w, f, streamMsg("a"))
		<-r.Context().Done()
	})
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	got, ended := readInBackground(s, "")
	wait(t, got, "the first event")
	_ = s.Close()
	select {
	case err := <-ended:
		if !errors.Is(err, ErrIncompleteStream) {
			t.Errorf("error %v, want ErrIncompleteStream", err)
		}
	case <-time.After(guard):
		t.Fatal("Close did not end the loop")
	}
	noGoroutines(t, "chatflow.TestStreamCloseWhileReading.func", "chatflow.readInBackground.func")
}

// TestStreamIgnoresClientTimeout: the Timeout of the user's http.Client
// would cut every stream; streams use a copy without it.
func TestStreamIgnoresClientTimeout(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	c, mux, _ := setup(t, WithHTTPClient(hc))
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		write(w, f, streamMsg("slow "))
		select { // a slow model: longer than the client's Timeout
		case <-time.After(4 * hc.Timeout):
		case <-r.Context().Done():
			return
		}
		write(w, f, streamMsg("answer")+streamEnd)
	})
	r, err := c.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if err != nil || r.Answer != "slow answer" {
		t.Fatalf("%+v, %v", r, err)
	}
	if hc.Timeout != 100*time.Millisecond {
		t.Error("the caller's http.Client was changed")
	}
}

func TestStreamStop(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	stopped := make(chan struct{})
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		write(w, f, streamMsg("a"))
		select {
		case <-stopped:
		case <-r.Context().Done():
			return
		}
		write(w, f, `data: {"event":"workflow_finished","task_id":"`+testTaskID+`","workflow_run_id":"`+testRunID+`","data":{"status":"stopped"}}`+"\n\n"+streamEnd)
	})
	mux.HandleFunc("POST /chat-messages/{task_id}/stop", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("task_id") != testTaskID {
			t.Errorf("stop task %q", r.PathValue("task_id"))
		}
		testJSONBody(t, r, `{"user":"u-stop"}`)
		writeJSON(w, 200, `{"result":"success"}`)
		close(stopped)
	})
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u-stop"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err == nil {
		t.Error("Stop before any event: no error")
	}
	var status string
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Name() {
		case EventMessage:
			if s.TaskID() != testTaskID {
				t.Fatalf("TaskID = %q", s.TaskID())
			}
			if err := s.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		case EventWorkflowFinished:
			w, _ := ev.WorkflowFinished()
			status = w.Data.Status
		}
	}
	if status != "stopped" {
		t.Errorf("status %q", status)
	}
}

func TestWorkflowEvents(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	resumed, err := os.ReadFile(filepath.Join("testdata", "streams", "resumed.sse"))
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /workflow/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != testRunID || r.URL.Query().Get("user") != "user-42" {
			t.Errorf("request %s", r.URL)
		}
		testHeader(t, r, "Accept", "text/event-stream")
		f := sseHeader(t, w)
		sc := bufio.NewScanner(strings.NewReader(string(resumed)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			write(w, f, sc.Text()+"\n")
		}
	})
	s, err := c.WorkflowEvents(context.Background(), testRunID, "user-42")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Collect()
	if err != nil || r.Answer != " Approved: order #1042 is cancelled." || r.WorkflowStatus != "succeeded" {
		t.Errorf("%+v, %v", r, err)
	}
	for _, id := range []string{"", " ", ".", ".."} {
		if _, err := c.WorkflowEvents(context.Background(), id, "u"); !errors.Is(err, ErrInvalidID) {
			t.Errorf("WorkflowEvents(%q): %v", id, err)
		}
	}
}

// TestStreamHugeEvent: an event far over bufio.Scanner's 64 KiB line limit
// comes through; one over WithMaxEventBytes ends the stream clearly.
func TestStreamHugeEvent(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 300<<10)
	for _, tt := range []struct {
		max int
		ok  bool
	}{{DefaultMaxEventBytes, true}, {100 << 10, false}} {
		c, mux, _ := setup(t, WithMaxEventBytes(tt.max))
		mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
			f := sseHeader(t, w)
			write(w, f, streamMsg(big)+streamEnd)
		})
		r, err := c.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
		if tt.ok && (err != nil || r.Answer != big) {
			t.Errorf("max %d: answer of %d bytes, %v", tt.max, len(r.Answer), err)
		}
		if !tt.ok && (!errors.Is(err, ErrEventTooLarge) || !errors.Is(err, ErrIncompleteStream) || !strings.Contains(err.Error(), fmt.Sprint(tt.max))) {
			t.Errorf("max %d: err = %v, want ErrEventTooLarge naming the limit", tt.max, err)
		}
	}
}

// TestStreamHeapStaysFlat reads a long stream, generated on the fly, and
// checks that the live heap does not grow with it. Not parallel: it
// measures the heap of the whole process.
func TestStreamHeapStaysFlat(t *testing.T) {
	n := 400_000
	if testing.Short() {
		n = 100_000
	}
	gen := &eventGenerator{n: n}
	ctx, cancel := context.WithCancelCause(context.Background())
	s := newStream(ctx, cancel, io.NopCloser(gen), DefaultMaxEventBytes)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var at1, at2 uint64
	i, total := 0, 0
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name() == EventMessage {
			m, err := ev.Message()
			if err != nil {
				t.Fatal(err)
			}
			total += len(m.Answer)
		}
		i++
		switch i {
		case n / 4:
			at1 = heap()
		case n - 10:
			at2 = heap()
		}
	}
	t.Logf("%d events, %d answer bytes; live heap %d KiB after a quarter, %d KiB at the end", i, total, at1>>10, at2>>10)
	if at2 > at1+4<<20 {
		t.Errorf("live heap grew from %d to %d bytes", at1, at2)
	}
}

// eventGenerator produces message events and then message_end, without
// holding the stream in memory.
type eventGenerator struct {
	n, i int
	buf  []byte
}

func (g *eventGenerator) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.n {
		switch {
		case g.i == g.n:
			g.buf = append(g.buf, streamEnd...)
		case g.i%1000 == 999:
			g.buf = append(g.buf, "event: ping\n\n"...)
		default:
			g.buf = append(g.buf, streamMsg(fmt.Sprintf("tok%d ", g.i%97))...)
		}
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	k := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[k:])]
	return k, nil
}
