package relay

import (
	"net/http"
	"strings"
)

// allowedHeaders are the request headers a browser may send cross-origin.
// Authorization is accepted so that Dify's web clients, which send their
// (dummy) key, work; the relay never forwards it.
const allowedHeaders = "Authorization, Content-Type, Accept, Last-Event-ID"

// cors adds the CORS headers of an actual request: the origin is echoed
// when it is allowed (never "*"); another origin gets none.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || !h.cfg.origins[origin] {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
}

// preflight answers a CORS preflight for a served path: 204 with the
// allowed methods and headers for an allowed origin, 403 without any
// Access-Control-Allow-Origin otherwise.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request, methods []string) {
	w.Header().Add("Vary", "Origin")
	w.Header().Add("Vary", "Access-Control-Request-Method")
	w.Header().Add("Vary", "Access-Control-Request-Headers")
	origin := r.Header.Get("Origin")
	if origin == "" || !h.cfg.origins[origin] {
		h.writeError(w, http.StatusForbidden, "forbidden", "Origin not allowed.")
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	w.Header().Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	headers := allowedHeaders
	if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
		// The relay reads no request header but Content-Type and Cookie,
		// so whatever else the page sends is harmless: allow it.
		headers += ", " + asked
	}
	w.Header().Set("Access-Control-Allow-Headers", headers)
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}
