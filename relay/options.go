package relay

import "strings"

// Option configures a Handler; pass options to New.
type Option func(*config)

// Defaults of the options.
const (
	// DefaultMaxBodyBytes bounds a JSON request body (WithMaxBodyBytes).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxUploadBytes bounds a file or audio upload (WithMaxUploadBytes).
	DefaultMaxUploadBytes = 15 << 20
	// DefaultMaxRunsPerUser bounds the streaming runs one end user has
	// open at a time (WithMaxRunsPerUser).
	DefaultMaxRunsPerUser = 4
)

type config struct {
	origins        map[string]bool
	maxBodyBytes   int64
	maxUploadBytes int64
	maxRuns        int
}

// WithAllowedOrigins lets pages served from these origins (such as
// "https://app.example.com", scheme and host, no path) call the relay
// from the browser (CORS). By default only pages of the relay's own origin
// can. "*" is not accepted: each allowed origin is named.
func WithAllowedOrigins(origins ...string) Option {
	return func(c *config) {
		for _, o := range origins {
			o = strings.TrimSuffix(strings.TrimSpace(o), "/")
			if o != "" && o != "*" {
				c.origins[o] = true
			}
		}
	}
}

// WithMaxBodyBytes bounds a JSON request body (default 1 MiB); a larger
// body is answered 413 request_entity_too_large and not sent upstream.
// n <= 0 keeps the default.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBodyBytes = n
		}
	}
}

// WithMaxUploadBytes bounds the body of POST /files/upload and POST
// /audio-to-text (default 15 MiB); a larger one is answered 413
// request_entity_too_large. n <= 0 keeps the default.
func WithMaxUploadBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxUploadBytes = n
		}
	}
}

// WithMaxRunsPerUser bounds the chat runs one end user may have going
// through the relay at a time (default 4); one more is answered 429
// too_many_requests and not sent upstream. n <= 0 keeps the default.
func WithMaxRunsPerUser(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxRuns = n
		}
	}
}
