// Package options holds the settings of a client: what the options of
// package chatflow set (the other app packages take the same options), the
// defaults, and the building of a client's request path from them, so that
// every app package checks its key, applies its options and sends its
// requests the same way.
package options

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/difykit/chatflow/internal/transport"
)

// Version is the version of the library, sent in the default User-Agent.
const Version = "0.1.0"

// Defaults of the settings.
const (
	DefaultBaseURL       = "https://api.dify.ai/v1"
	DefaultUserAgent     = "chatflow-go/" + Version + " (+https://github.com/difykit/chatflow)"
	DefaultMaxRetries    = 2
	DefaultRetryWaitMax  = 30 * time.Second
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultMaxEventBytes = 16 << 20
	DefaultMaxReplyBytes = 64 << 20
)

// Config holds what the options set. It never holds the API key.
type Config struct {
	BaseURL       string
	HTTPClient    *http.Client
	MaxRetries    int
	RetryWaitMax  time.Duration
	UserAgent     string
	Editors       []func(context.Context, *http.Request) error
	IdleTimeout   time.Duration
	MaxEventBytes int
	MaxReplyBytes int64
	Logger        *slog.Logger
	NoResume      bool // a dropped stream is not resumed
	NoAutoStop    bool // an abandoned run is not stopped
	// Sleep replaces the timer of the waits before a retry or a resume
	// (nil: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Defaults returns the settings of a client given no options.
func Defaults() Config {
	return Config{
		BaseURL:       DefaultBaseURL,
		MaxRetries:    DefaultMaxRetries,
		RetryWaitMax:  DefaultRetryWaitMax,
		UserAgent:     DefaultUserAgent,
		IdleTimeout:   DefaultIdleTimeout,
		MaxEventBytes: DefaultMaxEventBytes,
		MaxReplyBytes: DefaultMaxReplyBytes,
	}
}

// New checks apiKey (not empty, not with the Bearer scheme, no white space
// or line break), applies
// opts over the defaults (a nil option is skipped), checks the base URL,
// and builds the request path of a client of the app whose operations are
// routes ("METHOD /path/{param}").
func New[O ~func(*Config) error](apiKey string, opts []O, routes []string) (Config, *transport.Doer, error) {
	if strings.TrimSpace(apiKey) == "" {
		return Config{}, nil, errors.New("chatflow: empty API key: set DIFY_API_KEY to your app's API key (app-...), or pass the key to NewClient")
	}
	if k := strings.TrimSpace(apiKey); len(k) >= 7 && strings.EqualFold(k[:7], "bearer ") {
		return Config{}, nil, errors.New(`chatflow: the API key starts with "Bearer ": pass the key alone (app-...); the client sends the Bearer scheme itself`)
	}
	if strings.ContainsAny(apiKey, "\r\n\t ") {
		return Config{}, nil, errors.New("chatflow: API key contains white space or a line break")
	}
	cfg := Defaults()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return Config{}, nil, err
		}
	}
	server, err := transport.NormalizeBaseURL(cfg.BaseURL, DefaultBaseURL)
	if err != nil {
		return Config{}, nil, err
	}
	return cfg, transport.New(apiKey, transport.Config{
		BaseURL:       server,
		HTTPClient:    cfg.HTTPClient,
		MaxRetries:    cfg.MaxRetries,
		RetryWaitMax:  cfg.RetryWaitMax,
		IdleTimeout:   cfg.IdleTimeout,
		MaxReplyBytes: cfg.MaxReplyBytes,
		Logger:        cfg.Logger,
		UserAgent:     cfg.UserAgent,
		Editors:       cfg.Editors,
		Routes:        routes,
		Sleep:         cfg.Sleep,
	}), nil
}
