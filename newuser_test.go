package chatflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The errors a new user meets first say what to do.
func TestNewClientKeyErrors(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "   ", "\n"} {
		_, err := NewClient(key)
		if err == nil || !strings.Contains(err.Error(), "set DIFY_API_KEY") {
			t.Errorf("NewClient(%q) = %v, want an error saying to set DIFY_API_KEY", key, err)
		}
	}
	const secret = "app-Zq81mXvT0pLk3Rw9"
	for _, key := range []string{"Bearer " + secret, "bearer " + secret, "BEARER " + secret, " Bearer " + secret} {
		_, err := NewClient(key)
		if err == nil || !strings.Contains(err.Error(), "pass the key alone") {
			t.Errorf("NewClient(%q) = %v, want an error saying to pass the key alone", key, err)
			continue
		}
		if strings.Contains(err.Error(), secret[4:12]) {
			t.Errorf("error %q shows the key", err)
		}
	}
	if _, err := NewClient("app-key with space"); err == nil || strings.Contains(err.Error(), "Bearer") {
		t.Errorf("a key with a space: %v", err)
	}
	if _, err := NewClient(secret); err != nil {
		t.Errorf("a plain key: %v", err)
	}
}

// A base URL that does not parse is shown as given (quoted), without its
// password, with the reason.
func TestBaseURLParseErrorShowsInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, show, hide string }{
		{in: "http://[::1/v1", show: `"http://[::1/v1"`},
		{in: "https://dify.example.com:port/v1", show: `"https://dify.example.com:port/v1"`},
		{in: "http://me:hunter2pw@[::1/v1", show: `"http://[::1/v1"`, hide: "hunter2pw"},
		{in: "http://dify.example.com/v1/%zz", show: `"http://dify.example.com/v1/%zz"`},
	} {
		_, err := NewClient(testKey, WithBaseURL(tc.in))
		if err == nil {
			t.Errorf("%q: no error", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.show) || strings.Contains(err.Error(), "(unparsable URL)") {
			t.Errorf("%q: error %q does not show %s", tc.in, err, tc.show)
		}
		if tc.hide != "" && strings.Contains(err.Error(), tc.hide) {
			t.Errorf("%q: error %q shows the password", tc.in, err)
		}
	}
}

// countConns starts srv (TLS or not) counting the connections it accepts.
func countConns(srv *httptest.Server, tlsOn bool) *atomic.Int32 {
	var n atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	return &n
}

// Against a real server: an untrusted certificate and a plain-HTTP server
// behind a https URL are each tried once, however many retries are allowed.
func TestTLSErrorsNotRetried(t *testing.T) {
	t.Parallel()
	noWait := context.WithValue(context.Background(), sleepKey{}, sleepFunc(func(context.Context, time.Duration) error { return nil }))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })

	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors are the point
	tlsConns := countConns(tlsSrv, true)
	t.Cleanup(tlsSrv.Close)
	plainSrv := httptest.NewUnstartedServer(h)
	plainConns := countConns(plainSrv, false)
	t.Cleanup(plainSrv.Close)

	for _, tc := range []struct {
		name, base string
		conns      *atomic.Int32
		want       string
	}{
		{"untrusted certificate", tlsSrv.URL, tlsConns, "certificate"},
		{"http server, https URL", "https://" + plainSrv.Listener.Addr().String(), plainConns, "server gave HTTP response to HTTPS client"},
	} {
		for _, call := range []struct {
			name string
			do   func(c *Client) error
		}{
			{"GET", func(c *Client) error { _, err := c.AppInfo(noWait); return err }},
			{"DELETE", func(c *Client) error { return c.DeleteConversation(noWait, uuidN(1, 1), "u1") }},
		} {
			before := tc.conns.Load()
			c, err := NewClient(testKey, WithBaseURL(tc.base+"/v1"), WithMaxRetries(3), WithHTTPClient(&http.Client{Transport: newTransport()}))
			if err != nil {
				t.Fatal(err)
			}
			err = call.do(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s, %s: err = %v, want %q", tc.name, call.name, err, tc.want)
			}
			if n := tc.conns.Load() - before; n != 1 {
				t.Errorf("%s, %s: %d connections, want 1 (not retried)", tc.name, call.name, n)
			}
			if strings.Contains(fmt.Sprintf("%+v", err), "after") {
				t.Errorf("%s, %s: %v says it was retried", tc.name, call.name, err)
			}
		}
	}
}

// An idle timeout names the host; a reply that stops half-way is called a
// stall.
func TestIdleTimeoutNamesHost(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/info" {
			<-r.Context().Done() // no headers, ever
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"name":`)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	c := testClient(t, srv.URL, WithIdleTimeout(200*time.Millisecond))

	_, err := c.AppInfo(context.Background())
	if !errors.Is(err, ErrIdleTimeout) || !strings.Contains(err.Error(), "on "+host) || !strings.Contains(err.Error(), "no reply headers within") {
		t.Errorf("no headers: err = %v, want ErrIdleTimeout naming %s", err, host)
	}
	_, err = c.AppParameters(context.Background())
	if !errors.Is(err, ErrIdleTimeout) || !strings.Contains(err.Error(), "on "+host) || !strings.Contains(err.Error(), "stalled") {
		t.Errorf("stalled body: err = %v, want ErrIdleTimeout naming %s and the stall", err, host)
	}
}

// A stream whose server goes silent, and stays silent on every reattach,
// fails with an error that calls it a stall, not a dropped connection.
func TestStreamStallReportedAsStall(t *testing.T) {
	t.Parallel()
	started := `data: {"event":"workflow_started","conversation_id":"c1","message_id":"m1","created_at":1,"task_id":"` + testTaskID +
		`","workflow_run_id":"r1","data":{"id":"r1","workflow_id":"w","created_at":1}}` + "\n\n"
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet { // the reattach: a ping, then silence
			f := sseHeader(t, w)
			write(w, f, "event: ping\n\n")
			<-r.Context().Done()
			return
		}
		sseHandler([]string{started, streamMsg("a")}, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })(w, r)
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, resume := range []bool{false, true} {
		c := testClient(t, srv.URL, WithIdleTimeout(100*time.Millisecond), WithResume(resume), WithAutoStop(false))
		_, err := c.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u1"})
		if !errors.Is(err, ErrIdleTimeout) || !errors.Is(err, ErrIncompleteStream) {
			t.Errorf("resume %v: err = %v, want ErrIdleTimeout and ErrIncompleteStream", resume, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "stall") || strings.Contains(msg, "dropped") || !strings.Contains(msg, host) {
			t.Errorf("resume %v: err = %q, want a stall on %s, not a dropped connection", resume, msg, host)
		}
	}
}
