package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/difykit/chatflow/internal/difyroute"
)

// Sentinel errors matched by errors.Is against an *APIError.
var (
	// ErrUnauthorized matches a 401: the API key is missing, wrong or revoked.
	ErrUnauthorized = errors.New("chatflow: unauthorized (401)")
	// ErrForbidden matches a 403: the app is disabled or gone.
	ErrForbidden = errors.New("chatflow: forbidden (403)")
	// ErrNotFound matches a 404 in which Dify says that what the request
	// names does not exist for this user: no such conversation, message,
	// variable, file, end user or run (codes not_found, file_not_found,
	// end_user_not_found, ...). Conversations and their messages belong to
	// the user that created them. A 404 for a path the server does not
	// serve matches ErrEndpointNotFound instead.
	ErrNotFound = errors.New("chatflow: not found (404)")
	// ErrEndpointNotFound matches a 404 for a path the server does not
	// serve at all: Dify's "The requested URL was not found on the server"
	// reply, or a 404 with an HTML, empty or other non-Dify body. It almost
	// always means a wrong base URL (which usually ends in /v1); the error
	// names the URL that was asked for.
	ErrEndpointNotFound = errors.New("chatflow: endpoint not found (404): check the base URL")
	// ErrRateLimited matches a 429, and the 400 "Too many requests..."
	// that some Dify versions send for their per-app concurrency limit.
	ErrRateLimited = errors.New("chatflow: rate limited (429)")
	// ErrBadRequest matches "the request was wrong" in either of the forms
	// Dify uses: 400 (invalid_param, bad_request and the other 400 codes)
	// and 422 unprocessable_entity (newer validation). A 400 that is the
	// concurrency limit matches ErrRateLimited instead.
	ErrBadRequest = errors.New("chatflow: bad request (400 or 422)")
)

// maxRetryAfter caps a Retry-After header, in either of its forms.
const maxRetryAfter = 24 * time.Hour

// Limits on what an error keeps of a reply body.
const (
	// ErrBodyReadLimit is how much of a reply body is read to describe it
	// in an error.
	ErrBodyReadLimit = 64 << 10
	// ErrMessageShort is how many runes of a message an error shows.
	ErrMessageShort = 240
	errBodyKeep     = 4 << 10 // bytes kept in APIError.Body
)

// APIError is a reply from the server (or a proxy in front of it) with a
// non-2xx status, or an error event inside a stream. Find it with errors.As;
// test its class with errors.Is(err, ErrNotFound) and the other sentinels.
type APIError struct {
	// StatusCode is the HTTP status, or the status field of a stream's error event.
	StatusCode int
	// Code is Dify's error code, such as "not_found" or "invalid_param";
	// empty when the body was not a Dify error (a proxy's HTML page).
	Code string
	// Message is Dify's message, or a short summary of a non-JSON body.
	Message string
	// Params names the request field a 400 refers to, when the server says.
	Params string
	// Method and URL identify the request; the URL carries no credentials.
	Method string
	URL    string
	// RetryAfter is the wait asked for by a Retry-After header, if any,
	// in seconds or as an HTTP date, at most 24 hours.
	RetryAfter time.Duration
	// Body is the start of the raw reply body (at most 4 KiB).
	Body []byte

	hint  string // a likely cause, added to Error()
	badID bool   // a route-level 404 caused by a path id that is not a UUID
}

// Error returns a one-line description, short even for a large body.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("chatflow: ")
	if e.StatusCode != 0 {
		b.WriteString(strconv.Itoa(e.StatusCode))
		if t := http.StatusText(e.StatusCode); t != "" {
			b.WriteString(" " + t)
		}
	} else {
		b.WriteString("error")
	}
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if msg := Shorten(e.Message, ErrMessageShort); msg != "" {
		b.WriteString(": " + msg)
	}
	if e.Method != "" || e.URL != "" {
		b.WriteString(" [" + strings.TrimSpace(e.Method+" "+e.URL) + "]")
	}
	if e.hint != "" {
		b.WriteString(" (" + e.hint + ")")
	}
	return b.String()
}

