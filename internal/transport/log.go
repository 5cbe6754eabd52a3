package transport

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// logAttempt logs one HTTP attempt at debug level. It logs the method and
// path only: never headers (the API key) nor the query string; an error's
// text has the key removed (net/http may quote what a server sent).
func (d *Doer) logAttempt(ctx context.Context, req *http.Request, attempt, status int, start time.Time, err error, willRetry bool) {
	l := d.cfg.Logger
	if l == nil || !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.Int("attempt", attempt+1),
		slog.Duration("duration", time.Since(start)),
		slog.Bool("retry", willRetry),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", d.sec.Text(errText(err))))
	} else {
		attrs = append(attrs, slog.Int("status", status))
	}
	l.LogAttrs(ctx, slog.LevelDebug, "chatflow: http attempt", attrs...)
}

// errText is the text of a transport error without the request URL that
// *url.Error adds (its query may hold user ids), for logs.
func errText(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) && urlErr.Err != nil {
		return urlErr.Err.Error()
	}
	return err.Error()
}

// logRetry logs, at info level, that attempt+1 failed for reason and that
// the request is sent again after wait.
func (d *Doer) logRetry(ctx context.Context, req *http.Request, attempt int, reason string, wait time.Duration) {
	if d.cfg.Logger == nil {
		return
	}
	d.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "chatflow: retrying",
		slog.String("method", req.Method),
		slog.String("path", req.URL.Path),
		slog.Int("attempt", attempt+1),
		slog.String("reason", d.sec.Text(reason)),
		slog.Duration("wait", wait))
}
