package transport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
)

// maxRedirects is the redirect limit when the caller's http.Client has no
// CheckRedirect of its own (the same as net/http's default).
const maxRedirects = 10

// redirectPolicyError marks an error of a CheckRedirect function, so that
// it is never retried.
type redirectPolicyError struct{ err error }

func (e *redirectPolicyError) Error() string { return e.err.Error() }

func (e *redirectPolicyError) Unwrap() error { return e.err }

// redirectSafeClient returns a shallow copy of the caller's http.Client
// (same transport, jar and timeout) whose redirect policy drops the
// Authorization header whenever a redirect leaves the scheme, host and port
// of the first request. (net/http keeps it for another port or scheme of
// the same host name, and for subdomains.) The caller's own CheckRedirect,
// if any, still runs first.
func redirectSafeClient(orig *http.Client) *http.Client {
	hc := *orig
	userCheck := orig.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		var err error
		if userCheck != nil {
			err = userCheck(req, via)
		} else if len(via) >= maxRedirects {
			err = fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if len(via) > 0 && !sameOrigin(via[0].URL, req.URL) {
			req.Header.Del("Authorization")
		}
		if err != nil && !errors.Is(err, http.ErrUseLastResponse) {
			return &redirectPolicyError{err}
		}
		return err
	}
	return &hc
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && canonicalHostPort(a) == canonicalHostPort(b)
}

func canonicalHostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
