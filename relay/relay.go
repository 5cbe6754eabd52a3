// Package relay serves a Dify chatflow app to browsers without giving them
// the app's API key.
//
// A Handler answers Dify's own Service API paths (POST /chat-messages, GET
// /conversations, ...), relative to where it is mounted, so Dify's web
// clients and its event-stream format work against it unchanged with any
// dummy key. It sends each request on with the key of its chatflow.Client
// and with the end user that the application's user function names for the
// request, whatever the browser says. It protects the app from what a
// hand-written proxy gets wrong:
//
//   - the key never reaches the browser, not even in pieces, not even when
//     the app's server echoes it;
//   - a browser cannot read or write another end user's conversations;
//   - answers stream to the browser event by event (POST /chat-messages
//     answers an event stream unless response_mode is "blocking", which
//     gets Dify's blocking JSON, gathered from a stream, since proxies cut
//     blocking requests);
//   - a run whose browser goes away is stopped on the server, so it does
//     not go on spending tokens; an upstream connection that drops mid-run
//     is resumed without the browser noticing;
//   - only the paths a chat page needs are served (no annotations, logs or
//     app feedbacks), bodies are bounded and each end user may have only a
//     few runs going at once;
//   - CORS is for the origins named with WithAllowedOrigins only, never
//     "*", and requests that change something from another site's page are
//     refused (cross-site request forgery).
package relay

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/difykit/chatflow"
)

// Handler is an http.Handler serving the browser's side of a Dify chatflow
// app's Service API; see the package documentation. Create it with New. It
// is safe for concurrent use.
type Handler struct {
	c    *chatflow.Client
	user func(*http.Request) (string, error)
	cfg  config
	sec  *secret
	// upstreamNames are the app server's address, removed from the
	// texts of its errors.
	upstreamNames []string
	csrf          *http.CrossOriginProtection
	runs          *runLimiter
}

// New returns a Handler that relays browser requests to c's app. user
// names the end user of each request (from a session cookie, a verified
// token, ...): it replaces any user the browser sends; when it fails or
// returns "", the request is answered 401 and not sent on. Mount the
// Handler under a prefix with http.StripPrefix.
func New(c *chatflow.Client, user func(*http.Request) (string, error), opts ...Option) *Handler {
	if c == nil {
		panic("relay: New with a nil *chatflow.Client")
	}
	if user == nil {
		panic("relay: New with a nil user function")
	}
	cfg := config{
		origins:        map[string]bool{},
		maxBodyBytes:   DefaultMaxBodyBytes,
		maxUploadBytes: DefaultMaxUploadBytes,
		maxRuns:        DefaultMaxRunsPerUser,
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	h := &Handler{c: c, user: user, cfg: cfg, sec: newSecret(c), runs: newRunLimiter(cfg.maxRuns)}
	if base := strings.TrimSuffix(c.BaseURL(), "/"); base != "" {
		h.upstreamNames = append(h.upstreamNames, base)
		if u, err := url.Parse(base); err == nil && u.Host != "" {
			h.upstreamNames = append(h.upstreamNames, u.Host)
		}
	}
	h.csrf = http.NewCrossOriginProtection()
	for o := range cfg.origins {
		if err := h.csrf.AddTrustedOrigin(o); err != nil {
			delete(h.cfg.origins, o) // not an origin: it can never match
		}
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ids, allowed := match(r.Method, r.URL.Path)
	if allowed == nil {
		h.cors(w, r)
		h.writeError(w, http.StatusNotFound, "not_found", "The requested URL was not found on the server.")
		return
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.preflight(w, r, allowed)
		return
	}
	h.cors(w, r)
	if rt == nil {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		h.writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "The method is not allowed for the requested URL.")
		return
	}
	if err := h.csrf.Check(r); err != nil {
		h.writeError(w, http.StatusForbidden, "forbidden", "Cross-origin request refused.")
		return
	}
	user, err := h.user(r)
	if err != nil || user == "" {
		h.writeError(w, http.StatusUnauthorized, "unauthorized", "Sign in to use this app.")
		return
	}
	rt.serve(h, w, r, call{user: user, ids: ids})
}

// call is what a route's function gets besides the request.
type call struct {
	user string   // the end user, from the user function
	ids  []string // the ids of the path, in order
}
