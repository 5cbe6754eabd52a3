package chatflow

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrInvalidID is wrapped by the error returned when an id that goes into a
// URL path is empty, "." or "..": such a request is never sent.
var ErrInvalidID = errors.New("chatflow: invalid id")

// checkID rejects ids that would change the meaning of a URL path. Every
// other id is path-escaped by the generated request builders.
func checkID(what, id string) error {
	switch strings.TrimSpace(id) {
	case "":
		return fmt.Errorf("%w: %s is empty", ErrInvalidID, what)
	case ".", "..":
		return fmt.Errorf("%w: %s %q", ErrInvalidID, what, id)
	}
	return nil
}

// checkRequestPath is the last check before any request of the client is
// sent: below the base URL the path must have no empty, "." or ".."
// segment, which an empty or dot id would have left behind.
func checkRequestPath(req *http.Request, base string) error {
	p := req.URL.EscapedPath()
	i := strings.Index(base, "://")
	if i >= 0 {
		if j := strings.IndexByte(base[i+3:], '/'); j >= 0 {
			prefix := base[i+3+j:]
			if !strings.HasPrefix(p+"/", prefix) {
				return nil // not one of ours (a redirect target, a custom URL)
			}
			p = strings.TrimPrefix(p, prefix)
		}
	}
	if p == "" {
		return fmt.Errorf("%w: empty path below the base URL", ErrInvalidID)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: request path %q has an empty or dot segment", ErrInvalidID, req.URL.EscapedPath())
		}
	}
	return nil
}