// Is reports whether target is the sentinel of this error's class: 401
// ErrUnauthorized, 403 ErrForbidden, 404 ErrNotFound or ErrEndpointNotFound,
// 429 ErrRateLimited, 400 and 422 ErrBadRequest. A 400 that Dify uses for
// its concurrency limit ("Too many requests") matches ErrRateLimited, not
// ErrBadRequest. A 404 matches exactly one of ErrNotFound (Dify says the
// conversation, message, file... does not exist) and ErrEndpointNotFound
// (the server does not serve the path: a wrong base URL).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound && (!e.routeLevel() || e.badID)
	case ErrEndpointNotFound:
		return e.StatusCode == http.StatusNotFound && e.routeLevel() && !e.badID
	case ErrRateLimited:
		return e.rateLimited()
	case ErrBadRequest:
		return (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnprocessableEntity) &&
			!e.rateLimited()
	}
	return false
}

// routeNotFoundMessage starts the message of the 404 that Dify (Flask)
// sends for a path it does not route, as a Dify JSON error.
const routeNotFoundMessage = "the requested url was not found on the server"

// routeLevel reports whether a 404 came from the routing of the server (or
// of something in front of it) rather than from Dify's handler of the
// operation: Flask's "The requested URL was not found on the server", or a
// body that is not a Dify error at all (HTML, text, empty).
func (e *APIError) routeLevel() bool {
	if e.StatusCode != http.StatusNotFound {
		return false
	}
	return e.Code == "" ||
		strings.HasPrefix(strings.ToLower(strings.TrimSpace(e.Message)), routeNotFoundMessage)
}

// operationOf finds the operation (one of routes) of a request path below
// base, and the values of its path parameters. It returns ok false for a
// path outside base or one that fits no operation (which Do never sends:
// see checkRequestPath).
func operationOf(method, escapedPath, base string, routes []route) (template string, params map[string]string, ok bool) {
	p := escapedPath
	if i := strings.Index(base, "://"); i >= 0 {
		if j := strings.IndexByte(base[i+3:], '/'); j >= 0 {
			prefix := base[i+3+j:]
			if !strings.HasPrefix(p, prefix) {
				return "", nil, false
			}
			p = p[len(prefix):]
		}
	}
	p = strings.TrimPrefix(p, "/")
	for _, r := range routes {
		if !r.fits(method, p) {
			continue
		}
		params = map[string]string{}
		for i, got := range strings.Split(p, "/") {
			if name := r.params[i]; name != "" {
				v, err := url.PathUnescape(got)
				if err != nil {
					v = got
				}
				params[name] = v
			}
		}
		return r.path, params, true
	}
	return "", nil, false
}

// explain404 adds the likely cause to a 404 of a request to an operation
// (one of routes) below base: a malformed path id, a wrong base URL, or
// (for Dify's own not_found on a conversation or message) another user's
// conversation.
func (e *APIError) explain404(method, escapedPath, base string, routes []route) {
	if e.StatusCode != http.StatusNotFound {
		return
	}
	tmpl, params, known := operationOf(method, escapedPath, base, routes)
	if e.routeLevel() {
		if known {
			for name, v := range params {
				if difyroute.UUIDParam(name) && !difyroute.IsUUID(v) {
					e.badID = true
					e.hint = fmt.Sprintf("Dify answers 404 for a %s that is not a UUID, and %q is not one; if the id is right, check the base URL (it usually ends in /v1)", name, Shorten(v, 60))
					return
				}
			}
		}
		e.hint = "the server has no such endpoint: check the base URL, which usually ends in /v1"
		return
	}
	if known && e.Code == "not_found" {
		switch first, _, _ := strings.Cut(strings.TrimPrefix(tmpl, "/"), "/"); first {
		case "conversations", "messages", "chat-messages":
			e.hint = "conversations and their messages belong to the user that created them: check the user"
		case "workflow":
			e.hint = "only the user that started a run can follow it: check the user"
		}
	}
}

