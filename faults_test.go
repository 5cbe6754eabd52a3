package chatflow

// Fault injection: servers that drop connections, cut or garble replies,
// stall, or answer the wrong content, and clients used from many
// goroutines. These tests are not parallel, so that each can check that it
// leaves no goroutine behind.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFaultConnectionResetMidReply(t *testing.T) {
	leakCheck(t)
	u, n := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"+`{"tool_icons":{"a":`)
	c, _ := faultClient(t, u)

	_, err := c.AppMeta(context.Background())
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("AppMeta: err = %v, want io.ErrUnexpectedEOF", err)
	}
	_, err = c.API().GetChatAppMetaWithResponse(context.Background())
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("GetChatAppMetaWithResponse: err = %v, want io.ErrUnexpectedEOF", err)
	}
	noKey(t, "error", formats(err))
	if got := n.Load(); got != 2 {
		t.Errorf("requests = %d, want 2 (a reply had begun: no retry)", got)
	}
}

func TestFaultConnectionDroppedBeforeReply(t *testing.T) {
	leakCheck(t)
	u, n := rawServer(t, "")
	c, _ := faultClient(t, u, WithMaxRetries(2))
	var w waits
	_, err := c.AppMeta(w.ctx(context.Background()))
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("GET: err = %v, want an error after 3 attempts", err)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("GET attempts = %d, want 3", got)
	}
	n.Store(0)
	_, err = c.API().SendChatMessageWithResponse(w.ctx(context.Background()), ChatRequest{Query: "q", User: "u", Inputs: map[string]any{}})
	if err == nil {
		t.Error("POST: no error")
	}
	if got := n.Load(); got != 1 {
		t.Errorf("POST attempts = %d, want 1", got)
	}
}

func TestFaultBadBodies(t *testing.T) {
	leakCheck(t)
	tests := []struct {
		name        string
		contentType string
		body        string
		want        error  // matched with errors.Is, if set
		wantText    string // in the error message, if set
	}{
		{"truncated JSON", "application/json", `{"tool_icons":{"a":`, io.ErrUnexpectedEOF, ""},
		{"HTML page", "text/html", "<html><title>Login</title></html>", nil, "text/html"},
		{"empty body", "application/json", "", io.ErrUnexpectedEOF, ""},
		{"not JSON", "application/json", "OK", nil, "invalid character"},
		{"wrong JSON type", "application/json", `["a"]`, nil, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				_, _ = io.WriteString(w, tt.body)
			})
			c, _ := faultClient(t, srv.URL)
			meta, err := c.AppMeta(context.Background())
			if err == nil {
				t.Fatalf("no error; got %+v", meta)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantText)
			}
			if !strings.Contains(err.Error(), "/v1/meta") {
				t.Errorf("err = %v, want it to name the request", err)
			}
		})
	}
}

func TestFaultReplyTooLarge(t *testing.T) {
	leakCheck(t)
	big := `{"tool_icons":{"a":"` + strings.Repeat("x", 64<<10) + `"}}`
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, big)
	})
	c, _ := faultClient(t, srv.URL, WithMaxReplyBytes(4096))
	if _, err := c.AppMeta(context.Background()); !errors.Is(err, ErrReplyTooLarge) {
		t.Errorf("AppMeta: err = %v, want ErrReplyTooLarge", err)
	}
	if _, err := c.API().GetChatAppMetaWithResponse(context.Background()); !errors.Is(err, ErrReplyTooLarge) {
		t.Errorf("GetChatAppMetaWithResponse: err = %v, want ErrReplyTooLarge", err)
	}
	// Exactly at the limit is fine.
	c2, _ := faultClient(t, srv.URL, WithMaxReplyBytes(int64(len(big))))
	if _, err := c2.AppMeta(context.Background()); err != nil {
		t.Errorf("reply of exactly the limit: %v", err)
	}
}

func TestFaultSlowServerAgainstDeadline(t *testing.T) {
	leakCheck(t)
	var n atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	c, _ := faultClient(t, srv.URL, WithMaxRetries(3))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.AppMeta(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("attempts = %d, want 1 (an expired context is not retried)", got)
	}
}

func TestFaultSlowHeadersWithHTTPClientTimeout(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	})
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(srv.URL+"/v1"), WithMaxRetries(0),
		WithHTTPClient(&http.Client{Transport: tr, Timeout: 200 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AppMeta(context.Background())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v, want a timeout", err)
	}
}

