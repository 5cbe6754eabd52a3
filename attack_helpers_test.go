package chatflow

// Helpers of the attack tests (attack_*_test.go): raw TCP servers that
// misbehave on purpose, and checks that the API key shows nowhere.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// hostile is a raw HTTP/1.1 server on loopback: for each connection it
// reads one request and hands the connection to serve, which may write
// anything and hold the connection for as long as it likes (until the test
// ends: hold returns then). The connection is closed when serve returns.
type hostile struct {
	ln    net.Listener
	hits  atomic.Int32
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// newHostile starts a hostile server that reads each request's body before
// serve is called; it is closed, and its goroutines waited for, when the
// test ends.
func newHostile(t *testing.T, serve func(h *hostile, conn net.Conn, req *http.Request)) *hostile {
	t.Helper()
	return startHostile(t, true, serve)
}

// startHostile is newHostile; with drain false, serve gets the request with
// its body unread.
func startHostile(t *testing.T, drain bool, serve func(h *hostile, conn net.Conn, req *http.Request)) *hostile {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{ln: ln, done: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, conn)
			h.mu.Unlock()
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				h.hits.Add(1)
				if drain {
					_, _ = io.Copy(io.Discard, req.Body)
				}
				serve(h, conn, req)
			}()
		}
	}()
	t.Cleanup(func() {
		close(h.done)
		_ = ln.Close()
		h.mu.Lock()
		for _, c := range h.conns {
			_ = c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

// URL is the server's base URL, without /v1.
func (h *hostile) URL() string { return "http://" + h.ln.Addr().String() }

// hold blocks until the test ends.
func (h *hostile) hold() { <-h.done }

// reply writes raw bytes.
func reply(conn net.Conn, s string) { _, _ = io.WriteString(conn, s) }

// secretPart is the part of testKey after its "app-" prefix.
var secretPart = strings.TrimPrefix(testKey, "app-")

// keyRun returns an 8-byte run of the key's secret part that s contains,
// or "".
func keyRun(s string) string {
	for i := 0; i+8 <= len(secretPart); i++ {
		if strings.Contains(s, secretPart[i:i+8]) {
			return secretPart[i : i+8]
		}
	}
	return ""
}

// noKeyRun fails the test if s holds any 8-byte run of the key's secret.
func noKeyRun(t *testing.T, what, s string) {
	t.Helper()
	if r := keyRun(s); r != "" {
		t.Errorf("%s shows %q of the API key:\n%s", what, r, s)
	}
}

// errNoKey checks err with every verb that could print what it holds, and
// the *APIError in it, if any.
func errNoKey(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	noKeyRun(t, "err.Error()", err.Error())
	noKeyRun(t, "%v of the error", fmt.Sprintf("%v", err))
	noKeyRun(t, "%+v of the error", fmt.Sprintf("%+v", err))
	noKeyRun(t, "%#v of the error", fmt.Sprintf("%#v", err))
	noKeyRun(t, "%s of the error", fmt.Sprintf("%s", err))
	noKeyRun(t, "%q of the error", fmt.Sprintf("%q", err))
	for e := err; e != nil; e = errors.Unwrap(e) {
		noKeyRun(t, "a wrapped error", e.Error())
	}
	var ae *APIError
	if errors.As(err, &ae) {
		noKeyRun(t, "%+v of the *APIError", fmt.Sprintf("%+v", *ae))
		noKeyRun(t, "%#v of the *APIError", fmt.Sprintf("%#v", *ae))
		noKeyRun(t, "APIError.Body", string(ae.Body))
	}
}
