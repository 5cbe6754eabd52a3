package transport

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeErrorBody feeds arbitrary error replies (status, Content-Type,
// Retry-After, body) to newAPIError, as a server or a proxy could send
// them. It must never panic, keep at most errBodyKeep bytes, and produce a
// bounded message.
func FuzzDecodeErrorBody(f *testing.F) {
	seeds := []struct {
		status      int
		contentType string
		retryAfter  string
		body        string
	}{
		{400, "application/json", "", `{"code":"invalid_param","message":"Arg user must be provided.","status":400}`},
		{400, "application/json", "", `{"code":"invalid_param","message":"1 validation error\nquery\n  Field required","status":400,"params":"query"}`},
		{400, "application/json", "", `{"code":"bad_request","message":"x","status":400,"params":{"field":["a","b"]}}`},
		{401, "application/json", "", `{"code":"unauthorized","message":"Access token is invalid","status":401}`},
		{404, "application/json", "", `{"code":"not_found","message":"Conversation Not Exists.","status":404}`},
		{413, "application/json", "", `{"code":"file_too_large","message":"","status":413}`},
		{429, "application/json", "7", `{"code":"too_many_requests","message":"Too many requests. Please try again later.","status":429}`},
		{429, "application/json", "Wed, 21 Oct 2015 07:28:00 GMT", `{"code":"rate_limit_error","message":"Rate limit exceeded","status":429}`},
		{500, "application/json", "", `{"code":"internal_server_error","message":"The server encountered an internal error.","status":500}`},
		{500, "application/json", "", `{"message":"Internal Server Error"}`},
		{502, "text/html", "", "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"},
		{503, "text/html; charset=UTF-8", "120", "<!DOCTYPE html><html><head><title>Service Unavailable | example.com | Cloudflare</title>"},
		{504, "text/plain", "", "upstream request timeout"},
		{503, "", "", ""},
		{500, "application/json", "", `{"code":`},
		{500, "application/json", "", `[1,2,3]`},
		{500, "application/json", "", `{"code":123,"message":null}`},
		{400, "application/octet-stream", "", "\xff\xfe\x00\x01binary"},
		{0, "application/json", "-1", `{"code":"x","message":"y","status":418}`},
		{599, "text/html", "99999999999999999999", "<h1>" + strings.Repeat("a", 300) + "</h1>"},
	}
	for _, s := range seeds {
		f.Add(s.status, s.contentType, s.retryAfter, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, contentType, retryAfter string, body []byte) {
		if status < 0 || status > 999 {
			status %= 1000
			if status < 0 {
				status = -status
			}
		}
		req, err := http.NewRequest("POST", "https://dify.example.com/v1/chat-messages?user=u", nil)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("Content-Type", sanitizeHeader(contentType))
		h.Set("Retry-After", sanitizeHeader(retryAfter))
		resp := &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body))}
		e, _ := newAPIError(req, resp)

		if len(e.Body) > errBodyKeep {
			t.Errorf("Body keeps %d bytes, more than %d", len(e.Body), errBodyKeep)
		}
		if !bytes.HasPrefix(body, e.Body) {
			t.Errorf("Body is not the start of the reply")
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Errorf("RetryAfter = %v, outside [0, %v]", e.RetryAfter, maxRetryAfter)
		}
		if status != 0 && e.StatusCode != status {
			t.Errorf("StatusCode = %d, want %d", e.StatusCode, status)
		}
		if e.Message == "" && e.Code == "" {
			t.Errorf("neither Code nor Message is set for %q", body)
		}
		msg := e.Error()
		if !strings.HasPrefix(msg, "chatflow: ") {
			t.Errorf("Error() = %q", msg)
		}
		// The message part of Error() is cut short whatever the body.
		if len(msg) > len(e.Code)+len(e.Method)+len(e.URL)+ErrMessageShort*4+200 {
			t.Errorf("Error() is %d bytes long", len(msg))
		}
		// Classification never panics and is consistent with the status.
		// A 404 is either "no such thing" or "no such endpoint", never both.
		nf, enf := errors.Is(e, ErrNotFound), errors.Is(e, ErrEndpointNotFound)
		if (nf || enf) != (e.StatusCode == 404) || nf && enf {
			t.Errorf("status %d: Is(ErrNotFound) %v, Is(ErrEndpointNotFound) %v", e.StatusCode, nf, enf)
		}
		_ = errors.Is(e, ErrRateLimited)
	})
}

// FuzzParseRetryAfter checks that any Retry-After value gives a wait that
// is not negative.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "3", "120", "-5", "1.5", " 7 ", "99999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 2094 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "soon", ""} {
		f.Add(s)
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v, now); d < 0 {
			t.Errorf("parseRetryAfter(%q) = %v", v, d)
		}
	})
}

// sanitizeHeader drops what net/http would never deliver in a header value.
func sanitizeHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, s)
}
