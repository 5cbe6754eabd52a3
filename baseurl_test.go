package chatflow

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// Base URL mistakes a new user makes, and what they get.

func TestBaseURLMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "", want: DefaultBaseURL + "/"},
		{in: "   ", want: DefaultBaseURL + "/"},
		{in: " https://dify.example.com/v1 ", want: "https://dify.example.com/v1/"},
		{in: "https://dify.example.com/v1\n", want: "https://dify.example.com/v1/"},
		{in: "http://127.0.0.1:8080/v1/", want: "http://127.0.0.1:8080/v1/"},
		{in: "127.0.0.1:8080/v1", wantErr: "add http:// or https://"},
		{in: "localhost:5001/v1", wantErr: "add http:// or https://"},
		{in: "dify.example.com/v1", wantErr: "add http:// or https://"},
		{in: "ftp://dify.example.com/v1", wantErr: "not an absolute http(s) URL"},
		{in: "https://dify.example.com/v1?x=1", wantErr: "query or fragment"},
		{in: "https://dify.example.com/v1?", wantErr: "query or fragment"},
		{in: "http://[::1", wantErr: "not a valid URL"},
	}
	for _, tt := range tests {
		c, err := NewClient(testKey, WithBaseURL(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("WithBaseURL(%q): err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("WithBaseURL(%q): %v", tt.in, err)
			continue
		}
		if got := c.BaseURL(); got != tt.want {
			t.Errorf("WithBaseURL(%q): BaseURL = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestBaseURLSpaceNotSent: a trailing space is not sent as %20.
func TestBaseURLSpaceNotSent(t *testing.T) {
	t.Parallel()
	var path string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		writeJSON(w, 200, metaBody)
	})
	c, err := NewClient(testKey, WithBaseURL(srv.URL+"/v1 "))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppMeta(context.Background()); err != nil {
		t.Fatal(err)
	}
	if path != "/v1/meta" {
		t.Errorf("path = %q, want /v1/meta", path)
	}
}

// TestBaseURLWithoutV1Hint: Flask's route-level 404 (a path the server
// does not serve) is ErrEndpointNotFound, not ErrNotFound, and says that the
// base URL usually ends in /v1, naming the URL that was asked for.
func TestBaseURLWithoutV1Hint(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"code":"not_found","message":"The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.","status":404}`)
	})
	const hint = "the base URL, which usually ends in /v1"
	for _, base := range []string{srv.URL, srv.URL + "/api", srv.URL + "/v1", srv.URL + "/dify/v1"} {
		c, err := NewClient(testKey, WithBaseURL(base))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.AppInfo(context.Background())
		if !errors.Is(err, ErrEndpointNotFound) || errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrEndpointNotFound and not ErrNotFound", base, err)
		}
		if msg := err.Error(); !strings.Contains(msg, hint) || !strings.Contains(msg, base+"/info") {
			t.Errorf("%s: err = %q; want the hint and the URL", base, msg)
		}
	}
}
