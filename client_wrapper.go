package chatflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/difykit/chatflow/gen"
)

// Version is the version of this library, sent in the default User-Agent.
const Version = "0.1.0"

// DefaultBaseURL is the base URL of Dify Cloud's Service API.
const DefaultBaseURL = "https://api.dify.ai/v1"

// DefaultUserAgent is the User-Agent sent when WithUserAgent is not used.
const DefaultUserAgent = "chatflow-go/" + Version + " (+https://github.com/difykit/chatflow)"

// Client talks to one Dify chatflow app. Its methods are the hand-written
// API: streaming chat, iterators over lists, uploads and the other tasks.
// Every operation of the API description is also reachable, typed as
// generated, through API.
//
// A Client is safe for concurrent use by many goroutines.
type Client struct {
	raw     *gen.Client              // unparsed replies, for the hand-written methods
	api     *gen.ClientWithResponses // the same, with typed replies (API)
	server  string                   // base URL with a trailing slash
	hc      *http.Client
	cfg     config
	editors []gen.RequestEditorFn      // auth, User-Agent, then the caller's
	sec     *secret                    // removes the key from what a server sent back
	pieces  func() map[string]struct{} // the key's pieces, for Redact
	wd      *watchdog                  // enforces the idle timeout; nil: none

	// safeClient and safeStreamClient are copies of hc with the redirect
	// policy of redirectSafeClient; the stream one has no Timeout.
	safeClient, safeStreamClient *http.Client
}

// config holds what the options set. It never holds the API key.
type config struct {
	baseURL       string
	httpClient    *http.Client
	maxRetries    int
	retryWaitMax  time.Duration
	userAgent     string
	editors       []gen.RequestEditorFn
	idleTimeout   time.Duration
	maxEventBytes int
	maxReplyBytes int64
	logger        *slog.Logger
	noResume      bool // WithResume(false)
	noAutoStop    bool // WithAutoStop(false)
}

// Option configures a Client; pass options to NewClient.
type Option func(*config) error

// Defaults of the options.
const (
	DefaultMaxRetries    = 2
	DefaultRetryWaitMax  = 30 * time.Second
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultMaxEventBytes = 16 << 20
	DefaultMaxReplyBytes = 64 << 20
)

// WithBaseURL sets the base URL of the Service API, including its /v1
// suffix, for example "https://dify.example.com/v1". It must be an absolute
// http or https URL; space around it is ignored, and "" means the default
// (DefaultBaseURL), so that WithBaseURL(os.Getenv("DIFY_BASE_URL")) works
// whether the variable is set or not. A wrong base URL shows as errors
// matching ErrEndpointNotFound, which name the URL.
func WithBaseURL(baseURL string) Option {
	return func(c *config) error { c.baseURL = baseURL; return nil }
}

// WithHTTPClient sets the HTTP client used for every request. Leave its
// Timeout at zero: it would cut long streams; bound calls with a context
// instead. NewClient copies its settings (Transport, Jar, Timeout,
// CheckRedirect): later changes to hc do not reach the Client, and hc
// itself is never modified.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("chatflow: WithHTTPClient: nil client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithMaxRetries sets how many times a failed request may be retried
// (default 2); 0 disables retries. See the README for what is retried.
func WithMaxRetries(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("chatflow: WithMaxRetries: negative count %d", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithRetryWaitMax caps the wait between two attempts, including a wait
// asked for by a Retry-After header (default 30s).
func WithRetryWaitMax(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("chatflow: WithRetryWaitMax: negative duration %v", d)
		}
		c.retryWaitMax = d
		return nil
	}
}

// WithUserAgent sets the User-Agent header sent with every request.
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		if err := checkHeaderValue("User-Agent", ua); err != nil {
			return err
		}
		c.userAgent = ua
		return nil
	}
}

// WithRequestEditor adds a function that may change every request before it
// is sent, after the library has set its own headers.
func WithRequestEditor(fn RequestEditorFn) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("chatflow: WithRequestEditor: nil function")
		}
		c.editors = append(c.editors, fn)
		return nil
	}
}

