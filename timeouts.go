package chatflow

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// This file bounds how long a call waits for the server, whatever the
// caller's context says, and ties every read of a reply body to the call's
// context.
//
// The idle timeout (WithIdleTimeout) is measured by a watchdog per attempt.
// It counts only the time the library waits for the server: while the
// request is being sent (but not while the caller's own reader, an upload's
// file, is being read), while waiting for the reply's headers, and, for an
// ordinary reply, while a read of its body is blocked. It does not count
// the time the caller spends between reads. A stream's body is watched by
// the stream itself (see newStream); the watchdog only bounds the wait for
// its headers.

// errBodyClosed is the cause of an attempt's context once its reply body
// is closed.
var errBodyClosed = errors.New("chatflow: reply body closed")

// idleError is the error of a call on which the server stayed silent for
// longer than the idle timeout. It matches ErrIdleTimeout.
type idleError struct {
	method, path string
	what         string // "no reply headers within", "no reply data for"
	d            time.Duration
}

func (e *idleError) Error() string {
	return "chatflow: " + e.method + " " + e.path + ": " + e.what + " " + e.d.String() + "; see WithIdleTimeout"
}

// Is reports whether target is ErrIdleTimeout.
func (e *idleError) Is(target error) bool { return target == ErrIdleTimeout }

// Phases of a watchdog.
const (
	phaseHeaders = iota // sending the request, waiting for the headers
	phaseBody           // the headers arrived; reading the body
	phaseDone           // the attempt is over
)

// watchdog cancels an attempt's context when the server has been silent
// for d. It is armed only while the library waits for the server.
type watchdog struct {
	d            time.Duration
	cancel       context.CancelCauseFunc
	method, path string

	mu       sync.Mutex
	timer    *time.Timer
	phase    int
	armed    bool
	deadline time.Time
}

// startWatchdog arms a watchdog for the headers of a request.
func startWatchdog(d time.Duration, cancel context.CancelCauseFunc, req *http.Request) *watchdog {
	w := &watchdog{d: d, cancel: cancel, method: req.Method, path: req.URL.Path}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed, w.deadline = true, time.Now().Add(d)
	w.timer = time.AfterFunc(d, w.fire)
	return w
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if !w.armed || w.phase == phaseDone || time.Now().Before(w.deadline) {
		w.mu.Unlock() // a stale run of the timer: it was paused or re-armed
		return
	}
	what := "no reply headers within"
	if w.phase == phaseBody {
		what = "no reply data for"
	}
	w.mu.Unlock()
	w.cancel(&idleError{method: w.method, path: w.path, what: what, d: w.d})
}

// arm starts a new silence of d in phase (if the watchdog is in it).
func (w *watchdog) arm(phase int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase != phase {
		return
	}
	w.armed, w.deadline = true, time.Now().Add(w.d)
	w.timer.Reset(w.d)
}

// disarm stops counting in phase (if the watchdog is in it).
func (w *watchdog) disarm(phase int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.phase != phase {
		return
	}
	w.armed = false
	w.timer.Stop()
}

// setPhase moves the watchdog on, disarmed.
func (w *watchdog) setPhase(phase int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.phase, w.armed = phase, false
	w.timer.Stop()
}

// sendBody is the request body of an attempt: while the transport reads
// the caller's data, the watchdog does not count (a slow reader is not a
// silent server); each read that returns starts a new silence.
type sendBody struct {
	rc io.ReadCloser
	w  *watchdog
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.w.disarm(phaseHeaders)
	n, err := b.rc.Read(p)
	b.w.arm(phaseHeaders)
	return n, err
}

func (b *sendBody) Close() error { return b.rc.Close() }

// replyBody is the body of a reply, bound to its attempt's context: once
// that context is done, a read in progress ends (even on a connection that
// net/http no longer watches, such as after a 101 Switching Protocols),
// and every read returns the context's cause. Read errors are scrubbed of
// the API key. Closing it ends the attempt.
type replyBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	w      *watchdog // nil: no idle limit while reading
	sec    *secret
	stop   func() bool // of the context.AfterFunc that closes rc
	once   sync.Once
}

func newReplyBody(ctx context.Context, cancel context.CancelCauseFunc, rc io.ReadCloser, w *watchdog, sec *secret) *replyBody {
	b := &replyBody{rc: rc, ctx: ctx, cancel: cancel, w: w, sec: sec}
	b.stop = context.AfterFunc(ctx, func() { _ = rc.Close() })
	return b
}

func (b *replyBody) Read(p []byte) (int, error) {
	if b.w != nil {
		b.w.arm(phaseBody)
	}
	n, err := b.rc.Read(p)
	if b.w != nil {
		b.w.disarm(phaseBody)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(b.ctx); cause != nil {
			return n, cause
		}
		err = b.sec.err(err)
	}
	return n, err
}

func (b *replyBody) Close() error {
	var err error
	b.once.Do(func() {
		b.stop()
		if b.w != nil {
			b.w.setPhase(phaseDone)
		}
		err = b.rc.Close()
		b.cancel(errBodyClosed)
	})
	return err
}
