package chatflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/options"
	"github.com/difykit/chatflow/internal/sse"
	"github.com/difykit/chatflow/internal/transport"
)

// Version is the version of this library, sent in the default User-Agent.
const Version = options.Version

// DefaultBaseURL is the base URL of Dify Cloud's Service API.
const DefaultBaseURL = options.DefaultBaseURL

// DefaultUserAgent is the User-Agent sent when WithUserAgent is not used.
const DefaultUserAgent = options.DefaultUserAgent

// Client talks to one Dify chatflow app. Its methods are the hand-written
// API: streaming chat, iterators over lists, uploads and the other tasks.
// Every operation of the API description is also reachable, typed as
// generated, through API.
//
// A Client is safe for concurrent use by many goroutines.
type Client struct {
	raw *gen.Client              // unparsed replies, for the hand-written methods
	api *gen.ClientWithResponses // the same, with typed replies (API)
	tr  *transport.Doer          // the request path of every call
	cfg options.Config
}

// Option configures a Client; pass options to NewClient.
type Option func(*options.Config) error

// Defaults of the options (the doc of each option says its value). The
// other app packages of this module share them, with the options.
const (
	DefaultMaxRetries    = options.DefaultMaxRetries
	DefaultRetryWaitMax  = options.DefaultRetryWaitMax
	DefaultIdleTimeout   = options.DefaultIdleTimeout
	DefaultMaxEventBytes = options.DefaultMaxEventBytes
	DefaultMaxReplyBytes = options.DefaultMaxReplyBytes
)

// WithBaseURL sets the base URL of the Service API, including its /v1
// suffix, for example "https://dify.example.com/v1". It must be an absolute
// http or https URL; space around it is ignored, and "" means the default
// (DefaultBaseURL), so that WithBaseURL(os.Getenv("DIFY_BASE_URL")) works
// whether the variable is set or not. A wrong base URL shows as errors
// matching ErrEndpointNotFound, which name the URL.
func WithBaseURL(baseURL string) Option {
	return func(c *options.Config) error { c.BaseURL = baseURL; return nil }
}

// WithHTTPClient sets the HTTP client used for every request. Leave its
// Timeout at zero: it would cut long streams; bound calls with a context
// instead. NewClient copies its settings (Transport, Jar, Timeout,
// CheckRedirect): later changes to hc do not reach the Client, and hc
// itself is never modified.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *options.Config) error {
		if hc == nil {
			return errors.New("chatflow: WithHTTPClient: nil client")
		}
		c.HTTPClient = hc
		return nil
	}
}

// WithMaxRetries sets how many times a failed request may be retried
// (default 2); 0 disables retries. See the README for what is retried.
func WithMaxRetries(n int) Option {
	return func(c *options.Config) error {
		if n < 0 {
			return fmt.Errorf("chatflow: WithMaxRetries: negative count %d", n)
		}
		c.MaxRetries = n
		return nil
	}
}

// WithRetryWaitMax caps the wait between two attempts, including a wait
// asked for by a Retry-After header (default 30s).
func WithRetryWaitMax(d time.Duration) Option {
	return func(c *options.Config) error {
		if d < 0 {
			return fmt.Errorf("chatflow: WithRetryWaitMax: negative duration %v", d)
		}
		c.RetryWaitMax = d
		return nil
	}
}

// WithUserAgent sets the User-Agent header sent with every request.
func WithUserAgent(ua string) Option {
	return func(c *options.Config) error {
		if err := transport.CheckHeaderValue("User-Agent", ua); err != nil {
			return err
		}
		c.UserAgent = ua
		return nil
	}
}

// WithRequestEditor adds a function that may change every request before it
// is sent, after the library has set its own headers.
func WithRequestEditor(fn RequestEditorFn) Option {
	return func(c *options.Config) error {
		if fn == nil {
			return errors.New("chatflow: WithRequestEditor: nil function")
		}
		c.Editors = append(c.Editors, fn)
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
// A silent call is never cut before d of silence, and is cut soon after,
// within a small fraction of d; a request without a body whose headers
// never come, at d.
// A call that timed out this way is not retried. 0 disables the limit.
//
// A blocking chat call (response_mode blocking through API()) gets its
// headers only when the whole answer is ready: use SendMessage, or a longer
// idle timeout, for runs that take longer.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *options.Config) error {
		if d < 0 {
			return fmt.Errorf("chatflow: WithIdleTimeout: negative duration %v", d)
		}
		c.IdleTimeout = d
		return nil
	}
}

