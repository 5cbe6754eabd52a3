package relay_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// keyPieces fails when s holds testKey or any 8-byte piece of it.
func keyPieces(t *testing.T, what, s string) {
	t.Helper()
	for i := 0; i+8 <= len(testKey); i++ {
		if strings.Contains(s, testKey[i:i+8]) {
			t.Errorf("%s holds %q of the key: %s", what, testKey[i:i+8], s)
			return
		}
	}
}

// An upstream that echoes the key, whole and in pieces, in bodies,
// headers, error texts and events: none of it reaches the browser.
func TestKeyNeverReachesTheBrowser(t *testing.T) {
	t.Parallel()
	piece := testKey[9:17]
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Echo", auth)
		w.Header().Set("Content-Type", "application/json; x="+piece)
		switch {
		case r.URL.Path == "/v1/chat-messages":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, `data: {"event":"workflow_started","task_id":"t1","workflow_run_id":"r1","conversation_id":"c1","message_id":"m1","data":{"id":"r1","echo":%q}}`+"\n\n", auth)
			fmt.Fprintf(w, `data: {"event":"message","task_id":"t1","conversation_id":"c1","message_id":"m1","answer":"part %s and tail %s"}`+"\n\n", piece, testKey[len(testKey)-8:])
			fmt.Fprint(w, `data: {"event":"message_end","task_id":"t1","conversation_id":"c1","message_id":"m1","metadata":{}}`+"\n\n")
			fmt.Fprint(w, `data: {"event":"workflow_finished","task_id":"t1","workflow_run_id":"r1","data":{"id":"r1","status":"succeeded"}}`+"\n\n")
		case r.URL.Path == "/v1/parameters":
			fmt.Fprintf(w, `{"opening_statement":"key %s piece %s"}`, auth, piece)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"code":"invalid_param","message":"bad key %s / %s","status":400,"params":%q}`, auth, piece, piece)
		}
	})
	rs := relayFor(t, u, alice)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/parameters", ""},
		{"GET", "/conversations", ""},
		{"POST", "/conversations/c1/name", `{"name":"x"}`},
		{"POST", "/chat-messages", `{"query":"q","inputs":{}}`},
		{"POST", "/chat-messages", `{"query":"q","inputs":{},"response_mode":"blocking"}`},
	} {
		resp, body := do(t, c.method, rs.URL+"/api"+c.path, "application/json", c.body)
		if resp.StatusCode == 0 || body == "" {
			t.Fatalf("%s %s: empty reply", c.method, c.path)
		}
		keyPieces(t, c.method+" "+c.path+" body", body)
		for k, v := range resp.Header {
			keyPieces(t, c.method+" "+c.path+" header "+k, strings.Join(v, " "))
		}
		if c.path == "/parameters" && !strings.Contains(body, "[REDACTED]") {
			t.Errorf("the echo was not replaced: %s", body)
		}
	}
}
