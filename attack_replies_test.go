package chatflow

// Attacks by size: replies that never end, whatever their Content-Type
// claims, error bodies without end, and a gzip bomb. What the client
// allocates is measured (runtime.MemStats.TotalAlloc around the call, after
// a GC) and must stay within a generous multiple of the limit. These tests
// are not parallel, so that nothing else allocates meanwhile.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// allocated returns the bytes allocated while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// writeEndless writes chunk until the client goes away or max bytes are out.
func writeEndless(w io.Writer, chunk []byte, max int) {
	for n := 0; n < max; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

const mib = 1 << 20

// TestAttackEndlessEventStreamClaim: a reply that says text/event-stream
// to a call that reads it whole (the generated calls, the JSON decoders)
// is bounded by WithMaxReplyBytes like any other.
func TestAttackEndlessEventStreamClaim(t *testing.T) {
	leakCheck(t)
	chunk := []byte("data: " + strings.Repeat("x", 64<<10-8) + "\n\n")
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		writeEndless(w, chunk, 512*mib)
	})
	const limit = 4 * mib
	c, _ := faultClient(t, srv.URL, WithMaxReplyBytes(limit), WithMaxRetries(0))
	calls := map[string]func() error{
		"generated blocking chat": func() error {
			_, err := c.API().SendChatMessageWithResponse(context.Background(),
				ChatRequest{Query: "q", User: "u", Inputs: map[string]any{}, ResponseMode: "blocking"})
			return err
		},
		"generated GET": func() error { _, err := c.API().GetChatAppInfoWithResponse(context.Background()); return err },
		"AppInfo":       func() error { _, err := c.AppInfo(context.Background()); return err },
	}
	for name, call := range calls {
		var err error
		got := allocated(func() { err = call() })
		if name == "AppInfo" {
			// The decoder stops at the first byte that is not JSON.
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		} else if !errors.Is(err, ErrReplyTooLarge) {
			t.Errorf("%s: err = %v, want ErrReplyTooLarge", name, err)
		}
		if got > 16*limit {
			t.Errorf("%s allocated %d MiB with a %d MiB reply limit", name, got/mib, limit/mib)
		}
	}
}

// TestAttackEndlessJSON: a JSON value that never ends.
func TestAttackEndlessJSON(t *testing.T) {
	leakCheck(t)
	chunk := []byte(strings.Repeat("x", 64<<10))
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"`)
		writeEndless(w, chunk, 512*mib)
	})
	const limit = 2 * mib
	c, _ := faultClient(t, srv.URL, WithMaxReplyBytes(limit))
	var err error
	got := allocated(func() { _, err = c.AppInfo(context.Background()) })
	if !errors.Is(err, ErrReplyTooLarge) {
		t.Errorf("err = %v, want ErrReplyTooLarge", err)
	}
	if got > 16*limit {
		t.Errorf("allocated %d MiB with a %d MiB reply limit", got/mib, limit/mib)
	}
}

// TestAttackEndlessErrorBody: an error reply is read only so far, retried
// or not.
func TestAttackEndlessErrorBody(t *testing.T) {
	leakCheck(t)
	chunk := []byte(strings.Repeat("e", 64<<10))
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(503)
		writeEndless(w, chunk, 512*mib)
	})
	c, _ := faultClient(t, srv.URL, WithMaxRetries(2))
	var w waits
	var err error
	got := allocated(func() { _, err = c.AppInfo(w.ctx(context.Background())) })
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || len(ae.Body) > errBodyKeep {
		t.Errorf("err = %v, want a 503 *APIError keeping at most %d bytes", err, errBodyKeep)
	}
	if len(w.get()) != 2 {
		t.Errorf("retries = %d, want 2", len(w.get()))
	}
	if got > 16*mib {
		t.Errorf("allocated %d MiB for three endless error bodies", got/mib)
	}
}

var gzipBomb = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zeros := make([]byte, mib)
	for range 128 {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	return b.Bytes()
})

// TestAttackGzipBomb: a small compressed reply that inflates to 128 MiB is
// bounded by the reply limit once inflated.
func TestAttackGzipBomb(t *testing.T) {
	leakCheck(t)
	bomb := gzipBomb()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("the transport did not ask for gzip: the bomb would not be inflated")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb)
	})
	const limit = mib
	c, _ := faultClient(t, srv.URL, WithMaxReplyBytes(limit))
	for name, call := range map[string]func() error{
		"generated": func() error { _, err := c.API().GetChatAppInfoWithResponse(context.Background()); return err },
		"checkSuccess": func() error {
			return c.DeleteConversation(context.Background(), "c1", "u")
		},
	} {
		var err error
		got := allocated(func() { err = call() })
		if name == "generated" && !errors.Is(err, ErrReplyTooLarge) {
			t.Errorf("%s: err = %v, want ErrReplyTooLarge", name, err)
		}
		if got > 32*limit {
			t.Errorf("%s allocated %d MiB for a %d KiB bomb with a 1 MiB limit", name, got/mib, len(bomb)>>10)
		}
	}
}

// TestAttackPOSTNeverRepeated: a POST is sent once when the connection
// drops before a reply, or when the reply is a 5xx; a GET is retried.
func TestAttackPOSTNeverRepeated(t *testing.T) {
	leakCheck(t)
	for name, serve := range map[string]func(*hostile, net.Conn, *http.Request){
		"drop": func(*hostile, net.Conn, *http.Request) {},
		"503":  errorReply(503, "text/html", "<title>busy</title>"),
		"502":  errorReply(502, "application/json", `{"code":"x","message":"y","status":502}`),
		"cut": func(_ *hostile, c net.Conn, _ *http.Request) {
			reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
		},
	} {
		h := newHostile(t, serve)
		c, _ := faultClient(t, h.URL(), WithMaxRetries(3))
		var w waits
		if _, err := c.SendMessage(w.ctx(context.Background()), ChatRequest{Query: "q", User: "u"}); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := c.UploadFile(w.ctx(context.Background()), "u", "a.txt", strings.NewReader("x")); err == nil {
			t.Errorf("%s: upload: no error", name)
		}
		if got := h.hits.Load(); got != 2 {
			t.Errorf("%s: the server saw %d POSTs, want 2 (one per call)", name, got)
		}
		if name != "cut" {
			h.hits.Store(0)
			_, _ = c.AppInfo(w.ctx(context.Background()))
			if got := h.hits.Load(); got != 4 {
				t.Errorf("%s: GET sent %d times, want 4 (retried)", name, got)
			}
		}
	}
}
