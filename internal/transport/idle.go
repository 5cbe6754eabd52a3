package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/internal/scrub"
)

// This file bounds how long a call waits for the server, whatever the
// caller's context says, and ties every read of a reply body to the call's
// context.
//
// The idle timeout (Config.IdleTimeout) is measured by one watchdog per
// Doer (type watchdog) over the attempts in flight (type attempt).
// It counts only the time the library waits for the server: while the
// request is being sent (but not while the caller's own reader, an upload's
// file, is being read), while waiting for the reply's headers, and while a
// read of the reply body (an event stream's too) is blocked on the
// connection. It does not count the time the caller spends between reads,
// and it watches the connection below the key scrubber: bytes the scrubber
// holds back have arrived, so only the server's silence counts.

// ErrIdleTimeout matches the error of a call or a stream on which the
// server stayed silent for longer than the idle timeout.
var ErrIdleTimeout = errors.New("chatflow: stream idle timeout")

// errBodyClosed is the cause of an attempt's context once its reply body
// is closed.
var errBodyClosed = errors.New("chatflow: reply body closed")

// idleError is the error of a call on which the server stayed silent for
// longer than the idle timeout. It matches ErrIdleTimeout.
type idleError struct {
	method, path string
	host         string // the server's host (and port); "" when not known
	what         string // "no reply headers within", "the server stalled: no reply data for"
	d            time.Duration
}

