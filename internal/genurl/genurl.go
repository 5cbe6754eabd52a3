// Package genurl builds the URLs of the generated clients' requests
// (gen, gen/workflow, gen/completion; see openapi/client.tmpl): the
// server followed by the operation's path as one string, the same string
// that oapi-codegen's built-in builders get by parsing the server and
// resolving the path against it on every call.
package genurl

import (
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
)

// OperationURL returns the URL, without a query, of the operation whose
// path is format with its %s replaced by params (escaped already): the
// URL that the built-in builders get from
//
//	url.Parse(server), then .Parse("." + fmt.Sprintf(format, params...)), then .String()
//
// It is server followed by the path when the server is printed back as it
// is and ends in "/" (plainServer), and the path has nothing that the
// resolution would change (plainPath); otherwise it is computed that way.
func OperationURL(server, format string, params ...string) (string, error) {
	if len(format) > 0 && format[0] == '/' && plainServer(server) {
		n := len(server) + len(format)
		for _, p := range params {
			n += len(p)
		}
		var b strings.Builder
		b.Grow(n)
		b.WriteString(server)
		rest, i := format[1:], 0
		for {
			j := strings.IndexByte(rest, '%')
			if j < 0 {
				b.WriteString(rest)
				break
			}
			if j+1 == len(rest) || rest[j+1] != 's' || i == len(params) {
				i = -1 // a verb other than %s, or too few params: fmt's business
				break
			}
			b.WriteString(rest[:j])
			b.WriteString(params[i])
			rest, i = rest[j+2:], i+1
		}
		if s := b.String(); i == len(params) && plainPath(s[len(server):]) {
			return s, nil
		}
	}
	serverURL, err := url.Parse(server)
	if err != nil {
		return "", err
	}
	args := make([]any, len(params))
	for i, p := range params {
		args[i] = p
	}
	operationPath := fmt.Sprintf(format, args...)
	if operationPath[0] == '/' {
		operationPath = "." + operationPath
	}
	queryURL, err := serverURL.Parse(operationPath)
	if err != nil {
		return "", err
	}
	return queryURL.String(), nil
}

// plainPath reports whether p, the part of a path after the server's,
// is kept as it is when resolved against a plain server: its segments
// are neither empty nor dot segments, and its bytes are ones that a
// URL's path keeps as they are (unreserved, sub-delims, ':', '@', '/'
// and valid %XX escapes).
func plainPath(p string) bool {
	seg := 0 // length of the current segment
	dots := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if seg == 0 || seg == dots && dots <= 2 {
				return false
			}
			seg, dots = 0, 0
			continue
		case c == '.':
			dots++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '~', strings.IndexByte("!$&'()*+,;=:@", c) >= 0:
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return false
			}
		default:
			return false
		}
		seg++
	}
	return seg > 0 && !(seg == dots && dots <= 2)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// plainServer reports whether resolving a path against server leaves
// server as it is, followed by the path: server parses, ends in "/", and
// url.URL prints it back unchanged. The answer for the last server asked
// about is kept: a client asks about its own server on every call.
func plainServer(server string) bool {
	if last := lastServer.Load(); last != nil && last.server == server {
		return last.plain
	}
	plain := false
	if u, err := url.Parse(server); err == nil && strings.HasSuffix(server, "/") {
		if r, err := u.Parse("./p"); err == nil && r.String() == server+"p" {
			plain = true
		}
	}
	lastServer.Store(&serverCheck{server: server, plain: plain})
	return plain
}

// serverCheck is what plainServer found about a server.
type serverCheck struct {
	server string
	plain  bool
}

var lastServer atomic.Pointer[serverCheck]
