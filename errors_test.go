package chatflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAPIErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		ctype       string
		body        string
		header      map[string]string
		wantCode    string
		wantMessage string // prefix
		wantParams  string
		sentinel    error
	}{
		{name: "401 dify", status: 401, ctype: "application/json", header: map[string]string{"WWW-Authenticate": `Bearer realm="api"`},
			body: `{"code":"unauthorized","message":"Access token is invalid","status":401}`, wantCode: "unauthorized", wantMessage: "Access token is invalid", sentinel: ErrUnauthorized},
		{name: "403 app disabled", status: 403, ctype: "application/json",
			body: `{"code":"app_api_disabled","message":"disabled","status":403}`, wantCode: "app_api_disabled", wantMessage: "disabled", sentinel: ErrForbidden},
		{name: "404 conversation", status: 404, ctype: "application/json",
			body: `{"code":"not_found","message":"Conversation Not Exists.","status":404}`, wantCode: "not_found", wantMessage: "Conversation Not Exists.", sentinel: ErrNotFound},
		{name: "429", status: 429, ctype: "application/json",
			body: `{"code":"too_many_requests","message":"Too many requests. Please try again later.","status":429}`, wantCode: "too_many_requests", sentinel: ErrRateLimited},
		{name: "400 concurrency as invalid_param", status: 400, ctype: "application/json",
			body: `{"code":"invalid_param","message":"Too many requests. Please try again later.","status":400}`, wantCode: "invalid_param", sentinel: ErrRateLimited},
		{name: "400 with params", status: 400, ctype: "application/json",
			body: `{"code":"invalid_param","message":"user is required","status":400,"params":"user"}`, wantCode: "invalid_param", wantMessage: "user is required", wantParams: "user", sentinel: ErrBadRequest},
		{name: "400 multi-line pydantic", status: 400, ctype: "application/json",
			body: `{"code":"invalid_param","message":"1 validation error\ninputs\n  Field required","status":400}`, wantCode: "invalid_param", wantMessage: "1 validation error", sentinel: ErrBadRequest},
		{name: "422 validation", status: 422, ctype: "application/json",
			body: `{"code":"unprocessable_entity","message":"[{\"loc\":[\"limit\"],\"msg\":\"too large\"}]","status":422}`, wantCode: "unprocessable_entity", wantMessage: "[{", sentinel: ErrBadRequest},
		{name: "400 not a chat app", status: 400, ctype: "application/json",
			body: `{"code":"not_chat_app","message":"Please check if your app mode matches the right API route.","status":400}`, wantCode: "not_chat_app", sentinel: ErrBadRequest},
		{name: "500", status: 500, ctype: "application/json",
			body: `{"code":"internal_server_error","message":"The server encountered an internal error.","status":500}`, wantCode: "internal_server_error"},
		{name: "502 nginx html", status: 502, ctype: "text/html",
			body: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>", wantMessage: "HTML page: 502 Bad Gateway"},
		{name: "503 cloudflare html without content type", status: 503,
			body: "<!DOCTYPE html><html><head><title>example.com | 503: Service unavailable</title></head><body></body></html>", wantMessage: "HTML page: example.com | 503"},
		{name: "504 empty", status: 504, body: "", wantMessage: "empty body"},
		{name: "500 plain text", status: 500, ctype: "text/plain", body: "upstream connect error", wantMessage: "upstream connect error"},
		{name: "400 JSON not from Dify", status: 400, ctype: "application/json", body: `{"error":"bad"}`, wantMessage: `{"error":"bad"}`, sentinel: ErrBadRequest},
		{name: "400 malformed JSON", status: 400, ctype: "application/json", body: `{"code":"x",`, wantMessage: `{"code":"x",`, sentinel: ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			resp, err := c.API().GetChatAppMetaWithResponse(context.Background())
			if resp != nil {
				t.Errorf("response = %v, want nil with the error", resp)
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v (%T), want *APIError", err, err)
			}
			if ae.StatusCode != tt.status || ae.Code != tt.wantCode || !strings.HasPrefix(ae.Message, tt.wantMessage) || ae.Params != tt.wantParams {
				t.Errorf("APIError = {%d %q %q %q}, want {%d %q %q… %q}", ae.StatusCode, ae.Code, ae.Message, ae.Params, tt.status, tt.wantCode, tt.wantMessage, tt.wantParams)
			}
			if ae.Method != "GET" || !strings.HasSuffix(ae.URL, "/v1/meta") {
				t.Errorf("APIError request = %s %s", ae.Method, ae.URL)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
			for _, s := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited, ErrBadRequest} {
				if s != tt.sentinel && errors.Is(err, s) {
					t.Errorf("errors.Is(%v, %v) = true", err, s)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error message spans lines: %q", err)
			}
			if strings.Contains(fmt.Sprintf("%+v %#v", err, ae), testKey) {
				t.Error("error leaks the API key")
			}
		})
	}
}