func (e *APIError) rateLimited() bool {
	return e.StatusCode == http.StatusTooManyRequests ||
		e.Code == "too_many_requests" || e.Code == "rate_limit_error" ||
		(e.StatusCode == http.StatusBadRequest && strings.HasPrefix(strings.ToLower(e.Message), "too many requests"))
}

// newAPIError reads (a bounded part of) resp's body, closes it and describes
// the reply. It also returns the error that cut the read short, if any.
func newAPIError(req *http.Request, resp *http.Response) (*APIError, error) {
	e := &APIError{StatusCode: resp.StatusCode}
	if req != nil {
		e.Method = req.Method
		if req.URL != nil {
			e.URL = RedactURL(req.URL.String())
		}
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	body, err := io.ReadAll(io.LimitReader(resp.Body, ErrBodyReadLimit))
	if err == nil {
		_, _ = io.CopyN(io.Discard, resp.Body, ErrBodyReadLimit) // let the connection be reused
	}
	_ = resp.Body.Close()
	DecodeErrorBody(e, body, resp.Header.Get("Content-Type"))
	return e, err
}

// errorBody is the JSON shape of a Dify error reply or error event.
type errorBody struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Status  int             `json:"status"`
	Params  json.RawMessage `json:"params"`
}

// DecodeErrorBody fills e's Code, Message, Params and Body from a reply body
// of any kind: Dify JSON, other JSON, HTML, text or nothing.
func DecodeErrorBody(e *APIError, body []byte, contentType string) {
	e.Body = bytes.Clone(body[:min(len(body), errBodyKeep)])
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		e.Message = "empty body"
		return
	}
	var eb errorBody
	if trimmed[0] == '{' && json.Unmarshal(trimmed, &eb) == nil {
		// A code is a short identifier; keep Error() on one line whatever
		// the server sent.
		eb.Code = Shorten(eb.Code, 80)
	}
	if eb.Code != "" || eb.Message != "" {
		e.Code, e.Message = eb.Code, eb.Message
		if e.StatusCode == 0 {
			e.StatusCode = eb.Status
		}
		e.Params = paramsString(eb.Params)
		return
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "text/html" || bytes.HasPrefix(bytes.ToLower(trimmed), []byte("<!doctype html")) || bytes.HasPrefix(bytes.ToLower(trimmed), []byte("<html")) {
		if title := htmlTitle(trimmed); title != "" {
			e.Message = "HTML page: " + title
		} else {
			e.Message = "HTML page"
		}
		return
	}
	if !utf8.Valid(trimmed) {
		e.Message = fmt.Sprintf("%d bytes of binary data", len(body))
		return
	}
	e.Message = string(trimmed[:min(len(trimmed), errBodyKeep)])
}

func paramsString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// htmlTitle returns the text of the first <title> element, or of the first
// <h1>, collapsed to one line.
func htmlTitle(b []byte) string {
	// Lower-case ASCII letters only, so that every index into lower is an
	// index into b (bytes.ToLower changes lengths for invalid UTF-8 and
	// some letters).
	lower := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for _, tag := range []string{"title", "h1"} {
		i := bytes.Index(lower, []byte("<"+tag))
		if i < 0 {
			continue
		}
		j := bytes.IndexByte(lower[i:], '>')
		if j < 0 {
			continue
		}
		start := i + j + 1
		end := bytes.Index(lower[start:], []byte("</"+tag))
		if end < 0 {
			continue
		}
		if t := strings.Join(strings.Fields(strings.ToValidUTF8(string(b[start:start+end]), "\uFFFD")), " "); t != "" {
			return Shorten(t, 120)
		}
	}
	return ""
}

// Shorten returns the first line of s, cut to at most n runes.
func Shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " …"
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date,
// capped at maxRetryAfter (a date centuries away is no wait to honour).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// RedactURL drops credentials (user info) from a URL for messages.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}
