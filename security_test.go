package chatflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/difykit/chatflow/gen"
)

func TestSecretNotInFormattedValues(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	c, mux, _ := setup(t, WithLogger(newTestLogger(&buf)), WithUserAgent("ua/1"),
		WithRequestEditor(func(ctx context.Context, req *http.Request) error { req.Header.Set("X-Extra", "1"); return nil }))
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"code":"unauthorized","message":"Access token is invalid","status":401}`)
	})
	_, err := c.API().GetChatAppMetaWithResponse(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	noKey(t, "Client", formats(c))
	noKey(t, "*Client", formats(*c))
	noKey(t, "APIError", formats(ae))
	noKey(t, "*APIError", formats(*ae))
	noKey(t, "error", formats(err))
	noKey(t, "log", buf.String())
	for _, o := range []Option{WithBaseURL("http://x/v1"), WithMaxRetries(1), WithLogger(nil)} {
		noKey(t, "Option", formats(o))
	}
}

func TestSecretNotInURLOrQuery(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var seen atomic.Int32
	check := func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		noKey(t, "request URL", r.URL.String())
		if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("Authorization = %q", got)
		}
	}
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		check(w, r)
		writeJSON(w, 200, metaBody)
	})
	mux.HandleFunc("GET /conversations", func(w http.ResponseWriter, r *http.Request) {
		check(w, r)
		writeJSON(w, 200, `{"limit":20,"has_more":false,"data":[]}`)
	})
	if _, err := c.API().GetChatAppMetaWithResponse(context.Background()); err != nil {
		t.Fatal(err)
	}
	user := "u"
	if _, err := c.API().GetConversationsListWithResponse(context.Background(), &gen.GetConversationsListParams{User: &user}); err != nil {
		t.Fatal(err)
	}
	if seen.Load() != 2 {
		t.Errorf("server saw %d requests", seen.Load())
	}
}

func TestSecretNotInTransportErrors(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL("http://"+closedAddr()+"/v1"), WithMaxRetries(1), WithLogger(newTestLogger(&buf)))
	if err != nil {
		t.Fatal(err)
	}
	var w waits
	_, err = c.API().GetChatAppMetaWithResponse(w.ctx(context.Background()))
	if err == nil {
		t.Fatal("no error")
	}
	noKey(t, "error", formats(err))
	noKey(t, "log", buf.String())

	// A bad id is refused before sending; its error has no key either.
	err = c.DeleteConversation(context.Background(), "..", "u")
	if !errors.Is(err, ErrInvalidID) {
		t.Errorf("err = %v, want ErrInvalidID", err)
	}
	noKey(t, "error", formats(err))
}

// redirectPair starts a target server that records the Authorization header
// it receives, and a front server that redirects every request to the
// target's URL (with code) built from host.
func redirectPair(t *testing.T, code int, targetHost func(u *url.URL) string) (front string, auth *atomic.Value, hits *atomic.Int32) {
	t.Helper()
	auth = new(atomic.Value)
	auth.Store("")
	hits = new(atomic.Int32)
	target := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		auth.Store(r.Header.Get("Authorization"))
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, 200, metaBody)
	})
	tu, _ := url.Parse(target.URL)
	dest := "http://" + targetHost(tu)
	fs := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, dest+r.URL.Path, code)
	})
	return fs.URL, auth, hits
}

func TestRedirectToOtherHostDropsKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		host func(u *url.URL) string
	}{
		// 127.0.0.1 -> localhost: another host name (net/http strips too).
		{"other host name", func(u *url.URL) string { return "localhost:" + u.Port() }},
		// 127.0.0.1:A -> 127.0.0.1:B: same host name, another port, which
		// net/http alone would let the key through to.
		{"other port", func(u *url.URL) string { return u.Host }},
	}
	for _, tc := range cases {
		for _, code := range []int{301, 302, 307, 308} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, code), func(t *testing.T) {
				t.Parallel()
				front, auth, hits := redirectPair(t, code, tc.host)
				c, err := NewClient(testKey, withContextSleep(), WithBaseURL(front+"/v1"), WithMaxRetries(0))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.API().GetChatAppMetaWithResponse(context.Background()); err != nil {
					t.Fatal(err)
				}
				if hits.Load() != 1 {
					t.Fatalf("target saw %d requests, want 1", hits.Load())
				}
				if got := auth.Load().(string); got != "" {
					t.Errorf("target on another origin received Authorization %q", got)
				}
			})
		}
	}
}

func TestRedirectPOSTToOtherHostDropsKey(t *testing.T) {
	t.Parallel()
	front, auth, hits := redirectPair(t, 307, func(u *url.URL) string { return u.Host })
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(front+"/v1"), WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.API().SendChatMessageWithResponse(context.Background(), ChatRequest{Query: "q", User: "u", Inputs: map[string]any{}})
	if hits.Load() != 1 || auth.Load().(string) != "" {
		t.Errorf("target hits %d, Authorization %q; want 1 and none", hits.Load(), auth.Load())
	}
}

func TestRedirectSameOriginKeepsKey(t *testing.T) {
	t.Parallel()
	var gotAuth atomic.Value
	gotAuth.Store("")
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/meta" {
			http.Redirect(w, r, "/v1/meta2", http.StatusTemporaryRedirect)
			return
		}
		gotAuth.Store(r.Header.Get("Authorization"))
		writeJSON(w, 200, metaBody)
	})
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.API().GetChatAppMetaWithResponse(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := gotAuth.Load().(string); got != "Bearer "+testKey {
		t.Errorf("same-origin redirect: Authorization = %q, want the key", got)
	}
}

func TestRedirectUserPolicyStillApplies(t *testing.T) {
	t.Parallel()
	front, _, hits := redirectPair(t, 302, func(u *url.URL) string { return u.Host })
	stop := errors.New("no redirects here")
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return stop }}
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(front+"/v1"), WithHTTPClient(hc), WithMaxRetries(3))
	if err != nil {
		t.Fatal(err)
	}
	var w waits
	_, err = c.API().GetChatAppMetaWithResponse(w.ctx(context.Background()))
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the CheckRedirect error", err)
	}
	if hits.Load() != 0 {
		t.Errorf("redirect followed despite CheckRedirect")
	}
	if len(w.get()) != 0 {
		t.Errorf("a redirect policy error was retried")
	}
	if hc.CheckRedirect == nil {
		t.Errorf("the caller's http.Client was changed")
	}
}

func TestRedirectLoopStops(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(srv.URL+"/v1"), WithMaxRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.API().GetChatAppMetaWithResponse(context.Background())
	if err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Fatalf("err = %v, want a redirect limit error", err)
	}
	const maxRedirects = 10 // net/http's limit, which the client keeps
	if got := n.Load(); got != maxRedirects {
		t.Errorf("requests = %d, want %d (no retry of a redirect loop)", got, maxRedirects)
	}
}

func TestHeaderValuesWithLineBreaksRefused(t *testing.T) {
	t.Parallel()
	for _, ua := range []string{"ua\r\nX-Injected: 1", "ua\nX: y", "ua\rX", "ua\x00"} {
		if _, err := NewClient(testKey, WithUserAgent(ua)); err == nil {
			t.Errorf("WithUserAgent(%q) accepted", ua)
		}
	}
	for _, key := range []string{testKey + "\r\nX-Injected: 1", "a\nb"} {
		_, err := NewClient(key)
		if err == nil {
			t.Errorf("NewClient with key %q accepted", key)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("error repeats the key: %v", err)
		}
	}

	// An extra header set by a request editor is checked by net/http: the
	// request fails before anything is sent.
	var n atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		writeJSON(w, 200, metaBody)
	})
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(srv.URL+"/v1"),
		WithRequestEditor(func(_ context.Context, req *http.Request) error {
			req.Header.Set("X-Extra", "v\r\nX-Injected: 1")
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	var w waits
	_, err = c.API().GetChatAppMetaWithResponse(w.ctx(context.Background()))
	if err == nil {
		t.Fatal("a header value with CR/LF was sent")
	}
	if !strings.Contains(err.Error(), "X-Extra") || strings.Contains(err.Error(), "Injected") {
		t.Errorf("err = %v, want it to name the header and not repeat its value", err)
	}
	noKey(t, "error", formats(err))
	if n.Load() != 0 {
		t.Errorf("server received %d requests", n.Load())
	}
	if len(w.get()) != 0 {
		t.Errorf("an invalid header was retried")
	}
}

func TestLoggerRedactsAcrossOutcomes(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	c, mux, _ := setup(t, WithLogger(newTestLogger(&buf)), WithMaxRetries(1))
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		// A proxy that echoes the request headers back.
		w.Header().Set("Retry-After", "1")
		writeJSON(w, 503, `{"code":"x","message":"headers: `+r.Header.Get("Authorization")+`","status":503}`)
	})
	var w waits
	ctx, cancel := context.WithTimeout(w.ctx(context.Background()), time.Minute)
	defer cancel()
	_, err := c.API().GetChatAppMetaWithResponse(ctx)
	if err == nil {
		t.Fatal("no error")
	}
	noKey(t, "error", formats(err))
	out := buf.String()
	noKey(t, "log", out)
	if !strings.Contains(out, "attempt=2") {
		t.Errorf("log lacks the second attempt:\n%s", out)
	}
}

func TestLoggerOmitsQuery(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL("http://"+closedAddr()+"/v1"), WithMaxRetries(1), WithLogger(newTestLogger(&buf)))
	if err != nil {
		t.Fatal(err)
	}
	user := "end-user-in-query"
	var w waits
	if _, err := c.API().GetConversationsListWithResponse(w.ctx(context.Background()), &gen.GetConversationsListParams{User: &user}); err == nil {
		t.Fatal("no error")
	}
	out := buf.String()
	if strings.Contains(out, user) {
		t.Errorf("log contains the query:\n%s", out)
	}
	if !strings.Contains(out, "path=/v1/conversations") || !strings.Contains(out, "connection refused") {
		t.Errorf("log lacks the path or the error:\n%s", out)
	}
	noKey(t, "log", out)
}
