package chatflow

import (
	"fmt"
	"net/http"
	"strings"
)

// headerValueBreaks are the bytes a header value may not hold: they could
// split the header block.
const headerValueBreaks = "\r\n\x00"

// checkHeaders refuses a request whose header names or values (the
// library's, or any a request editor set) could split the header block:
// line breaks and NUL in values, and anything but a token in names. The
// error names the header but never repeats its value.
func checkHeaders(req *http.Request) error {
	for name, values := range req.Header {
		if name == "" || strings.ContainsAny(name, "\r\n\x00 :\t") {
			return fmt.Errorf("chatflow: %s %s: invalid header name %q", req.Method, req.URL.Path, name)
		}
		for _, v := range values {
			if strings.ContainsAny(v, headerValueBreaks) {
				return fmt.Errorf("chatflow: %s %s: header %s has a line break or NUL in its value", req.Method, req.URL.Path, name)
			}
		}
	}
	return nil
}

// checkHeaderValue refuses, when an option is set, a value that
// checkHeaders would refuse on every request.
func checkHeaderValue(name, v string) error {
	if strings.ContainsAny(v, headerValueBreaks) {
		return fmt.Errorf("chatflow: %s header value contains a line break or NUL", name)
	}
	return nil
}
