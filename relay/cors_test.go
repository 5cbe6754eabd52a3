package relay_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/difykit/chatflow/relay"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, okUpstream)
	const good, evil = "https://app.example.com", "https://evil.example"
	rs := relayFor(t, u, alice, relay.WithAllowedOrigins(good+"/"))

	resp, _ := do(t, "OPTIONS", rs.URL+"/api/chat-messages", "", "",
		"Origin", good, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-trace")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != good ||
		resp.Header.Get("Access-Control-Allow-Methods") != "POST" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "x-trace") {
		t.Errorf("allowed preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := do(t, "OPTIONS", rs.URL+"/api/chat-messages", "", "",
		"Origin", evil, "Access-Control-Request-Method", "POST")
	difyErr(t, resp, body, http.StatusForbidden, "forbidden")
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("preflight of another origin: Access-Control-Allow-Origin %q", v)
	}

	resp, body = do(t, "GET", rs.URL+"/api/parameters", "", "", "Origin", good)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != good {
		t.Errorf("allowed origin: %d %q %s", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), body)
	}
	<-u.reqs
	resp, _ = do(t, "GET", rs.URL+"/api/parameters", "", "", "Origin", evil)
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("another origin: Access-Control-Allow-Origin %q", v)
	}
	<-u.reqs // a read: the browser cannot see its reply anyway

	// A cross-site request that changes something is refused (CSRF).
	resp, body = do(t, "POST", rs.URL+"/api/conversations/c-1/name", "text/plain", `{"name":"x"}`,
		"Origin", evil, "Sec-Fetch-Site", "cross-site")
	difyErr(t, resp, body, http.StatusForbidden, "forbidden")
	u.noRequests(t)
	// The same from the allowed origin goes through.
	resp, body = do(t, "POST", rs.URL+"/api/conversations/c-1/name", "application/json", `{"name":"x"}`,
		"Origin", good, "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != good {
		t.Errorf("allowed origin POST: %d %s", resp.StatusCode, body)
	}
	<-u.reqs
}

func TestCORSNoneByDefault(t *testing.T) {
	t.Parallel()
	u := newUpstream(t, okUpstream)
	rs := relayFor(t, u, alice, relay.WithAllowedOrigins("*"))
	resp, body := do(t, "OPTIONS", rs.URL+"/api/parameters", "", "",
		"Origin", "https://any.example", "Access-Control-Request-Method", "GET")
	difyErr(t, resp, body, http.StatusForbidden, "forbidden")
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("Access-Control-Allow-Origin %q with \"*\" configured", v)
	}
	// The page's own origin needs no CORS.
	resp, body = do(t, "POST", rs.URL+"/api/conversations/c-1/name", "application/json", `{"name":"x"}`,
		"Origin", rs.URL, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != 200 {
		t.Errorf("same-origin POST: %d %s", resp.StatusCode, body)
	}
	<-u.reqs
}
