package chatflowtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/difykit/chatflow/chatflowtest"
)

func ExampleNewServer() {
	s := chatflowtest.NewServer()
	defer s.Close()

	req, _ := http.NewRequest("POST", s.URL+"/chat-messages",
		strings.NewReader(`{"inputs": {}, "query": "Hello, Dify", "user": "alice"}`))
	req.Header.Set("Authorization", "Bearer "+s.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var reply struct {
		Answer string `json:"answer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		panic(err)
	}
	fmt.Println(resp.StatusCode, reply.Answer)

	for _, r := range s.Requests() {
		fmt.Println(r.Method, r.Path, r.Operation, r.User)
	}
	// Output:
	// 200 You said: Hello, Dify
	// POST /chat-messages sendChatMessage alice
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- chatflowtest.ListenAndServe(ctx, "127.0.0.1:0", "app-serve-test", pw)
		pw.Close()
	}()
	br := bufio.NewReader(pr)
	line1, _ := br.ReadString('\n')
	line2, _ := br.ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, br) }()
	base, ok := strings.CutPrefix(strings.TrimSpace(line1), "Fake Dify chatflow API at ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/v1") {
		t.Fatalf("first line = %q", line1)
	}
	if strings.TrimSpace(line2) != "API key: app-serve-test" {
		t.Fatalf("second line = %q", line2)
	}
	req, _ := http.NewRequest("GET", base+"/info", nil)
	req.Header.Set("Authorization", "Bearer app-serve-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status = %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe = %v", err)
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	t.Parallel()
	if err := chatflowtest.ListenAndServe(context.Background(), "256.0.0.1:x", "", io.Discard); err == nil {
		t.Error("no error for a bad address")
	}
}

func TestNewUnstartedServer(t *testing.T) {
	t.Parallel()
	s := chatflowtest.NewUnstartedServer(chatflowtest.WithAPIKey("app-k"))
	if s.URL != "" || s.APIKey != "app-k" {
		t.Fatalf("URL %q key %q", s.URL, s.APIKey)
	}
	s.Start()
	defer s.Close()
	wantStatus(t, do(t, s, "GET", "/meta", nil), 200)
	// The handler can also be mounted elsewhere.
	mux := http.NewServeMux()
	mux.Handle("/v1/", s.Handler())
	if s.Handler() == nil {
		t.Fatal("nil handler")
	}
}
