package chatflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
)

func TestNewClientValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
		opts []Option
	}{
		{"empty key", "", nil},
		{"blank key", "   ", nil},
		{"key with newline", "app-x\r\nX-Evil: 1", nil},
		{"relative base URL", "k", []Option{WithBaseURL("/v1")}},
		{"no host", "k", []Option{WithBaseURL("https:///v1")}},
		{"ftp base URL", "k", []Option{WithBaseURL("ftp://example.com/v1")}},
		{"unparsable base URL", "k", []Option{WithBaseURL("http://[::1")}},
		{"base URL with query", "k", []Option{WithBaseURL("https://example.com/v1?x=1")}},
		{"user agent with CRLF", "k", []Option{WithUserAgent("x\r\nEvil: 1")}},
		{"negative retries", "k", []Option{WithMaxRetries(-1)}},
		{"nil http client", "k", []Option{WithHTTPClient(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tt.key, tt.opts...)
			if err == nil {
				t.Fatalf("NewClient = %v, want an error", c)
			}
			if strings.Contains(err.Error(), "app-x") {
				t.Errorf("error %q repeats the key", err)
			}
		})
	}
}

func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	c, err := NewClient("app-key")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.BaseURL(), DefaultBaseURL+"/"; got != want {
		t.Errorf("BaseURL = %q, want %q", got, want)
	}
}

func TestAuthAndUserAgentHeaders(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		testHeader(t, r, "Authorization", "Bearer "+testKey)
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "chatflow-go/"+Version) {
			t.Errorf("User-Agent = %q, want the library name and version", ua)
		}
		writeJSON(w, 200, `{"tool_icons":{}}`)
	})
	if _, err := c.API().GetChatAppMetaWithResponse(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCustomUserAgentAndEditor(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithUserAgent("my-app/2"), WithRequestEditor(func(_ context.Context, r *http.Request) error {
		r.Header.Set("X-Trace", "t1")
		return nil
	}))
	mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) {
		testHeader(t, r, "User-Agent", "my-app/2")
		testHeader(t, r, "X-Trace", "t1")
		writeJSON(w, 200, `{}`)
	})
	if _, err := c.API().GetChatAppMetaWithResponse(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestClientPrintsNoKey(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testKey, WithBaseURL("https://user:pw@example.com/v1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, c)
		if strings.Contains(s, testKey) || strings.Contains(s, "pw") {
			t.Errorf("%s of Client = %q leaks a secret", verb, s)
		}
	}
	s := fmt.Sprintf("%+v", *c)
	if strings.Contains(s, testKey) {
		t.Errorf("%%+v of *Client leaks the key: %q", s)
	}
}

func TestDeleteConversation(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("DELETE /conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		testHeader(t, r, "Content-Type", "application/json")
		testJSONBody(t, r, `{"user":"abc-123"}`)
		if r.PathValue("id") != "c1" {
			t.Errorf("id = %q", r.PathValue("id"))
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if err := c.DeleteConversation(context.Background(), "c1", "abc-123"); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteConversationLegacy200(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("DELETE /conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"result":"success"}`)
	})
	if err := c.DeleteConversation(context.Background(), "c1", "u"); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteConversationEscapesID(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	got := make(chan string, 1)
	mux.HandleFunc("DELETE /conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.EscapedPath()
		w.WriteHeader(http.StatusNoContent)
	})
	if err := c.DeleteConversation(context.Background(), "a/b?c#d e", "u"); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "/conversations/a%2Fb%3Fc%23d%20e" {
		t.Errorf("escaped path = %q", p)
	}
}

func TestDeleteConversationRejectsBadIDs(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent for a bad id: %s %s", r.Method, r.URL)
	})
	for _, id := range []string{"", " ", ".", ".."} {
		err := c.DeleteConversation(context.Background(), id, "u")
		if !errors.Is(err, ErrInvalidID) {
			t.Errorf("DeleteConversation(%q) = %v, want ErrInvalidID", id, err)
		}
	}
}

func TestGeneratedCallsRejectDotIDs(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent for a bad id: %s %s", r.Method, r.URL)
	})
	ctx := context.Background()
	for _, id := range []string{"", ".", ".."} {
		if _, err := c.API().GetEndUserChatWithResponse(ctx, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("GetEndUserChat(%q) = %v, want ErrInvalidID", id, err)
		}
		if _, err := c.API().GetConversationVariablesWithResponse(ctx, id, nil); !errors.Is(err, ErrInvalidID) {
			t.Errorf("GetConversationVariables(%q) = %v, want ErrInvalidID", id, err)
		}
		if _, err := c.API().UpdateChatConversationVariableWithResponse(ctx, id, "v1", gen.UpdateChatConversationVariableJSONRequestBody{Value: 1}); !errors.Is(err, ErrInvalidID) {
			t.Errorf("UpdateChatConversationVariable(%q, v1) = %v, want ErrInvalidID", id, err)
		}
		if _, err := c.API().UpdateChatConversationVariableWithResponse(ctx, "c1", id, gen.UpdateChatConversationVariableJSONRequestBody{Value: 1}); !errors.Is(err, ErrInvalidID) {
			t.Errorf("UpdateChatConversationVariable(c1, %q) = %v, want ErrInvalidID", id, err)
		}
		if _, err := c.API().DeleteAnnotationWithResponse(ctx, id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("DeleteAnnotation(%q) = %v, want ErrInvalidID", id, err)
		}
	}
}

// Every operation's own path passes the check, with ids of any shape.
func TestRequestPathCheckAcceptsEveryRoute(t *testing.T) {
	t.Parallel()
	sent := 0
	d := transport.New(testKey, transport.Config{
		BaseURL: "https://dify.example.com/v1/",
		Routes:  apiRoutes,
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent++
			return &http.Response{StatusCode: 204, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		})},
	})
	check := func(method, u string) error {
		req, err := http.NewRequest(method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := d.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	for _, r := range apiRoutes {
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{", "", "}", "").Replace(path) // the parameter names as ids
		if err := check(method, "https://dify.example.com/v1"+path); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
	if err := check("GET", "https://elsewhere.example.com/x/../y"); err != nil {
		t.Errorf("a URL outside the base was checked: %v", err)
	}
	if err := check("GET", "https://dify.example.com/v1/conversations/./variables"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("a dot id passed the check: %v", err)
	}
	if sent != len(apiRoutes)+1 {
		t.Errorf("%d requests sent, want %d", sent, len(apiRoutes)+1)
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