// WithMaxEventBytes sets the largest server-sent event a stream accepts,
// from 1 byte to 1 GiB (default 16 MiB); a larger one ends the stream with
// an error matching ErrEventTooLarge. An event's size is its data plus its
// other lines (event, id and retry fields, comments), line ends not counted.
func WithMaxEventBytes(n int) Option {
	return func(c *options.Config) error {
		if n <= 0 || n > sse.MaxEventBytesLimit {
			return fmt.Errorf("chatflow: WithMaxEventBytes: %d is not from 1 to %d", n, sse.MaxEventBytesLimit)
		}
		c.MaxEventBytes = n
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
	return func(c *options.Config) error {
		if n <= 0 {
			return fmt.Errorf("chatflow: WithMaxReplyBytes: %d is not positive", n)
		}
		c.MaxReplyBytes = n
		return nil
	}
}

// WithLogger logs each HTTP attempt (method, path, status, duration, retry)
// at debug level, and retries at info level. The API key is never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *options.Config) error { c.Logger = l; return nil }
}

// WithResume sets whether a stream whose connection drops before the run's
// end resumes from the server's record of the run (default true): it
// reattaches to the run (or polls its state) and ends with the answer the
// server stored, and Reply.Resumed reports it. With false, a dropped
// stream ends with an error matching ErrIncompleteStream. See
// docs/streaming.md.
func WithResume(on bool) Option {
	return func(c *options.Config) error { c.NoResume = !on; return nil }
}

// WithAutoStop sets whether a chat run that the caller abandons is stopped
// on the server (default true): cancelling the context, breaking out of
// Stream.Events or calling Stream.Close before the run's end sends one stop
// request (POST /chat-messages/{task_id}/stop) in the background, on a short
// timeout of its own. Closing a connection alone does not stop a Dify run.
// A dropped connection is not an abandonment.
func WithAutoStop(on bool) Option {
	return func(c *options.Config) error { c.NoAutoStop = !on; return nil }
}

// NewClient returns a client for the chatflow app whose API key is apiKey
// (the app's key, app-..., without "Bearer "). It rejects an empty key
// (set DIFY_API_KEY), a key with the Bearer scheme or white space in it,
// and a base URL that is not absolute http(s).
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	cfg, tr, err := options.New(apiKey, opts, apiRoutes)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, tr: tr}
	c.raw, err = gen.NewClient(tr.BaseURL(), gen.WithHTTPClient(tr), gen.WithRequestEditorFn(tr.Edit))
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
func (c *Client) BaseURL() string { return c.tr.BaseURL() }

// String describes the client without its API key.
func (c *Client) String() string {
	return "chatflow.Client(" + transport.RedactURL(c.tr.BaseURL()) + ")"
}

// GoString is the same as String, so that %#v never prints internals.
func (c *Client) GoString() string { return c.String() }

// Format prints the client the same way for every verb (%v, %+v, %#v, %s).
func (c *Client) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// Redact returns b with the client's API key, and every run of 8 bytes
// of it or longer, replaced by [REDACTED]; b itself when it holds none.
// The library already keeps the whole key out of what it hands back; a
// program that passes replies on to others (a proxy for browsers, see
// package relay) calls Redact on them too, so that not even a piece of
// the key leaves it.
func (c *Client) Redact(b []byte) []byte { return c.tr.Redact(b) }

// WithRetries returns a copy of ctx that makes every request of this
// package sent with it retry at most n times, instead of the count set by
// WithMaxRetries; n <= 0 disables retries for those calls. The generated
// methods take only a context and request editors, so a context is how a
// single call chooses:
//
//	// The user is waiting: fail fast rather than back off.
//	meta, err := c.API().GetChatAppMetaWithResponse(chatflow.WithRetries(ctx, 0))
//
// Retries never exceed the context's own limits: to bound a call as a
// whole, including its retries and their waits, give it a deadline with
// context.WithTimeout; a wait that would pass the deadline is not started.
func WithRetries(ctx context.Context, n int) context.Context {
	return transport.WithRetries(ctx, n)
}
