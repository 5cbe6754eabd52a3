package chatflow

// Attacks on the API key: servers that put it, whole or in part, where the
// library turns server bytes into text (status lines, header lines,
// trailers, Content-Type, redirect URLs, error bodies cut to length,
// stream events), with a logger at debug level and a retry allowed. No
// 8-byte run of the key's secret may appear in the error, printed with any
// verb, or in any log line.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// secretAttacks are the hostile servers of TestAttackSecrets.
var secretAttacks = []struct {
	name  string
	serve func(h *hostile, conn net.Conn, req *http.Request)
	call  string // "info" (GET), "stream" (POST), "api" (generated GET), "delete"
	want  string // in the error: proof that the attack took place
	retry bool   // the log must show a retry
}{
	{
		name:  "status line",
		serve: rawReply("HTTP/1.1 " + testKey + " OK\r\nContent-Length: 0\r\n\r\n"),
		call:  "info", want: "malformed HTTP status code", retry: true,
	},
	{
		name:  "status line, POST",
		serve: rawReply("HTTP/1.1 " + testKey + " OK\r\nContent-Length: 0\r\n\r\n"),
		call:  "stream", want: "malformed HTTP status code",
	},
	{
		name:  "whole status line",
		serve: rawReply(testKey + "\r\n\r\n"),
		call:  "info", want: "malformed HTTP", retry: true,
	},
	{
		name:  "header line",
		serve: rawReply("HTTP/1.1 200 OK\r\nX-Echo " + testKey + "\r\nContent-Length: 0\r\n\r\n"),
		call:  "info", want: "malformed MIME header", retry: true,
	},
	{
		name: "trailer line",
		serve: rawReply("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"2\r\n{}\r\n0\r\nX-Echo " + testKey + "\r\n\r\n"),
		call: "api", want: "malformed MIME header",
	},
	{
		name:  "Content-Type of a 200 page",
		serve: rawReply("HTTP/1.1 200 OK\r\nContent-Type: text/html; k=" + testKey + "\r\nContent-Length: 6\r\n\r\n<html>"),
		call:  "info", want: "decode reply",
	},
	{
		name:  "Content-Type instead of a stream",
		serve: rawReply("HTTP/1.1 200 OK\r\nContent-Type: text/html; k=" + testKey + "\r\nContent-Length: 6\r\n\r\n<html>"),
		call:  "stream", want: "not an event stream",
	},
	{
		name:  "event data that is not JSON",
		serve: rawReply("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: your key is " + testKey + "\n\n"),
		call:  "stream", want: "not a JSON object",
	},
	{
		name: "error event",
		serve: rawReply("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" +
			`data: {"event":"error","code":"` + strings.Repeat("c", 75) + testKey + `","message":"` + strings.Repeat("m", 235) + testKey + `","status":500}` + "\n\n"),
		call: "stream", want: "500",
	},
	{
		name:  "redirect loop with the key in Location",
		serve: rawReply("HTTP/1.1 302 Found\r\nLocation: /v1/info?k=" + testKey + "\r\nContent-Length: 0\r\n\r\n"),
		call:  "info", want: "redirects",
	},
	{
		name: "redirect to a closed port with the key in Location",
		serve: func(h *hostile, c net.Conn, r *http.Request) {
			reply(c, "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://"+closedAddr()+"/v1/info?k="+testKey+"\r\nContent-Length: 0\r\n\r\n")
		},
		call: "info", want: "refused", retry: true,
	},
	{
		name:  "long code",
		serve: errorReply(400, "application/json", `{"code":"`+strings.Repeat("c", 70)+testKey+`","message":"m","status":400}`),
		call:  "info", want: "400",
	},
	{
		name:  "long message",
		serve: errorReply(400, "application/json", `{"code":"bad","message":"`+strings.Repeat("m", 235)+testKey+`","status":400}`),
		call:  "delete", want: "400",
	},
	{
		name:  "HTML title",
		serve: errorReply(502, "text/html", "<html><title>"+strings.Repeat("t", 110)+testKey+"</title></html>"),
		call:  "info", want: "HTML page", retry: true,
	},
	{
		name:  "body cut at 4 KiB",
		serve: errorReply(403, "text/plain", strings.Repeat("b", errBodyKeep-10)+testKey+strings.Repeat("b", 100)),
		call:  "info", want: "403",
	},
	{
		name:  "body cut at the read limit",
		serve: errorReply(403, "text/plain", strings.Repeat("b", errBodyReadLimit-10)+testKey+strings.Repeat("b", 100)),
		call:  "stream", want: "403",
	},
	{
		name: "key split across writes",
		serve: func(_ *hostile, c net.Conn, _ *http.Request) {
			body := `{"code":"x","message":"` + testKey + `","status":400}`
			reply(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
			i := strings.Index(body, testKey) + 9
			reply(c, body[:i])
			reply(c, body[i:])
		},
		call: "info", want: "400",
	},
}

func TestAttackSecrets(t *testing.T) {
	leakCheck(t)
	for _, a := range secretAttacks {
		t.Run(a.name, func(t *testing.T) {
			var logs syncBuffer
			h := newHostile(t, a.serve)
			c, _ := faultClient(t, h.URL(), WithMaxRetries(1), WithLogger(newTestLogger(&logs)))
			var w waits
			ctx := w.ctx(context.Background())
			var err error
			switch a.call {
			case "info":
				_, err = c.AppInfo(ctx)
			case "api":
				_, err = c.API().GetChatAppInfoWithResponse(ctx)
			case "delete":
				err = c.DeleteConversation(ctx, "c1", "u")
			case "stream":
				_, err = c.SendMessage(ctx, ChatRequest{Query: "q", User: "u"})
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), a.want) {
				t.Errorf("err = %v; want it to mention %q (did the attack happen?)", err, a.want)
			}
			errNoKey(t, err)
			out := logs.String()
			if !strings.Contains(out, "chatflow: http attempt") {
				t.Errorf("no attempt was logged:\n%s", out)
			}
			if a.retry && !strings.Contains(out, "chatflow: retrying") {
				t.Errorf("no retry was logged:\n%s", out)
			}
			noKeyRun(t, "the log", out)
			if !strings.Contains(err.Error(), redacted) && strings.Contains(a.want, "malformed") {
				t.Errorf("err = %v; want [REDACTED] where the key was", err)
			}
		})
	}
}

// TestAttackSecretsEchoedInData: a successful reply that echoes the key has
// it replaced, in the hand-written and the generated calls alike.
func TestAttackSecretsEchoedInData(t *testing.T) {
	leakCheck(t)
	body := `{"name":"` + testKey + `","description":"d","tags":[],"mode":"advanced-chat","author_name":"a"}`
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		writeJSON(w, 200, body)
	})
	c, _ := faultClient(t, srv.URL)
	info, err := c.AppInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != redacted {
		t.Errorf("Name = %q, want %q", info.Name, redacted)
	}
	resp, err := c.API().GetChatAppInfoWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	noKeyRun(t, "the generated reply's body", string(resp.Body))
	noKeyRun(t, "the reply's headers", fmt.Sprint(resp.HTTPResponse.Header))
	if !strings.Contains(resp.HTTPResponse.Header.Get("X-Echo"), redacted) {
		t.Errorf("X-Echo = %q, want the key replaced", resp.HTTPResponse.Header.Get("X-Echo"))
	}
}

// TestScrubFragments: the scrubber removes the key whole, then a start of
// it left at the end of a text and an end of it left at the start; short
// keys and short fragments are left alone.
func TestScrubFragments(t *testing.T) {
	t.Parallel()
	s := newSecret(testKey)
	tests := []struct{ in, want string }{
		{"x " + testKey + " y", "x " + redacted + " y"},
		{"cut: " + testKey[:12], "cut: " + redacted},
		{"cut: " + testKey[:minFragment], "cut: " + redacted},
		{"cut: " + testKey[:minFragment-1], "cut: " + testKey[:minFragment-1]},
		{testKey[len(testKey)-10:] + " rest", redacted + " rest"},
		{testKey + testKey, redacted + redacted},
		{"nothing here", "nothing here"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := s.text(tt.in); got != tt.want {
			t.Errorf("text(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(s.bytes([]byte(tt.in))); got != tt.want {
			t.Errorf("bytes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if newSecret("short") != nil {
		t.Error("a key shorter than minScrubKey is scrubbed (it would mangle ordinary text)")
	}
	var none *secret
	if got := none.text("abc " + testKey); got != "abc "+testKey {
		t.Errorf("nil secret changed the text: %q", got)
	}
	// The scrubbed error still matches what the original matched, and
	// prints the scrubbed text with every verb.
	orig := fmt.Errorf("boom %s: %w", testKey, context.Canceled)
	err := s.err(orig)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("scrubbed error lost its match: %v", err)
	}
	errNoKey(t, err)
}

// FuzzScrubReader: whatever surrounds the key and however the body is
// split into reads, the scrubbed body shows no run of the key that the
// text around it did not already hold, and a body with nothing of the key
// comes out unchanged.
func FuzzScrubReader(f *testing.F) {
	f.Add([]byte("hello "), []byte(" world"), uint8(3), true)
	f.Add([]byte(testKey[:9]), []byte(""), uint8(1), true)
	f.Add([]byte("app-app-"), []byte(testKey[:12]), uint8(5), true)
	f.Add([]byte("no key at all"), []byte("a"), uint8(2), false)
	s := newSecret(testKey)
	f.Fuzz(func(t *testing.T, a, b []byte, step uint8, withKey bool) {
		body := string(a) + string(b)
		if withKey {
			body = string(a) + testKey + string(b)
		}
		r := &scrubReader{rd: &chunked{b: []byte(body), step: int(step%16) + 1}, sec: s}
		var out []byte
		buf := make([]byte, int(step%7)+1)
		for {
			n, err := r.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				break
			}
		}
		if keyRun(string(a)) == "" && keyRun(string(b)) == "" {
			if r := keyRun(string(out)); r != "" {
				t.Errorf("scrubbed %q still shows %q: %q", body, r, out)
			}
		}
		if !strings.Contains(body, testKey[:minFragment]) && !strings.Contains(body, testKey[len(testKey)-minFragment:]) &&
			string(out) != body {
			t.Errorf("body %q without the key came out as %q", body, out)
		}
	})
}

// chunked returns its bytes step at a time.
type chunked struct {
	b    []byte
	step int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.step)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// TestAttackRedirectHTTPSToHTTP: a server that sends a request on from
// https to plain http (same host name) does not get the key on the second
// hop, where anyone on the path could read it.
func TestAttackRedirectHTTPSToHTTP(t *testing.T) {
	leakCheck(t)
	var gotAuth atomic.Value
	gotAuth.Store("unset")
	plain := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		writeJSON(w, 200, metaBody)
	})
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			t.Errorf("the https server did not get the key")
		}
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(tlsSrv.Close)
	hc := tlsSrv.Client()
	t.Cleanup(hc.CloseIdleConnections)
	c, err := NewClient(testKey, WithBaseURL(tlsSrv.URL+"/v1"), WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppMeta(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := gotAuth.Load().(string); got != "" {
		t.Errorf("the plain http hop received Authorization %q", got)
	}
}
