package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeMode: chatflow serve -mode plays that app type (GET /info says
// so, and a route of another type is refused); an unknown mode is a usage
// error.
func TestServeMode(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := runServe(context.Background(), []string{"-mode", "bogus"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "bogus") {
		t.Errorf("serve -mode bogus = %d, %q; want 2 and the mode named", code, stderr.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runServe(ctx, []string{"-addr", "127.0.0.1:0", "-key", "app-serve", "-mode", "workflow"}, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit code = %d", code)
		}
	}()
	br := bufio.NewReader(pr)
	line, _ := br.ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, br) }()
	base := strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
	get := func(method, path, body string) (int, map[string]any) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer app-serve")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	if code, v := get("GET", "/info", ""); code != 200 || v["mode"] != "workflow" {
		t.Errorf("/info = %d %v", code, v)
	}
	if code, v := get("POST", "/chat-messages", `{"inputs":{},"query":"q","user":"u"}`); code != 400 || v["code"] != "not_chat_app" {
		t.Errorf("chat on a workflow app = %d %v", code, v)
	}
	if code, v := get("POST", "/workflows/run", `{"inputs":{"query":"q"},"user":"u"}`); code != 200 || v["data"].(map[string]any)["status"] != "succeeded" {
		t.Errorf("workflow run = %d %v", code, v)
	}
}
