package chatflow

// Attacks on the API key: servers that put it, whole or in part, where the
// library turns server bytes into text (status lines, header lines,
// trailers, Content-Type, redirect URLs, error bodies cut to length,
// stream events), with a logger at debug level and a retry allowed. No
// 8-byte run of the key's secret may appear in the error, printed with any
// verb, or in any log line.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/difykit/chatflow/internal/scrub"
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
			if !strings.Contains(err.Error(), scrub.Redacted) && strings.Contains(a.want, "malformed") {
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
	if info.Name != scrub.Redacted {
		t.Errorf("Name = %q, want %q", info.Name, scrub.Redacted)
	}
	resp, err := c.API().GetChatAppInfoWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	noKeyRun(t, "the generated reply's body", string(resp.Body))
	noKeyRun(t, "the reply's headers", fmt.Sprint(resp.HTTPResponse.Header))
	if !strings.Contains(resp.HTTPResponse.Header.Get("X-Echo"), scrub.Redacted) {
		t.Errorf("X-Echo = %q, want the key replaced", resp.HTTPResponse.Header.Get("X-Echo"))
	}
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
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(tlsSrv.URL+"/v1"), WithHTTPClient(hc))
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
