package chatflowtest_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/difykit/chatflow/chatflowtest"
)

// serve runs ListenAndServe on a loopback port and returns its host:port.
func serve(t *testing.T, opts ...chatflowtest.Option) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- chatflowtest.ListenAndServe(ctx, "127.0.0.1:0", "app-hard", pw, opts...)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	line, _ := br.ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, br) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe = %v", err)
		}
	})
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "Fake Dify chatflow API at ")
	if !ok {
		t.Fatalf("first line = %q", line)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// waitClosed reads from conn until the server closes it. The deadline only
// keeps a broken server from hanging the test; it is not what is tested.
func waitClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
}

func TestServeTimeouts(t *testing.T) {
	t.Parallel()
	addr := serve(t, chatflowtest.WithTimeouts(chatflowtest.Timeouts{
		ReadHeader: time.Second, ReadBody: 50 * time.Millisecond, Idle: 50 * time.Millisecond,
	}))
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("partial headers", func(t *testing.T) {
		c := dial()
		_, _ = c.Write([]byte("GET /v1/info HTTP/1.1\r\nHo"))
		waitClosed(t, c)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial()
		_, _ = c.Write([]byte("GET /v1/info HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-hard\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status = %d", resp.StatusCode)
		}
		waitClosed(t, c)
	})
	t.Run("partial body", func(t *testing.T) {
		c := dial()
		_, _ = c.Write([]byte("POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-hard\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"in"))
		waitClosed(t, c)
	})
}

// TestTimeoutsDoNotCutStreams: a stream that lasts longer than every
// connection timeout still arrives whole.
func TestTimeoutsDoNotCutStreams(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithTimeouts(chatflowtest.Timeouts{
		ReadHeader: 500 * time.Millisecond, ReadBody: 500 * time.Millisecond, Idle: 500 * time.Millisecond,
	}))
	s.SetEventDelay(400 * time.Millisecond) // the stream lasts longer than any timeout
	_, evs := stream(t, s, "tim", "", "a b c")
	if evs[len(evs)-1].name != "workflow_finished" {
		t.Errorf("events = %v", names(evs))
	}
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithMaxJSONBody(1024), chatflowtest.WithUploadLimits(chatflowtest.UploadLimits{
		Image: 1000, Video: 1000, Audio: 1000, Document: 1000,
	}))
	big := `{"inputs":{},"user":"u","query":"` + strings.Repeat("x", 2000) + `"}`
	wantError(t, doWith(t, s, "POST", "/chat-messages", big, "Bearer "+s.APIKey, "application/json"), 413, "request_entity_too_large")
	wantStatus(t, do(t, s, "POST", "/chat-messages", `{"inputs":{},"user":"u","query":"small"}`), 200)
	// A multipart body far beyond every limit is cut off while it is read.
	body, ct := multipartBody(t, "file", "huge.txt", "text/plain", make([]byte, 8<<20), map[string]string{"user": "u"})
	wantError(t, doWith(t, s, "POST", "/files/upload", body, "Bearer "+s.APIKey, ct), 413, "file_too_large")
}

func TestBoundedState(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithLimits(chatflowtest.Limits{
		ConversationsPerUser: 2, Conversations: 3, MessagesPerConversation: 2, FilesPerUser: 1,
	}))
	var alice []string
	for range 3 {
		alice = append(alice, chat(t, s, "alice", "", "hi")["conversation_id"].(string))
	}
	list := ids(t, do(t, s, "GET", "/conversations?user=alice", nil))
	if len(list) != 2 || list[0] != alice[2] || list[1] != alice[1] {
		t.Errorf("alice's conversations = %v, want the two newest of %v", list, alice)
	}
	wantError(t, do(t, s, "GET", "/messages?user=alice&conversation_id="+alice[0], nil), 404, "not_found")
	// Two conversations of bob pass the total of 3: alice's oldest goes.
	chat(t, s, "bob", "", "hi")
	chat(t, s, "bob", "", "hi")
	if list := ids(t, do(t, s, "GET", "/conversations?user=alice", nil)); len(list) != 1 || list[0] != alice[2] {
		t.Errorf("alice's conversations = %v, want only %s", list, alice[2])
	}
	// Messages per conversation.
	for range 3 {
		chat(t, s, "alice", alice[2], "more")
	}
	if msgs := do(t, s, "GET", "/messages?user=alice&conversation_id="+alice[2], nil).json(t)["data"].([]any); len(msgs) != 2 {
		t.Errorf("messages kept = %d, want 2", len(msgs))
	}
	// Files per user: the older upload is gone.
	first := upload(t, s, "alice", "a.txt", "text/plain", []byte("1")).json(t)["id"].(string)
	upload(t, s, "alice", "b.txt", "text/plain", []byte("2"))
	msg := map[string]any{"inputs": map[string]any{}, "query": "f", "user": "alice",
		"files": []any{map[string]any{"type": "document", "transfer_method": "local_file", "upload_file_id": first}}}
	wantError(t, do(t, s, "POST", "/chat-messages", msg), 400, "invalid_param")
}

