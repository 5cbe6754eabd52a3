package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// retriesKey is the context key of the per-call retry count.
type retriesKey struct{}

// WithRetries returns a copy of ctx that makes every request sent with it
// retry at most n times, instead of Config.MaxRetries; n <= 0 disables
// retries for those calls.
func WithRetries(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, retriesKey{}, max(n, 0))
}

// Backoff between attempts when the server does not say how long to wait:
// attempt n (counting retries from 0) waits a random time in
// [0, min(retryWaitBase<<n, retryWaitMax)] ("full jitter").
const retryWaitBase = 500 * time.Millisecond

// retryDecision is the whole retry policy: it reports whether an attempt
// that ended with HTTP status (0 when there was no reply) or with the
// transport error err may be sent again, and why. It does not count
// attempts or look at time; send does.
//
//   - A body that cannot be sent again (replayable false) is never retried.
//   - Context cancellation and expiry are never retried, nor is a server
//     that stayed silent for the idle timeout (the call would last several
//     times the documented bound), nor are errors
//     that another attempt cannot fix (TLS certificate or handshake, a
//     plain-HTTP server behind a https URL, redirect policy, unknown host,
//     malformed URL).
//   - GET, HEAD, PUT and DELETE are idempotent: they are retried after any
//     other transport error (no reply arrived) and on 408, 429, 500, 502,
//     503 and 504.
//   - Any other method (POST, PATCH) may have had an effect already, so a
//     chat message or an upload never runs twice: it is retried only on 429
//     (the server refused it without running it) and when the connection
//     could not be made at all (a dial or name lookup error), so that the
//     request provably never reached the server.
func retryDecision(method string, replayable bool, status int, err error) (retry bool, reason string) {
	if !replayable {
		return false, ""
	}
	if err != nil {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
			errors.Is(err, ErrIdleTimeout):
			return false, ""
		case !transientTransportError(err):
			return false, ""
		case neverSent(err):
			return true, "connection failed: " + errText(err)
		case idempotent(method):
			return true, "no reply: " + errText(err)
		}
		return false, ""
	}
	switch status {
	case http.StatusTooManyRequests:
		return true, "status 429"
	case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if idempotent(method) {
			return true, "status " + strconv.Itoa(status)
		}
	}
	return false, ""
}

// idempotent reports whether sending method twice has the effect of
// sending it once.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, "":
		return true
	}
	return false
}

// neverSent reports whether err proves that the request never left this
// machine: the connection to the server could not be opened.
func neverSent(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// transientTransportError reports whether another attempt could succeed
// where err failed.
func transientTransportError(err error) bool {
	var (
		certErr  *tls.CertificateVerificationError
		dnsErr   *net.DNSError
		redirErr *redirectPolicyError
		urlErr   *url.Error
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &redirErr):
		return false
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return false
	case errors.As(err, &urlErr) && urlErr.Err != nil && requestRefused(urlErr.Err.Error()):
		return false
	case tlsFailure(err):
		return false
	}
	return true
}