func TestAPIErrorLargeBodyStaysShort(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	big := strings.Repeat("x", 1<<20)
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 500, `{"code":"internal_server_error","message":"`+big+`","status":500}`)
	})
	_, err := c.API().GetChatAppMetaWithResponse(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want *APIError", err)
	}
	if n := len(err.Error()); n > 500 {
		t.Errorf("Error() is %d bytes long", n)
	}
	if len(ae.Body) > errBodyKeep {
		t.Errorf("Body keeps %d bytes", len(ae.Body))
	}
	if ae.StatusCode != 500 {
		t.Errorf("status = %d", ae.StatusCode)
	}
}

// TestAPIErrorRetryAfterFarFuture: the RetryAfter an *APIError reports
// for a date centuries away is capped, and the wait before a retry is
// capped by WithRetryWaitMax as always.
func TestAPIErrorRetryAfterFarFuture(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(1), WithRetryWaitMax(2*time.Second))
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")
		writeJSON(w, 429, `{"code":"too_many_requests","message":"slow down","status":429}`)
	})
	var w waits
	_, err := c.API().GetChatAppMetaWithResponse(w.ctx(context.Background()))
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	if ae.RetryAfter != maxRetryAfter {
		t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, maxRetryAfter)
	}
	if got := w.get(); len(got) != 1 || got[0] != 2*time.Second {
		t.Errorf("waits = %v, want [2s]", got)
	}
}

func TestTransportErrorsStayTransportErrors(t *testing.T) {
	t.Parallel()
	// A port that refuses connections: listen, then close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL("http://"+addr+"/v1"), WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	err = c.DeleteConversation(context.Background(), "c1", "u")
	var ae *APIError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("error = %v, want a transport error", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("error %v does not wrap the *net.OpError", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Error("transport error leaks the key")
	}
}

func TestContextErrorsAreFound(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	c, err := NewClient(testKey, withContextSleep(), WithBaseURL(srv.URL+"/v1"), WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.DeleteConversation(ctx, "c1", "u"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := c.DeleteConversation(ctx, "c1", "u"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v, want context.DeadlineExceeded", err)
	}
}

func TestReplyTooLarge(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxReplyBytes(100))
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"tool_icons":{"a":"`+strings.Repeat("x", 500)+`"}}`)
	})
	_, err := c.API().GetChatAppMetaWithResponse(context.Background())
	if !errors.Is(err, ErrReplyTooLarge) {
		t.Fatalf("error = %v, want ErrReplyTooLarge", err)
	}
}

func TestAPIErrorScrubsEchoedKey(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, `{"code":"bad_request","message":"bad header `+r.Header.Get("Authorization")+`","status":400}`)
	})
	_, err := c.API().GetChatAppMetaWithResponse(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v", err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %s", err, ae, ae.Body), testKey) {
		t.Errorf("the echoed key survives in %+v", ae)
	}
}

func TestAPIErrorOddBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ctype, body string
	}{
		{"HTML title of invalid UTF-8", "text/html", "<title>" + strings.Repeat("\xff", 5000) + "</title>"},
		{"HTML with letters that change length in lower case", "text/html", "<TITLE>İİİ\u212a</TITLE>"},
		{"code with a line break", "application/json", `{"code":"a\nb","message":"m","status":400}`},
		{"huge code", "application/json", `{"code":"` + strings.Repeat("c", 10000) + `","message":"m","status":400}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(502)
				_, _ = io.WriteString(w, tt.body)
			})
			_, err := c.AppMeta(context.Background())
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != 502 {
				t.Fatalf("err = %v, want a 502 *APIError", err)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || len(msg) > 600 {
				t.Errorf("Error() = %q: want one short line", msg)
			}
		})
	}
}

func TestReplyLimitIgnoresContentType(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxReplyBytes(100))
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, `{"tool_icons":{"a":"`+strings.Repeat("x", 500)+`"}}`)
	})
	_, err := c.AppMeta(context.Background())
	if !errors.Is(err, ErrReplyTooLarge) {
		t.Fatalf("err = %v, want ErrReplyTooLarge", err)
	}
}

func TestStreamErrorsScrubEchoedKey(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		echo := r.Header.Get("Authorization")
		switch calls.Add(1) {
		case 1: // a JSON error before the stream
			writeJSON(w, 400, `{"code":"bad","message":"`+echo+`","status":400}`)
		case 2: // a proxy page instead of a stream
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<title>"+echo+"</title>")
		default: // an error event inside the stream
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, `data: {"event":"error","code":"x","message":"`+echo+`","status":500}`+"\n\n")
		}
	})
	for i := range 3 {
		_, err := c.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
		if err == nil {
			t.Fatalf("call %d: no error", i+1)
		}
		var ae *APIError
		s := err.Error()
		if errors.As(err, &ae) {
			s += fmt.Sprintf(" %+v %s", ae, ae.Body)
		}
		if strings.Contains(s, testKey) {
			t.Errorf("call %d: the echoed key survives: %s", i+1, s)
		}
	}
}