func TestFaultCancelDuringDial(t *testing.T) {
	leakCheck(t)
	dialing := make(chan struct{}, 1)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialing <- struct{}{}
		<-ctx.Done() // a dial that never completes on its own
		return nil, ctx.Err()
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL("http://dify.invalid/v1"), WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-dialing
		cancel()
	}()
	_, err = c.AppMeta(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestFaultCancelDuringBodyRead(t *testing.T) {
	leakCheck(t)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"tool_icons":{`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c, _ := faultClient(t, srv.URL)
	for _, call := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"AppMeta", func(ctx context.Context) error { _, err := c.AppMeta(ctx); return err }},
		{"GetChatAppMetaWithResponse", func(ctx context.Context) error { _, err := c.API().GetChatAppMetaWithResponse(ctx); return err }},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(150*time.Millisecond, cancel)
		err := call.fn(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", call.name, err)
		}
		cancel()
	}
}

func TestFaultHTMLFromProxy(t *testing.T) {
	leakCheck(t)
	// What each failure looks like to the caller: a proxy's 502 page.
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		_, _ = io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
	})
	c, _ := faultClient(t, srv.URL, WithMaxRetries(0))
	_, err := c.AppMeta(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if ae.StatusCode != 502 || ae.Code != "" || !strings.Contains(ae.Message, "502 Bad Gateway") {
		t.Errorf("APIError = %+v", ae)
	}
}

func TestFaultConcurrentUse(t *testing.T) {
	leakCheck(t)
	var (
		gets, posts, deletes atomic.Int32
		mu                   sync.Mutex
		seenBodies           = map[string]int{}
		failedOnce           = map[string]bool{}
	)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.Path == "/v1/meta":
			// Every fifth call fails once with 503; its retry succeeds.
			id := r.Header.Get("X-Test-Call")
			mu.Lock()
			failed := failedOnce[id]
			failedOnce[id] = true
			mu.Unlock()
			if gets.Add(1); !failed && strings.HasSuffix(id, "-0") {
				writeJSON(w, 503, `{"code":"busy","message":"busy","status":503}`)
				return
			}
			writeJSON(w, 200, metaBody)
		case r.Method == "POST" && r.URL.Path == "/v1/chat-messages":
			posts.Add(1)
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			seenBodies[string(b)]++
			mu.Unlock()
			writeJSON(w, 200, chatReply)
		case r.Method == "DELETE":
			deletes.Add(1)
			w.WriteHeader(204)
		default:
			http.NotFound(w, r)
		}
	})
	var logs syncBuffer
	type callKey struct{}
	tagCall := WithRequestEditor(func(ctx context.Context, r *http.Request) error {
		if id, ok := ctx.Value(callKey{}).(string); ok {
			r.Header.Set("X-Test-Call", id)
		}
		return nil
	})
	c, _ := faultClient(t, srv.URL, WithMaxRetries(3), WithRetryWaitMax(time.Millisecond), WithLogger(newTestLogger(&logs)), tagCall)

	const workers, rounds = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*3)
	for i := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for j := range rounds {
				callCtx := context.WithValue(ctx, callKey{}, fmt.Sprintf("%d-%d", i, (i+j)%5))
				if _, err := c.AppMeta(callCtx); err != nil {
					errs <- fmt.Errorf("AppMeta: %w", err)
				}
				q := fmt.Sprintf("q-%d-%d", i, j)
				resp, err := c.API().SendChatMessageWithResponse(ctx, ChatRequest{Query: q, User: "u", Inputs: map[string]any{}})
				if err != nil {
					errs <- fmt.Errorf("send: %w", err)
				} else if resp.JSON200 == nil {
					errs <- fmt.Errorf("send: no JSON200")
				}
				if err := c.DeleteConversation(ctx, testConvID, "u"); err != nil {
					errs <- fmt.Errorf("delete: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := gets.Load(); got <= workers*rounds {
		t.Errorf("GETs = %d, want more than %d (the failed calls retried)", got, workers*rounds)
	}
	if got := posts.Load(); got != workers*rounds {
		t.Errorf("POSTs = %d, want %d", got, workers*rounds)
	}
	if got := deletes.Load(); got != workers*rounds {
		t.Errorf("DELETEs = %d, want %d", got, workers*rounds)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seenBodies) != workers*rounds {
		t.Errorf("distinct chat bodies = %d, want %d", len(seenBodies), workers*rounds)
	}
	for b, k := range seenBodies {
		if k != 1 {
			t.Errorf("body %s sent %d times", b, k)
		}
	}
	noKey(t, "log", logs.String())
}

// TestFaultGarbageStatusLine checks a reply that is not HTTP at all.
func TestFaultGarbageStatusLine(t *testing.T) {
	leakCheck(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_, _ = bufio.NewReader(conn).ReadString('\n')
			_, _ = io.WriteString(conn, "SSH-2.0-OpenSSH_9.6\r\n")
			_ = conn.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	c, _ := faultClient(t, "http://"+ln.Addr().String(), WithMaxRetries(1))
	var w waits
	_, err = c.AppMeta(w.ctx(context.Background()))
	if err == nil || !strings.Contains(err.Error(), "malformed HTTP") {
		t.Errorf("err = %v, want a malformed HTTP response error", err)
	}
	if got := n.Load(); got != 2 {
		t.Errorf("GET attempts = %d, want 2", got)
	}
}