func (e *idleError) Error() string {
	on := ""
	if e.host != "" {
		on = " on " + e.host
	}
	return "chatflow: " + e.method + " " + e.path + on + ": " + e.what + " " + e.d.String() + "; see WithIdleTimeout"
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
// removes the API key from what it reads (see scrub.Reader), scrubs read
// errors, and applies the reply limit when one is set. Closing it ends the
// attempt.
type attempt struct {
	ctx          context.Context
	cancel       context.CancelCauseFunc
	sec          *scrub.Secret
	wd           *watchdog // nil without an idle timeout
	method, path string
	host         string

	// Under the watchdog's lock: the attempt's place in its list, and the
	// silence the watchdog has seen (seq at seenAt).
	prev, next *attempt
	watched    bool
	seen       uint64
	seenAt     time.Time

	// st is the attempt's state in one word, changed without a lock (every
	// read of the body arms and disarms): its phase (stPhase), whether it
	// is counting (stArmed), whether the idle timeout also counts while the
	// body is read (stWatchBody), and the times it was armed (from bit
	// stSeqShift on).
	st atomic.Uint64

	mu     sync.Mutex
	closed bool

	rc    io.ReadCloser // the reply body
	stop  func() bool   // of the context.AfterFunc that closes rc, if any
	scrub scrub.Reader  // reads rc through (*rawBody)(a)
	limit int64         // the reply limit; 0: none
	left  int64
}

// The fields of attempt.st.
const (
	stPhase     = 3 // the mask of the phase
	stArmed     = 1 << 2
	stWatchBody = 1 << 3
	stSeqShift  = 8
	stSeqOne    = 1 << stSeqShift
)

// newAttempt starts an attempt whose context cancel cancels, in the
// headers phase, watched by wd (nil: no idle timeout).
func newAttempt(ctx context.Context, cancel context.CancelCauseFunc, wd *watchdog, sec *scrub.Secret, req *http.Request) *attempt {
	a := &attempt{ctx: ctx, cancel: cancel, sec: sec, wd: wd, method: req.Method, path: req.URL.Path, host: req.URL.Host}
	if wd != nil {
		// The wait for the headers starts now, and is known exactly: a
		// server that never answers is cut at d, not a tick later.
		a.st.Store(phaseHeaders | stArmed | stSeqOne)
		wd.add(a, time.Now())
	}
	return a
}

// arm starts a new silence in phase (if the attempt is in it).
func (a *attempt) arm(phase int) {
	if a.wd == nil {
		return
	}
	for {
		st := a.st.Load()
		if st&stPhase != uint64(phase) || (phase == phaseBody && st&stWatchBody == 0) {
			return
		}
		if a.st.CompareAndSwap(st, (st|stArmed)+stSeqOne) {
			break
		}
	}
	a.wd.ensure()
}

// disarm stops counting in phase (if the attempt is in it).
func (a *attempt) disarm(phase int) {
	if a.wd == nil {
		return
	}
	for {
		st := a.st.Load()
		if st&stPhase != uint64(phase) || st&stArmed == 0 || a.st.CompareAndSwap(st, st&^stArmed) {
			return
		}
	}
}

// headersIn ends the headers phase. With watch, the idle timeout also
// counts while the body is read; without, the watchdog is done (a stream
// watches its own silence).
func (a *attempt) headersIn(watch bool) {
	if a.wd == nil {
		return
	}
	var w uint64
	if watch {
		w = stWatchBody
	}
	a.setPhase(phaseBody, w)
	if !watch {
		a.wd.remove(a)
	}
}

// finish marks the attempt over and takes it off the watchdog's list.
func (a *attempt) finish() {
	a.setPhase(phaseDone, 0)
	if a.wd != nil {
		a.wd.remove(a)
	}
}

// setPhase moves the attempt to phase, not counting, with the stWatchBody
// bit watch; the count of times it was armed is kept.
func (a *attempt) setPhase(phase int, watch uint64) {
	for {
		st := a.st.Load()
		if a.st.CompareAndSwap(st, st&^(stPhase|stArmed|stWatchBody)|uint64(phase)|watch) {
			return
		}
	}
}

// end ends an attempt that got no reply.
func (a *attempt) end() {
	a.finish()
	a.cancel(nil)
}

// check looks at a at a tick of its watchdog (now). It returns the error
// to cancel a with when a has been silent for the idle timeout, and
// otherwise when its silence will reach it (zero when a is not counting).
// A silence that began since the last tick (a was armed again) is taken to
// begin at this tick: a call is never cut before d of silence, and at most
// a tick after.
func (a *attempt) check(now time.Time) (idle *idleError, deadline time.Time) {
	st := a.st.Load()
	if st&stArmed == 0 || st&stPhase == phaseDone {
		return nil, time.Time{}
	}
	if seq := st >> stSeqShift; seq != a.seen {
		a.seen, a.seenAt = seq, now
	}
	if deadline = a.seenAt.Add(a.wd.d); now.Before(deadline) {
		return nil, deadline
	}
	what := "no reply headers within"
	if st&stPhase == phaseBody {
		what = "the server stalled: no reply data for"
	}
	return &idleError{method: a.method, path: a.path, host: a.host, what: what, d: a.wd.d}, time.Time{}
}

// watchdog enforces the idle timeout d of a Doer's attempts with one
// timer for all of them. While an attempt is counting, the timer fires at
// the earliest deadline it knows of, and at least every tick (d/16).
// Arming an attempt costs no timer and no clock read: it counts the times
// it was armed, and the next tick notices the count change. Every read of
// a reply body arms and disarms, so this keeps a call's fixed cost low. A
// silence is cut between d and d plus a tick after it began (a server that
// never sends the headers: at d).
type watchdog struct {
	d, tick time.Duration
	set     atomic.Bool // the timer is set (or firing)
	mu      sync.Mutex  // guards timer, head and the attempts' list fields
	timer   *time.Timer
	head    *attempt
}

func newWatchdog(d time.Duration) *watchdog {
	if d <= 0 {
		return nil
	}
	return &watchdog{d: d, tick: max(d/16, time.Millisecond)}
}

// add puts a, which began counting at now, on the list and makes sure the
// timer is set.
func (w *watchdog) add(a *attempt, now time.Time) {
	w.mu.Lock()
	a.seen, a.seenAt = a.st.Load()>>stSeqShift, now
	a.next, a.watched = w.head, true
	if w.head != nil {
		w.head.prev = a
	}
	w.head = a
	w.setLocked(w.tick)
	w.mu.Unlock()
}

// remove takes a off the list (if it is on it).
func (w *watchdog) remove(a *attempt) {
	w.mu.Lock()
	w.unlinkLocked(a)
	w.mu.Unlock()
}

func (w *watchdog) unlinkLocked(a *attempt) {
	if !a.watched {
		return
	}
	if a.prev != nil {
		a.prev.next = a.next
	} else {
		w.head = a.next
	}
	if a.next != nil {
		a.next.prev = a.prev
	}
	a.prev, a.next, a.watched = nil, nil, false
}

// ensure sets the timer if it is not set. An attempt arms itself before it
// calls ensure, and fire clears set before it looks at the attempts, so an
// armed attempt is never left without a timer.
func (w *watchdog) ensure() {
	if w.set.Load() {
		return
	}
	w.mu.Lock()
	w.setLocked(w.tick)
	w.mu.Unlock()
}

// setLocked sets the timer to fire after d, unless it is set. A set timer
// fires at most a tick away: soon enough for every new deadline, which is
// at least d away.
func (w *watchdog) setLocked(d time.Duration) {
	if w.set.Load() {
		return
	}
	w.set.Store(true)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
	} else {
		w.timer.Reset(d)
	}
}

// fire is a tick of the timer.
func (w *watchdog) fire() { w.scan(time.Now()) }

// scan cancels the attempts that have been silent for d at now, and sets
// the timer again while any attempt is counting: for the earliest
// deadline, or a tick, whichever comes first.
func (w *watchdog) scan(now time.Time) {
	var idle []*attempt
	var errs []*idleError
	var next time.Time
	w.mu.Lock()
	w.set.Store(false)
	for a := w.head; a != nil; {
		following := a.next
		if e, deadline := a.check(now); e != nil {
			w.unlinkLocked(a)
			idle, errs = append(idle, a), append(errs, e)
		} else if !deadline.IsZero() && (next.IsZero() || deadline.Before(next)) {
			next = deadline
		}
		a = following
	}
	if !next.IsZero() {
		w.setLocked(min(next.Sub(now), w.tick))
	}
	w.mu.Unlock()
	for i, a := range idle {
		a.cancel(errs[i])
	}
}

// setBody makes a the body of resp.
func (a *attempt) setBody(resp *http.Response) {
	a.rc = resp.Body
	a.scrub = scrub.NewReader((*rawBody)(a), a.sec)
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
	a.mu.Unlock()
	a.finish()
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
		err = a.sec.Err(err)
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
