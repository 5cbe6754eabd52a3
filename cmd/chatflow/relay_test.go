package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/relay"
)

func TestRelayPageAndCookieUser(t *testing.T) {
	t.Parallel()
	dify := chatflowtest.NewServer()
	defer dify.Close()
	c, err := chatflow.NewClient(dify.APIKey, chatflow.WithBaseURL(dify.URL))
	if err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(relayMux(relay.New(c, cookieUser)))
	defer site.Close()

	get := func(hc *http.Client, path string) (*http.Response, string) {
		t.Helper()
		resp, err := hc.Get(site.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	// Without the page's cookie, the API is closed.
	if resp, body := get(http.DefaultClient, "/v1/conversations"); resp.StatusCode != 401 {
		t.Errorf("API without a cookie: %d %s", resp.StatusCode, body)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, body := get(browser, "/")
	if resp.StatusCode != 200 || !strings.Contains(body, `<script src="/static/chat.js">`) {
		t.Fatalf("page: %d %.200s", resp.StatusCode, body)
	}
	var id string
	for _, ck := range resp.Cookies() {
		if ck.Name == relayUserCookie && ck.HttpOnly {
			id = ck.Value
		}
	}
	if !strings.HasPrefix(id, "demo-") {
		t.Fatalf("no HttpOnly demo user cookie: %v", resp.Cookies())
	}
	for _, p := range []string{"/static/chat.js", "/static/chat.css"} {
		if resp, body := get(browser, p); resp.StatusCode != 200 || len(body) < 100 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if resp, body := get(browser, "/v1/conversations?user=someone"); resp.StatusCode != 200 || !strings.Contains(body, `"data"`) {
		t.Errorf("API with the cookie: %d %s", resp.StatusCode, body)
	}
	var users []string
	for _, r := range dify.Requests() {
		users = append(users, r.User)
	}
	if len(users) != 1 || users[0] != id {
		t.Errorf("upstream users = %v; want [%s]", users, id)
	}
}
