package chatflow

// Attacks on cancellation: servers that switch protocols and hold the
// connection, error bodies that stall, and uploads whose reader blocks.
// Every call must end with its context, and report the context's error.
// Wall-clock bounds are wide (deadline plus many seconds): a call that
// returns at all before the server lets go is what proves the point.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// switchAndHold answers 101 Switching Protocols and keeps the connection
// open, silent, until the test ends.
func switchAndHold(h *hostile, c net.Conn, _ *http.Request) {
	reply(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	h.hold()
}

func TestAttackSwitchingProtocolsHonoursDeadline(t *testing.T) {
	leakCheck(t)
	h := newHostile(t, switchAndHold)
	c, _ := faultClient(t, h.URL(), WithMaxRetries(2))
	calls := callsOf(c)
	errs, took := runConcurrently(calls, func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 2*time.Second)
	})
	for name := range calls {
		err := errs[name]
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v, want context.DeadlineExceeded", name, err)
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusSwitchingProtocols {
			t.Errorf("%s: err = %v, want it to say the reply was a 101", name, err)
		}
		if took[name] > 20*time.Second {
			t.Errorf("%s took %v with a 2s deadline", name, took[name])
		}
		errNoKey(t, err)
	}
	if got := h.hits.Load(); got != int32(len(calls)) {
		t.Errorf("server saw %d requests, want %d (one each, no retry past the deadline)", got, len(calls))
	}
}

func TestAttackSwitchingProtocolsWithoutDeadline(t *testing.T) {
	leakCheck(t)
	h := newHostile(t, switchAndHold)
	// No deadline: the idle timeout bounds the wait for the 101's "body".
	c, _ := faultClient(t, h.URL(), WithIdleTimeout(300*time.Millisecond))
	calls := callsOf(c)
	errs, took := runConcurrently(calls, func() (context.Context, context.CancelFunc) {
		return context.WithCancel(context.Background())
	})
	for name := range calls {
		if err := errs[name]; !errors.Is(err, ErrIdleTimeout) {
			t.Errorf("%s: err = %v, want ErrIdleTimeout", name, err)
		}
		if took[name] > 20*time.Second {
			t.Errorf("%s took %v with a 300ms idle timeout", name, took[name])
		}
	}
}

