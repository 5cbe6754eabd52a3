// Package spectest checks HTTP traffic against the chatflow API description
// (openapi/, overlay applied) in tests: every request a test server receives
// can be validated, and so can a reply.
package spectest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/difykit/chatflow/internal/spec"
)

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

type route struct {
	re     *regexp.Regexp
	names  []string
	path   string
	item   *openapi3.PathItem
	static int // number of literal characters, to prefer /a/b over /a/{x}
}

var (
	once   sync.Once
	doc    *openapi3.T
	routes []route
	err    error
)

func load() {
	doc, err = spec.Load()
	if err != nil {
		return
	}
	for path, item := range doc.Paths.Map() {
		var names []string
		static := 0
		var b strings.Builder
		b.WriteString("^")
		rest := path
		for {
			i := strings.IndexByte(rest, '{')
			if i < 0 {
				b.WriteString(regexp.QuoteMeta(rest))
				static += len(rest)
				break
			}
			j := strings.IndexByte(rest[i:], '}')
			b.WriteString(regexp.QuoteMeta(rest[:i]))
			static += i
			names = append(names, rest[i+1:i+j])
			b.WriteString("([^/]+)")
			rest = rest[i+j+1:]
		}
		b.WriteString("$")
		routes = append(routes, route{re: regexp.MustCompile(b.String()), names: names, path: path, item: item, static: static})
	}
	sort.Slice(routes, func(a, b int) bool { return routes[a].static > routes[b].static })
}

// Warm loads the description now, once per process, so that the first
// request checked later does not pay for it (a test with a short timeout
// could otherwise see the first reply arrive late). It reports a load error.
func Warm() error {
	once.Do(load)
	return err
}

// Find returns the route of the description that serves method and path
// (the escaped URL path below the base URL, starting with "/"), with its path
// parameters, or an error when there is none.
func Find(method, path string) (*routers.Route, map[string]string, error) {
	once.Do(load)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range routes {
		m := r.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		op := r.item.GetOperation(strings.ToUpper(method))
		if op == nil {
			continue
		}
		params := map[string]string{}
		for i, n := range r.names {
			v, uerr := url.PathUnescape(m[i+1])
			if uerr != nil {
				return nil, nil, fmt.Errorf("path parameter %s: %w", n, uerr)
			}
			params[n] = v
		}
		return &routers.Route{Spec: doc, Path: r.path, PathItem: r.item, Method: strings.ToUpper(method), Operation: op}, params, nil
	}
	return nil, nil, fmt.Errorf("no operation %s %s in the API description", method, path)
}

// ValidateRequest checks req against the description. prefix is the part of
// the URL path before the API paths (for example "/v1"). The body of req is
// read and put back, so a handler can still read it.
func ValidateRequest(req *http.Request, prefix string) error {
	path := strings.TrimPrefix(req.URL.EscapedPath(), prefix)
	rt, params, err := Find(req.Method, path)
	if err != nil {
		return err
	}
	if req.Body != nil {
		body, rerr := io.ReadAll(req.Body)
		if rerr != nil {
			return fmt.Errorf("read request body: %w", rerr)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		defer func() { req.Body = io.NopCloser(bytes.NewReader(body)) }()
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      rt,
		Options: &openapi3filter.Options{
			MultiError: true,
			AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
				h := ai.RequestValidationInput.Request.Header.Get("Authorization")
				if !strings.HasPrefix(strings.ToLower(h), "bearer ") || len(strings.TrimSpace(h[len("bearer "):])) == 0 {
					return fmt.Errorf("no Bearer token in Authorization")
				}
				return nil
			},
		},
	}
	return openapi3filter.ValidateRequest(req.Context(), in)
}

// ValidateResponse checks a reply (status, header and body) to req against
// the description.
func ValidateResponse(req *http.Request, prefix string, status int, header http.Header, body []byte) error {
	path := strings.TrimPrefix(req.URL.EscapedPath(), prefix)
	rt, params, err := Find(req.Method, path)
	if err != nil {
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: rt},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// Handler returns a handler that validates every request against the
// description (reporting failures with t.Errorf) and then calls next.
func Handler(t TB, prefix string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ValidateRequest(r, prefix); err != nil {
			t.Errorf("request %s %s does not match the API description: %v", r.Method, r.URL.Path, err)
		}
		next.ServeHTTP(w, r)
	})
}
