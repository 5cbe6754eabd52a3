package chatflow

// Fault injection on streams: connections dropped mid-stream, cancellation
// while a read is blocked, retries of the stream request, concurrent
// streams. Not parallel, so that each test can check for leaked goroutines.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var chatReq = ChatRequest{Query: "hi", User: "u"}

func TestStreamFaultConnectionResetMidStream(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, sseHandler([]string{streamMsg("Hel"), streamMsg("lo")}, abort))
	c, _ := faultClient(t, srv.URL)

	reply, err := c.SendMessage(context.Background(), chatReq)
	if !errors.Is(err, ErrIncompleteStream) {
		t.Fatalf("err = %v, want ErrIncompleteStream", err)
	}
	if reply == nil || reply.Answer != "Hello" || reply.TaskID != testTaskID || reply.ConversationID != "c1" {
		t.Errorf("reply = %+v, want what arrived before the reset", reply)
	}

	s, err := c.StreamMessage(context.Background(), chatReq)
	if err != nil {
		t.Fatal(err)
	}
	var events, errs int
	for _, err := range s.Events() {
		if err != nil {
			errs++
			if !errors.Is(err, ErrIncompleteStream) {
				t.Errorf("stream error = %v, want ErrIncompleteStream", err)
			}
			continue
		}
		events++
	}
	if events != 2 || errs != 1 {
		t.Errorf("events = %d, errors = %d; want 2 and 1", events, errs)
	}
}

func TestStreamFaultResetInsideEvent(t *testing.T) {
	leakCheck(t)
	partial := `data: {"event":"message","task_id":"t1","answer":"lost`
	srv := newServer(t, sseHandler([]string{streamMsg("kept"), partial}, abort))
	c, _ := faultClient(t, srv.URL)
	reply, err := c.SendMessage(context.Background(), chatReq)
	if !errors.Is(err, ErrIncompleteStream) {
		t.Fatalf("err = %v, want ErrIncompleteStream", err)
	}
	if reply == nil || reply.Answer != "kept" {
		t.Errorf("reply = %+v", reply)
	}
}

func TestStreamFaultServerClosesWithoutTerminalEvent(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, sseHandler([]string{streamMsg("a"), "event: ping\n\n"}, nil))
	c, _ := faultClient(t, srv.URL)
	reply, err := c.SendMessage(context.Background(), chatReq)
	if !errors.Is(err, ErrIncompleteStream) {
		t.Fatalf("err = %v, want ErrIncompleteStream", err)
	}
	if reply == nil || reply.Answer != "a" {
		t.Errorf("reply = %+v", reply)
	}
}

func TestStreamFaultCancelDuringRead(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, sseHandler([]string{streamMsg("first")}, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	c, _ := faultClient(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.StreamMessage(ctx, chatReq)
	if err != nil {
		t.Fatal(err)
	}
	var (
		got      []string
		finalErr error
	)
	for ev, err := range s.Events() {
		if err != nil {
			finalErr = err
			break
		}
		got = append(got, ev.Name())
		// The next read blocks: cancel while it waits.
		time.AfterFunc(100*time.Millisecond, cancel)
	}
	if len(got) != 1 {
		t.Errorf("events = %v, want one", got)
	}
	if !errors.Is(finalErr, context.Canceled) || !errors.Is(finalErr, ErrIncompleteStream) {
		t.Errorf("err = %v, want context.Canceled and ErrIncompleteStream", finalErr)
	}
}

func TestStreamFaultDeadlineDuringRead(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, sseHandler([]string{streamMsg("first")}, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	c, _ := faultClient(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	reply, err := c.SendMessage(ctx, chatReq)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if reply == nil || reply.Answer != "first" {
		t.Errorf("reply = %+v, want the part that arrived", reply)
	}
}

func TestStreamFaultCloseFromAnotherGoroutine(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, sseHandler([]string{streamMsg("x")}, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	c, _ := faultClient(t, srv.URL)
	s, err := c.StreamMessage(context.Background(), chatReq)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { _ = s.Close() })
	_, err = s.Collect()
	if !errors.Is(err, ErrIncompleteStream) {
		t.Errorf("err = %v, want ErrIncompleteStream", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStreamFaultRetries(t *testing.T) {
	leakCheck(t)
	var n atomic.Int32
	var status atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			writeJSON(w, int(status.Load()), `{"code":"x","message":"y","status":1}`)
			return
		}
		sseHandler([]string{streamMsg("ok"), streamEnd}, nil)(w, r)
	})
	c, _ := faultClient(t, srv.URL, WithMaxRetries(2))
	var w waits

	// A 429 means the server did not run the message: it is sent again.
	status.Store(429)
	reply, err := c.SendMessage(w.ctx(context.Background()), chatReq)
	if err != nil || reply.Answer != "ok" {
		t.Fatalf("after 429: reply %+v, err %v", reply, err)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("after 429: attempts = %d, want 2", got)
	}

	// A 502 may come after the message ran: it is not sent again.
	n.Store(0)
	status.Store(502)
	_, err = c.SendMessage(w.ctx(context.Background()), chatReq)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 502 {
		t.Errorf("after 502: err = %v, want APIError 502", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("after 502: attempts = %d, want 1", got)
	}
}

func TestStreamFaultConcurrentStreams(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		var events []string
		for i := range 5 {
			events = append(events, streamMsg(fmt.Sprint(i)), "event: ping\n\n")
		}
		sseHandler(append(events, streamEnd), nil)(w, r)
	})
	c, _ := faultClient(t, srv.URL)
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := range 30 {
		wg.Go(func() {
			if i%3 == 0 { // break out early: the stream must be released
				s, err := c.StreamMessage(context.Background(), chatReq)
				if err != nil {
					bad.Add(1)
					return
				}
				for range s.Events() {
					break
				}
				return
			}
			reply, err := c.SendMessage(context.Background(), chatReq)
			if err != nil || reply.Answer != "01234" {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d streams failed", bad.Load())
	}
}

func TestStreamFaultHTMLInsteadOfStream(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><title>Sign in</title></html>")
	})
	c, _ := faultClient(t, srv.URL)
	_, err := c.SendMessage(context.Background(), chatReq)
	if !errors.Is(err, ErrNotEventStream) || !strings.Contains(err.Error(), "Sign in") {
		t.Errorf("err = %v, want ErrNotEventStream naming the page", err)
	}
}