// TestAttackCancelAfterHeaders: a call cancelled once a reply's headers
// have arrived, while what follows them is read (the "body" of a 101, an
// error body that stops half-way), ends with its context, and its error
// says what the reply was too. Idle timeout off: only the context can end
// it.
func TestAttackCancelAfterHeaders(t *testing.T) {
	for _, tt := range []struct {
		name   string
		serve  func(*hostile, net.Conn, *http.Request)
		opts   []Option
		call   func(context.Context, *Client) error
		status int
	}{
		{
			name:   "switching protocols",
			serve:  switchAndHold,
			call:   func(ctx context.Context, c *Client) error { _, err := c.AppInfo(ctx); return err },
			status: http.StatusSwitchingProtocols,
		},
		{
			name: "stalled error body",
			serve: func(h *hostile, c net.Conn, _ *http.Request) {
				reply(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"+`{"code":"internal_`)
				h.hold()
			},
			opts:   []Option{WithMaxRetries(0)},
			call:   func(ctx context.Context, c *Client) error { return c.DeleteConversation(ctx, "c1", "u") },
			status: 500,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			h := newHostile(t, tt.serve)
			// The attempt is logged once its headers have arrived: cancel
			// then.
			headers := make(chan struct{}, 1)
			c, _ := faultClient(t, h.URL(), append([]Option{WithIdleTimeout(0), WithLogger(slog.New(signalHandler{ch: headers}))}, tt.opts...)...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-headers
				cancel()
			}()
			err := tt.call(ctx, c)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != tt.status {
				t.Errorf("err = %v, want the %d *APIError too", err, tt.status)
			}
		})
	}
}

// signalHandler is a slog handler that signals each record on ch.
type signalHandler struct{ ch chan struct{} }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(context.Context, slog.Record) error {
	select {
	case h.ch <- struct{}{}:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// enteredReader signals each time a Read of r begins (its channel has room
// for every Read a test makes, so no signal is lost).
type enteredReader struct {
	r       io.Reader
	entered chan struct{}
}

func (e *enteredReader) Read(p []byte) (int, error) {
	select {
	case e.entered <- struct{}{}:
	default:
	}
	return e.r.Read(p)
}

// stalledPipe returns a reader whose writer writes head, then stalls until
// the test ends (when it is closed, letting the blocked Read return).
func stalledPipe(t *testing.T, head string) *enteredReader {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		if head != "" {
			_, _ = io.WriteString(pw, head)
		}
	}()
	t.Cleanup(func() { _ = pw.CloseWithError(errors.New("test over")) })
	return &enteredReader{r: pr, entered: make(chan struct{}, 64)}
}

// TestAttackUploadCancelWithStalledReader: an upload whose reader blocks
// ends with its context, cancelled once the blocking Read has begun or
// at a deadline.
func TestAttackUploadCancelWithStalledReader(t *testing.T) {
	for _, tt := range []struct {
		name, file, head string
		audio            bool
		deadline         time.Duration // 0: cancel once the Read blocks
	}{
		{"known type, some bytes then a stall", "notes.txt", "first bytes", false, 0},
		{"known type, a stall at once", "notes.txt", "", false, 0},
		{"sniffed type (stall before sending)", "blob", "", false, 0},
		{"audio", "speech.mp3", "ID3", true, 0},
		{"deadline", "a.txt", "x", false, 2 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t) // registered first: checked after the pipe is closed
			h := startHostile(t, false, drainAndHold)
			c, _ := faultClient(t, h.URL())
			r := stalledPipe(t, tt.head)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			want := context.Canceled
			if tt.deadline > 0 {
				var stop context.CancelFunc
				ctx, stop = context.WithTimeout(ctx, tt.deadline)
				defer stop()
				want = context.DeadlineExceeded
			} else {
				go func() {
					// Cancel once a Read of the pipe has begun after its head
					// (the Read that blocks), or at once when there is none.
					<-r.entered
					if tt.head != "" {
						<-r.entered
					}
					cancel()
				}()
			}
			start := time.Now()
			var err error
			if tt.audio {
				_, err = c.AudioToText(ctx, "u", tt.file, r)
			} else {
				_, err = c.UploadFile(ctx, "u", tt.file, r)
			}
			if !errors.Is(err, want) {
				t.Errorf("err = %v, want %v", err, want)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("the call took %v after its context ended", d)
			}
		})
	}
}

// TestAttackUploadNilReaders: a nil reader, or a nil pointer in a reader,
// is an error before anything is sent, not a panic.
func TestAttackUploadNilReaders(t *testing.T) {
	leakCheck(t)
	h := newHostile(t, func(_ *hostile, c net.Conn, _ *http.Request) { reply(c, "HTTP/1.1 500 No\r\n\r\n") })
	c, _ := faultClient(t, h.URL())
	for name, r := range map[string]io.Reader{
		"nil":               nil,
		"*bytes.Reader":     (*bytes.Reader)(nil),
		"*os.File":          (*os.File)(nil),
		"*strings.Reader":   (*strings.Reader)(nil),
		"*io.PipeReader":    (*io.PipeReader)(nil),
		"*io.LimitedReader": (*io.LimitedReader)(nil),
	} {
		for _, audio := range []bool{false, true} {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s (audio %v): panic %v", name, audio, p)
					}
				}()
				if audio {
					_, err = c.AudioToText(context.Background(), "u", "a.mp3", r)
				} else {
					_, err = c.UploadFile(context.Background(), "u", "a.txt", r)
				}
			}()
			if err == nil || !strings.Contains(err.Error(), "nil reader") {
				t.Errorf("%s (audio %v): err = %v, want a nil reader error", name, audio, err)
			}
		}
	}
	if got := h.hits.Load(); got != 0 {
		t.Errorf("server saw %d requests", got)
	}
}