// A 404 for a path the server does not serve (Flask's route message, an
// HTML page, an empty or plain-text body) matches ErrEndpointNotFound and
// not ErrNotFound; Dify's own not_found codes match ErrNotFound only. Every
// message names the URL and never the key.
func TestEndpointNotFoundVsNotFound(t *testing.T) {
	t.Parallel()
	const flask = `{"code":"not_found","message":"The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.","status":404}`
	conv := uuidN(7, 1)
	tests := []struct {
		name     string
		ctype    string
		body     string
		call     func(c *Client) error
		path     string // the path the error must name
		endpoint bool   // ErrEndpointNotFound, else ErrNotFound
		hint     string
	}{
		{name: "flask route", ctype: "application/json", body: flask,
			call: func(c *Client) error { _, err := c.AppInfo(context.Background()); return err },
			path: "/v1/info", endpoint: true, hint: "usually ends in /v1"},
		{name: "html", ctype: "text/html", body: "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1><hr>nginx</body></html>",
			call: func(c *Client) error { return c.DeleteConversation(context.Background(), conv, "u1") },
			path: "/v1/conversations/" + conv, endpoint: true, hint: "usually ends in /v1"},
		{name: "empty", body: "",
			call: func(c *Client) error {
				_, err := c.SendMessage(context.Background(), ChatRequest{Query: "hi", User: "u1"})
				return err
			},
			path: "/v1/chat-messages", endpoint: true, hint: "usually ends in /v1"},
		{name: "go mux text", ctype: "text/plain; charset=utf-8", body: "404 page not found\n",
			call: func(c *Client) error { _, err := c.AppInfo(context.Background()); return err },
			path: "/v1/info", endpoint: true, hint: "usually ends in /v1"},
		{name: "conversation not exists", ctype: "application/json", body: `{"code":"not_found","message":"Conversation Not Exists.","status":404}`,
			call: func(c *Client) error { return c.DeleteConversation(context.Background(), conv, "u1") },
			path: "/v1/conversations/" + conv, hint: "belong to the user that created them"},
		{name: "conversation not exists in chat", ctype: "application/json", body: `{"code":"not_found","message":"Conversation Not Exists.","status":404}`,
			call: func(c *Client) error {
				_, err := c.SendMessage(context.Background(), ChatRequest{Query: "hi", User: "u1", ConversationID: conv})
				return err
			},
			path: "/v1/chat-messages", hint: "belong to the user that created them"},
		{name: "message not exists", ctype: "application/json", body: `{"code":"not_found","message":"Message Not Exists.","status":404}`,
			call: func(c *Client) error { return firstErr(c.Messages(context.Background(), conv, "u1")) },
			path: "/v1/messages", hint: "belong to the user that created them"},
		{name: "file not found", ctype: "application/json", body: `{"code":"file_not_found","message":"File not found","status":404}`,
			call: func(c *Client) error { _, err := c.PreviewFile(context.Background(), conv, "u1", Inline); return err },
			path: "/v1/files/" + conv + "/preview"},
		{name: "end user not found", ctype: "application/json", body: `{"code":"end_user_not_found","message":"End user not found.","status":404}`,
			call: func(c *Client) error { _, err := c.EndUser(context.Background(), conv); return err },
			path: "/v1/end-users/" + conv},
		{name: "run of another user", ctype: "application/json", body: `{"code":"not_found","message":"Workflow run not found","status":404}`,
			call: func(c *Client) error {
				s, err := c.WorkflowEvents(context.Background(), "run-1", "u1")
				if err == nil {
					s.Close()
				}
				return err
			},
			path: "/v1/workflow/run-1/events", hint: "only the user that started a run can follow it"},
		// A malformed id gets Flask's route 404 from Dify's UUID converter:
		// that is "no such conversation", and the message says why.
		{name: "malformed id", ctype: "application/json", body: flask,
			call: func(c *Client) error { return c.DeleteConversation(context.Background(), "conv-1", "u1") },
			path: "/v1/conversations/conv-1", hint: `conversation_id that is not a UUID, and "conv-1" is not one`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(404)
				_, _ = io.WriteString(w, tt.body)
			})
			c := testClient(t, srv.URL)
			err := tt.call(c)
			if got := errors.Is(err, ErrEndpointNotFound); got != tt.endpoint {
				t.Errorf("errors.Is(%v, ErrEndpointNotFound) = %v, want %v", err, got, tt.endpoint)
			}
			if got := errors.Is(err, ErrNotFound); got != !tt.endpoint {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, got, !tt.endpoint)
			}
			msg := fmt.Sprintf("%v %+v", err, err)
			if !strings.Contains(msg, srv.URL+tt.path) {
				t.Errorf("error %q does not name the URL %s", err, srv.URL+tt.path)
			}
			if tt.hint != "" && !strings.Contains(msg, tt.hint) {
				t.Errorf("error %q does not say %q", err, tt.hint)
			}
			if tt.hint == "" && strings.Contains(msg, "belong to the user") {
				t.Errorf("error %q speaks of conversations", err)
			}
			if strings.Contains(msg, testKey) || strings.Contains(msg, testKey[4:12]) {
				t.Errorf("error %q shows the key", err)
			}
		})
	}
}
