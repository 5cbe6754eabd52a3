package relay_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/relay"
)

// The relay mounted under /api/ of a web server, with a user function that
// names the end user from the session cookie. The browser's page calls
// /api/chat-messages with Dify's own request body and reads Dify's event
// stream; the key stays on the server.
func Example() {
	dify := chatflowtest.NewServer() // stands in for Dify: use your app's URL and key
	defer dify.Close()
	c, err := chatflow.NewClient(dify.APIKey, chatflow.WithBaseURL(dify.URL))
	if err != nil {
		panic(err)
	}

	user := func(r *http.Request) (string, error) {
		ck, err := r.Cookie("session") // look the session up in your own store
		if err != nil {
			return "", err // 401 for the browser; nothing reaches Dify
		}
		return "user-" + ck.Value, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", relay.New(c, user,
		relay.WithAllowedOrigins("https://app.example.com"))))
	site := httptest.NewServer(mux)
	defer site.Close()

	// What the browser does.
	req, _ := http.NewRequest("POST", site.URL+"/api/chat-messages",
		strings.NewReader(`{"query": "Hello", "inputs": {}, "user": "someone-else", "response_mode": "streaming"}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "session", Value: "42"})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Header.Get("Content-Type"))
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"event":"message_end"`) {
			fmt.Println("message_end")
		}
	}
	for _, r := range dify.Requests() {
		fmt.Println(r.Method, r.Path, r.User)
	}
	// Output:
	// text/event-stream; charset=utf-8
	// message_end
	// POST /chat-messages user-42
}