// WithIdleTimeout sets how long the server may stay silent before a call
// fails with an error matching ErrIdleTimeout (default 2 minutes; Dify
// pings streams every 10 seconds). It bounds, for every call, streams
// included, the wait for the reply's headers (counted once the request has
// been sent; time spent in the caller's own upload reader does not count),
// and the silence while a reply body is read (time the caller spends
// between reads does not count). A reply that keeps sending is never cut.
// A silent call is cut between d and d/16 more (a Client checks the
// silences of its calls at least every d/16), never sooner; a request
// without a body whose headers never come, at d.
// A call that timed out this way is not retried. 0 disables the limit.
//
// A blocking chat call (response_mode blocking through API()) gets its
// headers only when the whole answer is ready: use SendMessage, or a longer
// idle timeout, for runs that take longer.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("chatflow: WithIdleTimeout: negative duration %v", d)
		}
		c.idleTimeout = d
		return nil
	}
}

// WithMaxEventBytes sets the largest server-sent event a stream accepts,
// from 1 byte to 1 GiB (default 16 MiB); a larger one ends the stream with
// an error matching ErrEventTooLarge. An event's size is its data plus its
// other lines (event, id and retry fields, comments), line ends not counted.
func WithMaxEventBytes(n int) Option {
	return func(c *config) error {
		if n <= 0 || n > maxEventBytesLimit {
			return fmt.Errorf("chatflow: WithMaxEventBytes: %d is not from 1 to %d", n, maxEventBytesLimit)
		}
		c.maxEventBytes = n
		return nil
	}
}

// WithMaxReplyBytes sets the largest reply body read whole (default
// 64 MiB), whatever its Content-Type says (a reply claiming to be an event
// stream included); a larger one is an error matching ErrReplyTooLarge
// rather than a memory spike. It also bounds what Stream.Collect gathers.
// Binary downloads (Download) are not limited by it, nor is a stream as a
// whole (each of its events is bounded by WithMaxEventBytes).
func WithMaxReplyBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("chatflow: WithMaxReplyBytes: %d is not positive", n)
		}
		c.maxReplyBytes = n
		return nil
	}
}

// WithLogger logs each HTTP attempt (method, path, status, duration, retry)
// at debug level, and retries at info level. The API key is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithResume sets whether a stream whose connection drops before the run's
// end resumes from the server's record of the run (default true): it
// reattaches to the run (or polls its state) and ends with the answer the
// server stored, and Reply.Resumed reports it. With false, a dropped
// stream ends with an error matching ErrIncompleteStream. See
// docs/streaming.md.
func WithResume(on bool) Option {
	return func(c *config) error { c.noResume = !on; return nil }
}

// WithAutoStop sets whether a chat run that the caller abandons is stopped
// on the server (default true): cancelling the context, breaking out of
// Stream.Events or calling Stream.Close before the run's end sends one stop
// request (POST /chat-messages/{task_id}/stop) in the background, on a short
// timeout of its own. Closing a connection alone does not stop a Dify run.
// A dropped connection is not an abandonment.
func WithAutoStop(on bool) Option {
	return func(c *config) error { c.noAutoStop = !on; return nil }
}

// NewClient returns a client for the chatflow app whose API key is apiKey
// (the app's key, app-..., without "Bearer "). It rejects an empty key
// (set DIFY_API_KEY), a key with the Bearer scheme or white space in it,
// and a base URL that is not absolute http(s).
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("chatflow: empty API key: set DIFY_API_KEY to your app's API key (app-...), or pass the key to NewClient")
	}
	if k := strings.TrimSpace(apiKey); len(k) >= 7 && strings.EqualFold(k[:7], "bearer ") {
		return nil, errors.New(`chatflow: the API key starts with "Bearer ": pass the key alone (app-...); the client sends the Bearer scheme itself`)
	}
	if strings.ContainsAny(apiKey, "\r\n\t ") {
		return nil, errors.New("chatflow: API key contains white space or a line break")
	}
	cfg := config{
		baseURL:       DefaultBaseURL,
		maxRetries:    DefaultMaxRetries,
		retryWaitMax:  DefaultRetryWaitMax,
		userAgent:     DefaultUserAgent,
		idleTimeout:   DefaultIdleTimeout,
		maxEventBytes: DefaultMaxEventBytes,
		maxReplyBytes: DefaultMaxReplyBytes,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	server, err := normalizeBaseURL(cfg.baseURL)
	if err != nil {
		return nil, err
	}
	hc := cfg.httpClient
	if hc == nil {
		hc = &http.Client{}
	}
	c := &Client{server: server, hc: hc, cfg: cfg}
	c.safeClient = c.redirectSafeClient()
	c.safeStreamClient = c.redirectSafeClient()
	c.safeStreamClient.Timeout = 0
	// The key lives only in this closure: no field of Client holds it.
	bearer := "Bearer " + apiKey
	ua := cfg.userAgent
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
	c.sec = newSecret(apiKey)
	c.pieces = piecesOf(c.sec)
	c.wd = newWatchdog(cfg.idleTimeout)
	c.editors = append([]gen.RequestEditorFn{headers}, cfg.editors...)

	d := apiDoer{c: c}
	c.raw, err = gen.NewClient(server, gen.WithHTTPClient(d), gen.WithRequestEditorFn(c.applyEditors))
	if err != nil {
		return nil, fmt.Errorf("chatflow: %w", err)
	}
	c.api = &gen.ClientWithResponses{ClientInterface: c.raw}
	return c, nil
}

