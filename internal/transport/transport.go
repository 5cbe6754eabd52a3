// Package transport is the request path every app package of the module
// shares: a Doer, built from a Config, that sends each request of a client
// with the API key, the User-Agent and the caller's request editors,
// checks its path against the app's operations and its headers, retries
// it as its method allows, bounds the server's silence (the idle timeout)
// and the size of a reply read whole, keeps the key on redirects to its
// origin only and out of every error, log line and reply, and turns a
// non-2xx reply into an *APIError.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/difykit/chatflow/internal/scrub"
)

// Config is what a Doer is built from. It never holds the API key.
type Config struct {
	// BaseURL is the absolute http(s) URL of the Service API, as
	// NormalizeBaseURL returns it.
	BaseURL string
	// HTTPClient sends the requests; nil means a new http.Client. It is
	// copied, never modified.
	HTTPClient *http.Client
	// MaxRetries is how many times a failed request may be sent again,
	// unless its context says otherwise (WithRetries).
	MaxRetries int
	// RetryWaitMax caps the wait between two attempts.
	RetryWaitMax time.Duration
	// IdleTimeout is how long the server may stay silent; 0: no limit.
	IdleTimeout time.Duration
	// MaxReplyBytes is the largest reply body read whole; 0: no limit.
	MaxReplyBytes int64
	// Logger, if set, gets a line per attempt and per retry.
	Logger *slog.Logger
	// UserAgent is sent with every request.
	UserAgent string
	// Editors change every request after the Doer has set its headers.
	Editors []func(context.Context, *http.Request) error
	// Routes are the method and path template ("GET /files/{file_id}") of
	// every operation of the app: a request below BaseURL must fit one.
	Routes []string
	// Sleep waits d, or less if ctx is done first (it then returns
	// ctx.Err()): the waits between attempts and those of callers that
	// poll (Doer.Sleep). Nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Doer sends the requests of one client. Do has the signature of the
// generated clients' HTTP doers; Edit is their request editor. A Doer is
// safe for concurrent use.
type Doer struct {
	cfg     Config
	editors []func(context.Context, *http.Request) error // auth and User-Agent, then the caller's
	sec     *scrub.Secret                                // removes the key from what a server sent back
	wd      *watchdog                                    // enforces the idle timeout; nil: none
	routes  []route
	sleep   func(ctx context.Context, d time.Duration) error

	// client and streamClient are copies of the caller's http.Client with
	// the redirect policy of redirectSafeClient; the stream one has no
	// Timeout.
	client, streamClient *http.Client
}

// New returns the Doer of the client whose API key is apiKey. cfg.BaseURL
// must be normalized (see NormalizeBaseURL).
func New(apiKey string, cfg Config) *Doer {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	d := &Doer{cfg: cfg, sec: scrub.New(apiKey), wd: newWatchdog(cfg.IdleTimeout), routes: parseRoutes(cfg.Routes), sleep: cfg.Sleep}
	if d.sleep == nil {
		d.sleep = SleepContext
	}
	d.client = redirectSafeClient(hc)
	d.streamClient = redirectSafeClient(hc)
	d.streamClient.Timeout = 0
	// The key lives only in this closure: no field of Doer holds it.
	bearer := "Bearer " + apiKey
	ua := cfg.UserAgent
	headers := func(_ context.Context, req *http.Request) error {
		if req.Header == nil {
			req.Header = http.Header{}
		}
		// One allocation for both values, each capped so that an append to
		// one cannot write into the other.
		v := []string{bearer, ua}
		req.Header["Authorization"], req.Header["User-Agent"] = v[:1:1], v[1:]
		return nil
	}
	d.editors = append([]func(context.Context, *http.Request) error{headers}, cfg.Editors...)
	return d
}

// BaseURL returns the base URL requests are sent to, with a trailing slash.
func (d *Doer) BaseURL() string { return d.cfg.BaseURL }

// Sleep waits dur, or less if ctx is done first; it returns ctx.Err() then.
func (d *Doer) Sleep(ctx context.Context, dur time.Duration) error { return d.sleep(ctx, dur) }

// Edit sets the Doer's headers (auth, User-Agent) on req, then runs the
// caller's request editors.
func (d *Doer) Edit(ctx context.Context, req *http.Request) error {
	for _, e := range d.editors {
		if err := e(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

// Do sends req (with retries) and turns a non-2xx reply into an error (an
// *APIError). A 2xx reply is returned with its body bound to the call: it
// is read within the idle timeout, and within the reply limit unless it is
// a stream or a binary reply (see WithStreamReply and WithBinaryReply),
// with the API key removed; closing it ends the call.
func (d *Doer) Do(req *http.Request) (*http.Response, error) {
	if err := d.checkRequestPath(req); err != nil {
		return nil, err
	}
	resp, err := d.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, d.apiError(req, resp)
	}
	if isStreamReply(req.Context()) {
		return resp, nil // handed over unread: the stream decoder bounds each event
	}
	return limitBody(req, resp, d.cfg.MaxReplyBytes), nil
}

// apiError describes a non-2xx reply, with any echo of the API key removed.
// It reads a bounded part of the body, within the call's context and idle
// timeout: when that read is cut short by them, the error matches both the
// *APIError and the context's error (or ErrIdleTimeout).
func (d *Doer) apiError(req *http.Request, resp *http.Response) error {
	e, readErr := newAPIError(req, resp)
	d.ScrubError(e)
	e.explain404(req.Method, req.URL.EscapedPath(), d.cfg.BaseURL, d.routes)
	e.hint = d.sec.Text(e.hint) // it may quote an id the caller gave
	if readErr != nil && (req.Context().Err() != nil || errors.Is(readErr, ErrIdleTimeout)) {
		if len(e.Body) == 0 {
			e.Message = "the body could not be read"
		}
		return fmt.Errorf("%w (reading its body: %w)", e, readErr)
	}
	return e
}

// Redact returns b with the API key, and every run of 8 bytes of it or
// longer, replaced by [REDACTED]; b itself when it holds none.
func (d *Doer) Redact(b []byte) []byte { return d.sec.Runs(b) }

// ScrubError removes any echo of the API key from what e holds of the
// server's words, in place.
func (d *Doer) ScrubError(e *APIError) {
	e.Code = d.sec.Text(e.Code)
	e.Message = d.sec.Text(e.Message)
	e.Params = d.sec.Text(e.Params)
	e.Body = d.sec.Bytes(e.Body)
}

// NormalizeBaseURL checks a base URL and gives it a trailing slash. Space
// around it is dropped, and "" means def.
func NormalizeBaseURL(raw, def string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = def
	}
	if !strings.Contains(raw, "://") {
		return "", fmt.Errorf("chatflow: base URL %q has no scheme: add http:// or https://", redactRawURL(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("chatflow: base URL %q is not a valid URL: %s", redactRawURL(raw), urlParseReason(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("chatflow: base URL %q is not an absolute http(s) URL", RedactURL(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("chatflow: base URL %q has a query or fragment", RedactURL(raw))
	}
	u.User = nil
	s := u.String()
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, nil
}

// redactRawURL is RedactURL for text that may not parse as a URL: it shows
// what was given, without the user info (user:password@) of its authority.
func redactRawURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		u.User = nil
		return u.String()
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	}
	end := len(raw)
	if j := strings.IndexAny(raw[start:], "/?#"); j >= 0 {
		end = start + j
	}
	if at := strings.LastIndexByte(raw[start:end], '@'); at >= 0 {
		return raw[:start] + raw[start+at+1:]
	}
	return raw
}

// urlParseReason is the reason of a url.Parse error, without the URL
// (which may hold a password).
func urlParseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return "it does not parse"
}
