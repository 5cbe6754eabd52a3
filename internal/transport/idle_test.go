package transport

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// watchdogAttempt starts an attempt watched by a watchdog whose timer is
// driven by hand (d is long enough for the real timer not to fire during
// the test). The attempt starts after the time it returns.
func watchdogAttempt(t *testing.T, d time.Duration) (*watchdog, *attempt, context.Context, time.Time) {
	t.Helper()
	w := newWatchdog(d)
	ctx, cancel := context.WithCancelCause(t.Context())
	req, err := http.NewRequest(http.MethodGet, "https://dify.example/v1/parameters", nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	a := newAttempt(ctx, cancel, w, nil, req)
	t.Cleanup(a.end)
	return w, a, ctx, t0
}

func TestWatchdogCutsOnlyAfterAWholeSilence(t *testing.T) {
	t.Parallel()
	const d = time.Hour
	w, a, ctx, t0 := watchdogAttempt(t, d)
	w.scan(t0)
	w.scan(t0.Add(d - time.Nanosecond)) // the wait for the headers began after t0
	if ctx.Err() != nil {
		t.Fatalf("cut before a silence of %v: %v", d, context.Cause(ctx))
	}
	a.arm(phaseHeaders) // the server did something: a new silence
	w.scan(t0.Add(d))   // sees the new silence, from here
	if ctx.Err() != nil {
		t.Fatalf("cut although the attempt was armed again: %v", context.Cause(ctx))
	}
	w.scan(t0.Add(2*d - time.Nanosecond))
	if ctx.Err() != nil {
		t.Fatal("cut before a silence of d from the tick that saw the new silence")
	}
	w.scan(t0.Add(2 * d))
	cause := context.Cause(ctx)
	if !errors.Is(cause, ErrIdleTimeout) || cause.Error() != "chatflow: GET /v1/parameters on dify.example: no reply headers within 1h0m0s; see WithIdleTimeout" {
		t.Fatalf("cause = %v, want the idle timeout of the headers", cause)
	}
	if w.head != nil {
		t.Error("a cut attempt stays on the watchdog's list")
	}
}

func TestWatchdogDoesNotCountWhileDisarmed(t *testing.T) {
	t.Parallel()
	const d = time.Hour
	w, a, ctx, t0 := watchdogAttempt(t, d)
	a.headersIn(true)
	a.disarm(phaseBody) // the caller is between reads
	for i := range 5 {
		w.scan(t0.Add(time.Duration(i) * d))
	}
	if ctx.Err() != nil {
		t.Fatalf("cut while the caller, not the server, was slow: %v", context.Cause(ctx))
	}
	if w.set.Load() {
		t.Error("the timer is set again although no attempt is counting")
	}
	a.arm(phaseBody)
	if !w.set.Load() {
		t.Fatal("arming does not set the timer")
	}
	w.scan(t0)
	w.scan(t0.Add(d))
	if cause := context.Cause(ctx); !errors.Is(cause, ErrIdleTimeout) || !strings.Contains(cause.Error(), "no reply data for 1h0m0s") {
		t.Fatalf("cause = %v, want the idle timeout of the body", cause)
	}
}

func TestWatchdogListFollowsAttempts(t *testing.T) {
	t.Parallel()
	w, a, _, _ := watchdogAttempt(t, time.Hour)
	ctx, cancel := context.WithCancelCause(t.Context())
	b := newAttempt(ctx, cancel, w, nil, &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/v1/chat-messages"}})
	if w.head != b || b.next != a {
		t.Fatal("a new attempt is not on the list")
	}
	b.headersIn(false) // a stream watches its own silence
	if w.head != a || a.next != nil || a.prev != nil {
		t.Fatal("a stream's attempt stays on the list after its headers")
	}
	a.end()
	if w.head != nil {
		t.Fatal("an ended attempt stays on the list")
	}
	b.end()
}

// A server that never sends the headers is cut at d, not a tick later: the
// wait is known to begin when the attempt does.
func TestWatchdogCutsASilentServerAtD(t *testing.T) {
	t.Parallel()
	const d = time.Hour
	w, _, ctx, _ := watchdogAttempt(t, d)
	w.scan(time.Now().Add(d))
	if cause := context.Cause(ctx); !errors.Is(cause, ErrIdleTimeout) {
		t.Fatalf("cause = %v, want the idle timeout once d has passed since the request", cause)
	}
}