// tlsFailure reports whether err is a TLS failure that another attempt
// would meet again: a certificate the client does not trust (unknown
// authority, wrong host name, expired), a failed handshake, or a server
// that answered a https URL with plain HTTP.
func tlsFailure(err error) bool {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) ||
		errors.As(err, &recordErr) || errors.As(err, &alertErr) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{
		"server gave HTTP response to HTTPS client",
		"x509: ",
		"tls: ",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// requestRefused reports whether msg is one of the errors net/http gives
// for a request it refuses to send at all.
func requestRefused(msg string) bool {
	for _, p := range []string{"unsupported protocol scheme", "net/http: invalid", "http: no Host", "net/http: nil"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// retryReplayable reports whether req can be sent again with the same body.
func retryReplayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// send performs one logical request: it sends req and, as the policy of
// retryDecision allows, sends it again after a wait, with the same body.
// A reply of any status is returned as it is (Do turns a non-2xx into an
// error); the body of a reply left behind for a retry is read (a
// bounded part of it, for the error of a cancelled wait) and closed. A
// transport error is returned wrapped, with the API key removed from its
// text.
//
// Each attempt has a context of its own, ended when its reply body is
// closed: the idle timeout (see idle.go) cancels it when the server
// stays silent, and every read of the reply body is bound to it.
func (d *Doer) send(req *http.Request) (*http.Response, error) {
	if err := checkHeaders(req); err != nil {
		return nil, err
	}
	ctx := req.Context()
	retries := d.cfg.MaxRetries
	if n, ok := ctx.Value(retriesKey{}).(int); ok {
		retries = n
	}
	stream := isStreamReply(ctx)
	hc := d.client
	if stream {
		hc = d.streamClient // no Timeout: it would cut every stream after that time
	}
	replayable := retryReplayable(req)

	for attempt := 0; ; attempt++ {
		var start time.Time
		if d.cfg.Logger != nil {
			start = time.Now()
		}
		resp, err := d.try(ctx, req, hc, attempt)
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		retry, reason := retryDecision(req.Method, replayable, status, err)
		var wait time.Duration
		if retry && attempt < retries && ctx.Err() == nil {
			wait, retry = d.retryWait(ctx, attempt, resp)
		} else {
			retry = false
		}
		d.logAttempt(ctx, req, attempt, status, start, err, retry)
		if !retry {
			if err != nil {
				return nil, transportError(attempt, d.sec.Err(err))
			}
			return resp, nil
		}

		var lastErr error
		if err != nil {
			lastErr = transportError(attempt, d.sec.Err(err))
		} else {
			lastErr = d.apiError(req, resp) // reads a bounded part of the body and closes it
		}
		d.logRetry(ctx, req, attempt, reason, wait)
		if err := d.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("chatflow: %s %s: gave up waiting to retry: %w; last attempt: %w", req.Method, req.URL.Path, err, lastErr)
		}
	}
}

// try sends attempt number attempt of req with hc, in a context of its
// own (a child of ctx, req's context) watched by the idle timeout. A reply
// comes back with its headers scrubbed and its body bound to the attempt;
// an error is the attempt's (see attemptError).
func (d *Doer) try(ctx context.Context, req *http.Request, hc *http.Client, attempt int) (*http.Response, error) {
	actx, acancel := context.WithCancelCause(ctx)
	attemptReq := req.WithContext(actx)
	if attempt > 0 {
		r, err := retryRequest(actx, req)
		if err != nil {
			acancel(nil)
			return nil, fmt.Errorf("chatflow: %s %s: replaying the request body: %w", req.Method, req.URL.Path, d.sec.Err(err))
		}
		attemptReq = r
	}
	a := newAttempt(actx, acancel, d.wd, d.sec, req)
	if b := attemptReq.Body; a.wd != nil && b != nil && b != http.NoBody {
		attemptReq.Body = &sendBody{rc: b, a: a}
	}
	resp, err := hc.Do(attemptReq)
	if err != nil {
		// A failed redirect may come with a reply whose body net/http
		// closed: there is no reply.
		a.end()
		return nil, attemptError(ctx, actx, err)
	}
	d.sec.Header(resp.Header)
	resp.Request = req
	// The watchdog counts every wait for the server below the key
	// scrubber, streams included: bytes the scrubber holds back still
	// arrived, so only the server's silence counts.
	a.headersIn(true)
	a.setBody(resp)
	return resp, nil
}

// retryWait returns the wait before the attempt after attempt, whose reply
// (nil if none) may ask for one with Retry-After, capped by RetryWaitMax;
// false when that wait would pass ctx's deadline: the next attempt could
// not start in time.
func (d *Doer) retryWait(ctx context.Context, attempt int, resp *http.Response) (time.Duration, bool) {
	wait := d.backoff(attempt)
	if resp != nil {
		if ra := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ra > 0 {
			wait = min(ra, d.cfg.RetryWaitMax)
		}
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
		return 0, false
	}
	return wait, true
}

// attemptError says why an attempt failed when its context ended: the idle
// timeout, or the caller's context (whose error it then always matches,
// whatever net/http made of it).
func attemptError(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil {
		var ie *idleError
		if cause := context.Cause(actx); errors.As(cause, &ie) {
			return ie
		}
		return err
	}
	if cause := context.Cause(ctx); !errors.Is(err, ctx.Err()) && !errors.Is(err, cause) {
		return fmt.Errorf("%w (%w)", cause, err)
	}
	return err
}

// retryRequest makes a copy of req for another attempt, with a fresh body.
func retryRequest(ctx context.Context, req *http.Request) (*http.Request, error) {
	r := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	return r, nil
}

// transportError describes an error that came before any reply, after
// attempt+1 attempts.
func transportError(attempt int, err error) error {
	prefix := "chatflow: "
	if strings.HasPrefix(err.Error(), prefix) {
		prefix = ""
	}
	if attempt > 0 {
		return fmt.Errorf("%s%w (after %d attempts)", prefix, err, attempt+1)
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// backoff returns the jittered wait before retry number attempt+1.
func (d *Doer) backoff(attempt int) time.Duration {
	ceiling := d.cfg.RetryWaitMax
	if attempt < 30 {
		ceiling = min(ceiling, retryWaitBase<<attempt)
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// SleepContext waits d or until ctx is done, whichever comes first: the
// Doer's sleep between retries unless Config.Sleep replaces it.
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
