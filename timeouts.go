package chatflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// This file bounds how long a call waits for the server, whatever the
// caller's context says, and ties every read of a reply body to the call's
// context.
//
// The idle timeout (WithIdleTimeout) is measured by a watchdog per attempt
// (type attempt).
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

// Phases of an attempt, for its watchdog.
const (
	phaseHeaders = iota // sending the request, waiting for the headers
	phaseBody           // the headers arrived; reading the body
	phaseDone           // the attempt is over
)

// attempt is the state of one HTTP attempt, in one allocation: its
// context's cancel function, its watchdog (which cancels that context when
// the server has been silent for d, counting only while the library waits
// for the server), and, once the headers have arrived, its reply body.
//
// As a body it is bound to the attempt's context: once that context is
// done every read returns the context's cause (a read in progress ends too:
// net/http aborts it, and for a connection net/http no longer watches,
// after a 101 Switching Protocols, a context.AfterFunc closes it). It
// removes the API key from what it reads (see scrubReader), scrubs read
// errors, and applies the reply limit when one is set. Closing it ends the
// attempt.
type attempt struct {
	ctx          context.Context
	cancel       context.CancelCauseFunc
	sec          *secret
	d            time.Duration // the idle timeout; 0: none
	method, path string

	mu        sync.Mutex
	timer     *time.Timer // nil without an idle timeout
	phase     int
	armed     bool
	deadline  time.Time
	watchBody bool // the idle timeout also counts while the body is read
	closed    bool

	rc    io.ReadCloser // the reply body
	stop  func() bool   // of the context.AfterFunc that closes rc, if any
	scrub scrubReader   // reads rc through (*rawBody)(a)
	limit int64         // the reply limit; 0: none
	left  int64
}

// newAttempt starts the watchdog of an attempt whose context cancel
// cancels, in the headers phase.
func newAttempt(ctx context.Context, cancel context.CancelCauseFunc, d time.Duration, sec *secret, req *http.Request) *attempt {
	a := &attempt{ctx: ctx, cancel: cancel, sec: sec, d: d, method: req.Method, path: req.URL.Path}
	if d > 0 {
		a.armed, a.deadline = true, time.Now().Add(d)
		a.timer = time.AfterFunc(d, a.fire)
	}
	return a
}

func (a *attempt) fire() {
	a.mu.Lock()
	if !a.armed || a.phase == phaseDone || time.Now().Before(a.deadline) {
		a.mu.Unlock() // a stale run of the timer: it was paused or re-armed
		return
	}
	what := "no reply headers within"
	if a.phase == phaseBody {
		what = "no reply data for"
	}
	a.mu.Unlock()
	a.cancel(&idleError{method: a.method, path: a.path, what: what, d: a.d})
}

// arm starts a new silence of d in phase (if the attempt is in it).
func (a *attempt) arm(phase int) {
	if a.timer == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.phase != phase || (phase == phaseBody && !a.watchBody) {
		return
	}
	a.armed, a.deadline = true, time.Now().Add(a.d)
	a.timer.Reset(a.d)
}

// disarm stops counting in phase (if the attempt is in it).
func (a *attempt) disarm(phase int) {
	if a.timer == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.phase != phase {
		return
	}
	a.armed = false
	a.timer.Stop()
}

// headersIn ends the headers phase. With watch, the idle timeout also
// counts while the body is read; without, the watchdog is done (a stream
// watches its own silence).
func (a *attempt) headersIn(watch bool) {
	if a.timer == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.phase, a.armed, a.watchBody = phaseBody, false, watch
	a.timer.Stop()
}

// end ends an attempt that got no reply.
func (a *attempt) end() {
	a.mu.Lock()
	a.phase, a.armed = phaseDone, false
	if a.timer != nil {
		a.timer.Stop()
	}
	a.mu.Unlock()
	a.cancel(nil)
}

// setBody makes a the body of resp.
func (a *attempt) setBody(resp *http.Response) {
	a.rc = resp.Body
	a.scrub = scrubReader{rd: (*rawBody)(a), sec: a.sec}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// net/http hands the connection over and stops watching the
		// request's context: close it when the context ends.
		rc := resp.Body
		a.stop = context.AfterFunc(a.ctx, func() { _ = rc.Close() })
	}
	resp.Body = a
}

// setLimit makes reading the body fail once it exceeds max bytes.
func (a *attempt) setLimit(max int64) { a.limit, a.left = max, max }

func (a *attempt) Read(p []byte) (int, error) {
	if a.limit <= 0 {
		return a.read(p)
	}
	if a.left <= 0 {
		// Tell a body of exactly max bytes from a longer one.
		var one [1]byte
		n, err := a.read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (%d bytes)", ErrReplyTooLarge, a.limit)
		}
		return 0, err
	}
	if int64(len(p)) > a.left {
		p = p[:a.left]
	}
	n, err := a.read(p)
	a.left -= int64(n)
	return n, err
}

func (a *attempt) read(p []byte) (int, error) {
	if a.sec == nil {
		return (*rawBody)(a).Read(p)
	}
	return a.scrub.Read(p)
}

// Close closes the body and ends the attempt. It may be called more than
// once, and while a Read is in progress in another goroutine.
func (a *attempt) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.phase, a.armed = phaseDone, false
	if a.timer != nil {
		a.timer.Stop()
	}
	a.mu.Unlock()
	if a.stop != nil {
		a.stop()
	}
	err := a.rc.Close()
	a.cancel(errBodyClosed)
	return err
}

// rawBody reads the reply body of an attempt as it comes: within the idle
// timeout and the attempt's context, with read errors scrubbed.
type rawBody attempt

func (r *rawBody) Read(p []byte) (int, error) {
	a := (*attempt)(r)
	a.arm(phaseBody)
	n, err := a.rc.Read(p)
	a.disarm(phaseBody)
	if err != nil && err != io.EOF {
		if cause := context.Cause(a.ctx); cause != nil {
			return n, cause
		}
		err = a.sec.err(err)
	}
	return n, err
}

// sendBody is the request body of an attempt: while the transport reads
// the caller's data, the watchdog does not count (a slow reader is not a
// silent server); each read that returns starts a new silence.
type sendBody struct {
	rc io.ReadCloser
	a  *attempt
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.a.disarm(phaseHeaders)
	n, err := b.rc.Read(p)
	b.a.arm(phaseHeaders)
	return n, err
}

func (b *sendBody) Close() error { return b.rc.Close() }