// TestSlowBodyIsClosed: a request whose body never comes is answered and
// its connection closed within Timeouts.ReadBody, whether it is refused
// before its body is read (no key, a wrong key, an unknown path or
// method, a malformed id, a path outside /v1) or read in full (partial
// bodies), with Start and with ListenAndServe (which `chatflow serve` runs).
func TestSlowBodyIsClosed(t *testing.T) {
	t.Parallel()
	timeouts := chatflowtest.WithTimeouts(chatflowtest.Timeouts{
		ReadHeader: 5 * time.Second, ReadBody: 100 * time.Millisecond, Idle: time.Minute,
	})
	started := newServer(t, timeouts, chatflowtest.WithAPIKey("app-hard"))
	u, err := url.Parse(started.URL)
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]string{"Start": u.Host, "ListenAndServe": serve(t, timeouts)}
	const json = "Content-Type: application/json\r\n"
	cases := []struct {
		name, head string
		body       string // sent, but shorter than announced
		status     int    // the reply that comes before the close (0: none required)
	}{
		{"no key", "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\n" + json + "Content-Length: 100\r\n", "", 401},
		{"wrong key", "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-wrong\r\n" + json + "Content-Length: 100\r\n", "", 401},
		{"no key, partial body", "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\n" + json + "Content-Length: 100\r\n", `{"inp`, 401},
		{"no key, chunked", "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\n" + json + "Transfer-Encoding: chunked\r\n", "5\r\n{\"inp", 401},
		{"no key, expect continue", "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\n" + json + "Expect: 100-continue\r\nContent-Length: 100\r\n", "", 401},
		{"unknown path", "POST /v1/nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-hard\r\n" + json + "Content-Length: 100\r\n", "", 404},
		{"outside /v1", "POST /elsewhere HTTP/1.1\r\nHost: x\r\n" + json + "Content-Length: 100\r\n", "", 404},
		{"wrong method", "PUT /v1/chat-messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-hard\r\n" + json + "Content-Length: 100\r\n", "", 405},
		{"malformed id", "POST /v1/conversations/nope/name HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-hard\r\n" + json + "Content-Length: 100\r\n", "", 404},
		{"key, no body", "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-hard\r\n" + json + "Content-Length: 100\r\n", "", 0},
		{"key, chunked", "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-hard\r\n" + json + "Transfer-Encoding: chunked\r\n", "5\r\n{\"inp", 0},
	}
	for srv, addr := range servers {
		for _, tc := range cases {
			t.Run(srv+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Write([]byte(tc.head + "\r\n" + tc.body)); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(c)
				if tc.status != 0 {
					_ = c.SetReadDeadline(time.Now().Add(time.Minute))
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("no reply: %v", err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.status {
						t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
					}
					if !resp.Close {
						t.Error("the reply does not say Connection: close")
					}
				}
				waitClosed(t, readerConn{c, br})
			})
		}
	}
}

// TestBodyReadKeepsConnection: a request whose body was read whole leaves
// the connection open for the next request, even when it is refused.
func TestBodyReadKeepsConnection(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithAPIKey("app-hard"))
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	body := `{"inputs":{},"query":"hi","user":"kay"}`
	for i, want := range []int{400, 200, 401} {
		head := "POST /v1/chat-messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-hard\r\nContent-Type: application/json\r\n"
		b := body
		switch i {
		case 0:
			b = `{"inputs":{},"query":"hi"}` // no user: refused after the body was read
		case 2:
			head = "GET /v1/info HTTP/1.1\r\nHost: x\r\n" // no key, no body
		}
		if i < 2 {
			head += "Content-Length: " + strconv.Itoa(len(b)) + "\r\n"
		} else {
			b = ""
		}
		if _, err := c.Write([]byte(head + "\r\n" + b)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || resp.Close {
			t.Fatalf("request %d: status %d, close %v; want %d on a kept connection", i, resp.StatusCode, resp.Close, want)
		}
	}
}

// readerConn reads through a bufio.Reader that holds part of what the
// connection delivered.
type readerConn struct {
	net.Conn
	r *bufio.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }
