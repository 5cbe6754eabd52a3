package transport

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrInvalidID is wrapped by the error returned when an id that goes into a
// URL path is empty, "." or "..": such a request is never sent.
var ErrInvalidID = errors.New("chatflow: invalid id")

// CheckID rejects ids that would change the meaning of a URL path. Every
// other id is path-escaped by the generated request builders.
func CheckID(what, id string) error {
	switch strings.TrimSpace(id) {
	case "":
		return fmt.Errorf("%w: %s is empty", ErrInvalidID, what)
	case ".", "..":
		return fmt.Errorf("%w: %s %q", ErrInvalidID, what, id)
	}
	return nil
}

// checkRequestPath is the last check before any request of the client is
// sent: below the base URL, the method and path must fit one of the app's
// operations (Config.Routes), each path parameter a non-empty segment other than
// "." and "..". An empty or dot id passed to a generated method leaves a
// path that fits none (the request builders resolve dot segments away).
// Requests outside the base URL (a redirect, a caller's own URL) pass.
func (d *Doer) checkRequestPath(req *http.Request) error {
	return checkRequestPath(req, d.cfg.BaseURL, d.routes)
}

func checkRequestPath(req *http.Request, base string, routes []route) error {
	p := req.URL.EscapedPath()
	i := strings.Index(base, "://")
	if i >= 0 {
		if j := strings.IndexByte(base[i+3:], '/'); j >= 0 {
			prefix := base[i+3+j:] // ends with "/"
			switch {
			case strings.HasPrefix(p, prefix):
				p = p[len(prefix):]
			case p != prefix[:len(prefix)-1]: // the base URL itself fits nothing
				return nil
			}
		}
	}
	for _, r := range routes {
		if r.fits(req.Method, p) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s %s is not the path of any operation (an empty or dot id?)", ErrInvalidID, req.Method, req.URL.EscapedPath())
}

// route is an operation's method and path template, split into segments;
// a parameter segment is "" in segs, and its name is in params (params is
// "" for the literal segments).
type route struct {
	method, path string
	segs, params []string
}

// parseRoutes splits routes ("METHOD /path/{param}") into segments.
func parseRoutes(routes []string) []route {
	out := make([]route, 0, len(routes))
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
		params := make([]string, len(segs))
		for i, s := range segs {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				segs[i], params[i] = "", s[1:len(s)-1]
			}
		}
		out = append(out, route{method: method, path: path, segs: segs, params: params})
	}
	return out
}

// fits reports whether a request with method and path (below the base
// URL, without its leading slash) is this route. It allocates nothing: it
// runs before every request.
func (r route) fits(method, path string) bool {
	if r.method != method {
		return false
	}
	for i, want := range r.segs {
		got, rest, more := strings.Cut(path, "/")
		if more != (i < len(r.segs)-1) {
			return false
		}
		switch {
		case want != "" && got != want:
			return false
		case want == "" && (got == "" || got == "." || got == ".."):
			return false
		}
		path = rest
	}
	return true
}