// API returns the generated client, with one method per operation of the
// API description (for example c.API().GetChatAppMetaWithResponse). It
// sends through the same auth, retries, size limits and request editors as
// c, and a reply with a non-2xx status comes back as an error of type
// *APIError, never as a response. Use it for what the methods of Client do
// not cover, such as a single page of a list.
func (c *Client) API() *gen.ClientWithResponses { return c.api }

// BaseURL returns the base URL requests are sent to, with a trailing slash.
func (c *Client) BaseURL() string { return c.server }

// String describes the client without its API key.
func (c *Client) String() string { return "chatflow.Client(" + redactURL(c.server) + ")" }

// GoString is the same as String, so that %#v never prints internals.
func (c *Client) GoString() string { return c.String() }

// Format prints the client the same way for every verb (%v, %+v, %#v, %s).
func (c *Client) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// applyEditors runs the library's and the caller's request editors.
func (c *Client) applyEditors(ctx context.Context, req *http.Request) error {
	for _, e := range c.editors {
		if err := e(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

// apiDoer is the HTTP doer behind every generated call: it sends the request
// (with retries) and turns a non-2xx reply into an error (an *APIError).
type apiDoer struct{ c *Client }

// Do implements gen.HttpRequestDoer.
func (d apiDoer) Do(req *http.Request) (*http.Response, error) {
	if err := checkRequestPath(req, d.c.server); err != nil {
		return nil, err
	}
	resp, err := d.c.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, d.c.apiError(req, resp)
	}
	if isStreamReply(req.Context()) {
		return resp, nil // handed over unread: the stream decoder bounds each event
	}
	return limitBody(req, resp, d.c.cfg.maxReplyBytes), nil
}

// apiError describes a non-2xx reply, with any echo of the API key removed.
// It reads a bounded part of the body, within the call's context and idle
// timeout: when that read is cut short by them, the error matches both the
// *APIError and the context's error (or ErrIdleTimeout).
func (c *Client) apiError(req *http.Request, resp *http.Response) error {
	e, readErr := newAPIError(req, resp)
	c.scrubError(e)
	e.explain404(req.Method, req.URL.EscapedPath(), c.server)
	e.hint = c.sec.text(e.hint) // it may quote an id the caller gave
	if readErr != nil && (req.Context().Err() != nil || errors.Is(readErr, ErrIdleTimeout)) {
		if len(e.Body) == 0 {
			e.Message = "the body could not be read"
		}
		return fmt.Errorf("%w (reading its body: %w)", e, readErr)
	}
	return e
}

// scrubError removes any echo of the API key from what e holds of the
// server's words, in place.
func (c *Client) scrubError(e *APIError) {
	e.Code = c.sec.text(e.Code)
	e.Message = c.sec.text(e.Message)
	e.Params = c.sec.text(e.Params)
	e.Body = c.sec.bytes(e.Body)
}

// normalizeBaseURL checks a base URL and gives it a trailing slash. Space
// around it is dropped, and "" means DefaultBaseURL.
func normalizeBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultBaseURL
	}
	if !strings.Contains(raw, "://") {
		return "", fmt.Errorf("chatflow: base URL %q has no scheme: add http:// or https://", redactRawURL(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("chatflow: base URL %q is not a valid URL: %s", redactRawURL(raw), urlParseReason(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("chatflow: base URL %q is not an absolute http(s) URL", redactURL(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("chatflow: base URL %q has a query or fragment", redactURL(raw))
	}
	u.User = nil
	s := u.String()
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, nil
}

// redactRawURL is redactURL for text that may not parse as a URL: it shows
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
