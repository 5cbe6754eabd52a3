package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRetryDecision(t *testing.T) {
	t.Parallel()
	dialErr := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}
	dnsTemp := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}}}
	dnsGone := &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}}}
	reset := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}}
	eof := &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}
	canceled := &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}
	deadline := &url.Error{Op: "Get", URL: "http://x", Err: context.DeadlineExceeded}
	redirect := &url.Error{Op: "Get", URL: "http://x", Err: &redirectPolicyError{errors.New("stopped after 10 redirects")}}
	scheme := &url.Error{Op: "Get", URL: "ftp://x", Err: errors.New(`unsupported protocol scheme "ftp"`)}
	badHeader := &url.Error{Op: "Get", URL: "http://x", Err: errors.New(`net/http: invalid header field value for "X"`)}

	tests := []struct {
		method     string
		replayable bool
		status     int
		err        error
		want       bool
	}{
		// Idempotent methods: every retryable status and connection failure.
		{"GET", true, 200, nil, false},
		{"GET", true, 204, nil, false},
		{"GET", true, 400, nil, false},
		{"GET", true, 401, nil, false},
		{"GET", true, 403, nil, false},
		{"GET", true, 404, nil, false},
		{"GET", true, 408, nil, true},
		{"GET", true, 413, nil, false},
		{"GET", true, 429, nil, true},
		{"GET", true, 500, nil, true},
		{"GET", true, 501, nil, false},
		{"GET", true, 502, nil, true},
		{"GET", true, 503, nil, true},
		{"GET", true, 504, nil, true},
		{"HEAD", true, 503, nil, true},
		{"PUT", true, 502, nil, true},
		{"DELETE", true, 504, nil, true},
		{"GET", true, 0, dialErr, true},
		{"GET", true, 0, reset, true},
		{"GET", true, 0, eof, true},
		{"DELETE", true, 0, reset, true},
		{"GET", true, 0, dnsTemp, true},
		{"GET", true, 0, dnsGone, false},
		{"GET", true, 0, canceled, false},
		{"GET", true, 0, deadline, false},
		{"GET", true, 0, redirect, false},
		{"GET", true, 0, scheme, false},
		{"GET", true, 0, badHeader, false},
		// POST (and PATCH) only when the server cannot have run the request.
		{"POST", true, 429, nil, true},
		{"POST", true, 408, nil, false},
		{"POST", true, 500, nil, false},
		{"POST", true, 502, nil, false},
		{"POST", true, 503, nil, false},
		{"POST", true, 504, nil, false},
		{"POST", true, 0, dialErr, true},
		{"POST", true, 0, dnsTemp, true},
		{"POST", true, 0, reset, false},
		{"POST", true, 0, eof, false},
		{"POST", true, 0, canceled, false},
		{"PATCH", true, 503, nil, false},
		{"PATCH", true, 429, nil, true},
		// A body that cannot be replayed is never retried.
		{"POST", false, 429, nil, false},
		{"POST", false, 0, dialErr, false},
		{"PUT", false, 503, nil, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/replayable=%v/%d/%v", tt.method, tt.replayable, tt.status, tt.err)
		got, reason := retryDecision(tt.method, tt.replayable, tt.status, tt.err)
		if got != tt.want {
			t.Errorf("%s: retry = %v, want %v", name, got, tt.want)
		}
		if got && reason == "" {
			t.Errorf("%s: no reason given", name)
		}
	}
}

// TestBackoffJitter: the jitter spreads waits: many draws are not all equal.
func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	d := New(testKey, Config{BaseURL: "https://dify.example.com/v1/", RetryWaitMax: 4 * time.Second})
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[d.backoff(3)] = true
	}
	if len(seen) < 10 {
		t.Errorf("backoff(3) gave only %d distinct values in 50 draws", len(seen))
	}
}

func TestIdleErrorText(t *testing.T) {
	t.Parallel()
	e := &idleError{method: "GET", path: "/v1/info", what: "no reply headers within", d: 2 * time.Minute}
	if want := "chatflow: GET /v1/info: no reply headers within 2m0s; see WithIdleTimeout"; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://api.dify.ai/v1/x", "https://api.dify.ai/v1/y", true},
		{"https://api.dify.ai/v1", "https://api.dify.ai:443/v1", true},
		{"http://h/v1", "http://h:80/v1", true},
		{"https://API.dify.ai/v1", "https://api.dify.ai/v1", false},
		{"https://api.dify.ai/v1", "http://api.dify.ai/v1", false},
		{"https://api.dify.ai/v1", "https://api.dify.ai:8443/v1", false},
		{"https://api.dify.ai/v1", "https://evil.api.dify.ai/v1", false},
		{"https://api.dify.ai/v1", "https://dify.ai/v1", false},
		{"http://[::1]:80/v1", "http://[::1]/v1", true},
	}
	for _, tt := range tests {
		a, _ := url.Parse(tt.a)
		b, _ := url.Parse(tt.b)
		if got := sameOrigin(a, b); got != tt.want {
			t.Errorf("sameOrigin(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestHeaderValueCheck compares the word-at-a-time check with a plain one,
// for each refused byte (and bytes near them) at every place in values of
// several lengths.
func TestHeaderValueCheck(t *testing.T) {
	t.Parallel()
	naive := func(v string) bool { return !strings.ContainsAny(v, "\r\n\x00") }
	base := "Bearer app-0123456789abcdefé\tXYZ" // tab and UTF-8 are allowed
	for _, b := range []byte{'\r', '\n', 0, '\t', 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x0b} {
		for n := 0; n <= len(base); n++ {
			for i := 0; i <= n; i++ {
				v := base[:i] + string([]byte{b}) + base[i:n]
				if got, want := validHeaderValue(v), naive(v); got != want {
					t.Fatalf("validHeaderValue(%q) = %v, want %v", v, got, want)
				}
			}
		}
	}
	if !validHeaderValue(base) || validHeaderName("") || validHeaderName("X Y") || !validHeaderName("X-Y") {
		t.Error("the checks refuse a valid value or name, or accept an invalid name")
	}
}

func TestRetryDecisionTLS(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://dify.example/v1/info", Err: err}
	}
	for name, err := range map[string]error{
		"unknown authority": wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
		"bare unknown CA":   wrap(x509.UnknownAuthorityError{}),
		"host name":         wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "dify.example"}),
		"expired":           wrap(x509.CertificateInvalidError{Cert: &x509.Certificate{}, Reason: x509.Expired}),
		"handshake alert":   wrap(&net.OpError{Op: "remote error", Err: tls.AlertError(40)}),
		"record header":     wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
		"http to https":     wrap(errors.New("http: server gave HTTP response to HTTPS client")),
		"handshake failure": wrap(errors.New("remote error: tls: handshake failure")),
	} {
		for _, method := range []string{"GET", "POST"} {
			if retry, _ := retryDecision(method, true, 0, err); retry {
				t.Errorf("%s %s: retried", method, name)
			}
		}
	}
	// The test can fail: a dropped connection is retried for a GET.
	if retry, _ := retryDecision("GET", true, 0, wrap(io.ErrUnexpectedEOF)); !retry {
		t.Error("a dropped GET is not retried")
	}
}
