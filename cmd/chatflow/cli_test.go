package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/difykit/chatflow/chatflowtest"
)

// runCLI runs one command line with the given environment and returns the
// exit code, stdout and stderr.
func runCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, env{
		stdout: &out,
		stderr: &errOut,
		getenv: func(k string) string { return vars[k] },
	})
	return code, out.String(), errOut.String()
}

func fakeEnv(t *testing.T) map[string]string {
	t.Helper()
	srv := chatflowtest.NewServer()
	t.Cleanup(srv.Close)
	return map[string]string{"DIFY_API_KEY": srv.APIKey, "DIFY_BASE_URL": srv.URL, "DIFY_USER": "cli-test"}
}

func TestChatDemoModeWithoutKey(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, nil, "chat", "Hello")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(errOut, "demo mode") {
		t.Errorf("stderr does not say demo mode: %q", errOut)
	}
	if !strings.Contains(out, "Hello") {
		t.Errorf("stdout has no answer echoing the query: %q", out)
	}
	if !strings.Contains(errOut, "conversation:") || !strings.Contains(errOut, "workflow") {
		t.Errorf("stderr lacks progress or the conversation id: %q", errOut)
	}
}

func TestSessionAgainstFake(t *testing.T) {
	t.Parallel()
	vars := fakeEnv(t)

	code, out, errOut := runCLI(t, vars, "chat", "-json", "-i", "lang=en", "What is Dify?")
	if code != 0 {
		t.Fatalf("chat: exit %d: %s", code, errOut)
	}
	var reply map[string]string
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		t.Fatalf("chat -json output %q: %v", out, err)
	}
	conv := reply["conversation_id"]
	if conv == "" || reply["answer"] == "" {
		t.Fatalf("chat -json = %v", reply)
	}

	code, out, errOut = runCLI(t, vars, "chat", "-c", conv, "And again?")
	if code != 0 {
		t.Fatalf("second turn: exit %d: %s", code, errOut)
	}

	code, out, _ = runCLI(t, vars, "conversations", "-json")
	if code != 0 || !strings.Contains(out, conv) {
		t.Fatalf("conversations: exit %d, output %q lacks %s", code, out, conv)
	}

	code, out, _ = runCLI(t, vars, "messages", conv)
	if code != 0 || !strings.Contains(out, "What is Dify?") || !strings.Contains(out, "And again?") {
		t.Fatalf("messages: exit %d, output %q", code, out)
	}

	code, out, errOut = runCLI(t, vars, "rename", conv, "Renamed", "chat")
	if code != 0 || !strings.Contains(out, "Renamed chat") {
		t.Fatalf("rename: exit %d, out %q, err %q", code, out, errOut)
	}

	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("some notes"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, vars, "upload", "-json", path)
	if code != 0 || !strings.Contains(out, "notes.txt") {
		t.Fatalf("upload: exit %d, out %q, err %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, vars, "chat", "-f", path, "Summarise the file")
	if code != 0 || !strings.Contains(errOut, "uploaded notes.txt") {
		t.Fatalf("chat with file: exit %d, err %q", code, errOut)
	}

	code, out, errOut = runCLI(t, vars, "delete", conv)
	if code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: exit %d, out %q, err %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, vars, "messages", conv)
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "404") {
		t.Fatalf("messages of a deleted conversation: exit %d, stderr %q; want 1 and one line with 404", code, errOut)
	}

	code, out, errOut = runCLI(t, vars, "stop", "-json", "some-task")
	if code != 0 || !strings.Contains(out, "success") {
		t.Fatalf("stop: exit %d, out %q, err %q", code, out, errOut)
	}
}

func TestBadKeyIsOneLineError(t *testing.T) {
	t.Parallel()
	vars := fakeEnv(t)
	vars["DIFY_API_KEY"] = "app-wrong"
	code, _, errOut := runCLI(t, vars, "conversations")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "401") {
		t.Errorf("stderr = %q, want one line with 401", errOut)
	}
	if strings.Contains(errOut, "app-wrong") {
		t.Errorf("stderr leaks the key: %q", errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	vars := fakeEnv(t)
	for _, args := range [][]string{{}, {"bogus"}, {"chat"}, {"delete"}, {"messages"}, {"chat", "-nope", "x"}} {
		code, _, _ := runCLI(t, vars, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := runCLI(t, vars, "help"); code != 0 || !strings.Contains(out, "Usage:") {
		t.Errorf("help: exit %d, %q", code, out)
	}
}
