package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/difykit/chatflow/chatflowtest"
)

// modeEnv starts a fake app of mode and returns the environment that
// points the CLI at it.
func modeEnv(t *testing.T, mode string) map[string]string {
	t.Helper()
	srv := chatflowtest.NewServer(chatflowtest.WithMode(mode))
	t.Cleanup(srv.Close)
	return map[string]string{"DIFY_API_KEY": srv.APIKey, "DIFY_BASE_URL": srv.URL}
}

func TestRunWorkflow(t *testing.T) {
	t.Parallel()
	vars := modeEnv(t, chatflowtest.ModeWorkflow)
	out, errOut := runOK(t, vars, "run", "-i", "query=ship it")
	var outputs map[string]any
	if err := json.Unmarshal([]byte(out), &outputs); err != nil || outputs["text"] != "You said: ship it" {
		t.Fatalf("stdout = %q (%v)", out, err)
	}
	if !strings.Contains(errOut, "▸ ") || !strings.Contains(errOut, "succeeded") {
		t.Errorf("no node progress on stderr: %q", errOut)
	}
	out, _ = runOK(t, vars, "run", "-json", "-type", "workflow", "-i", "query=x")
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["status"] != "succeeded" || res["run_id"] == "" {
		t.Fatalf("-json stdout = %q (%v)", out, err)
	}
}

func TestCompleteCompletion(t *testing.T) {
	t.Parallel()
	vars := modeEnv(t, chatflowtest.ModeCompletion)
	out, _ := runOK(t, vars, "complete", "hello", "world")
	if !strings.Contains(out, "hello world") {
		t.Fatalf("stdout = %q", out)
	}
}

func TestRunOnAnotherAppTypeSaysWhichCommand(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, modeEnv(t, chatflowtest.ModeCompletion), "run", "-i", "a=b")
	if code == 0 || !strings.Contains(errOut, "chatflow complete") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, modeEnv(t, chatflowtest.ModeAdvancedChat), "complete", "q")
	if code == 0 || !strings.Contains(errOut, "chatflow chat") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

func TestRunAndCompleteDemoMode(t *testing.T) {
	t.Parallel()
	out, errOut := runOK(t, map[string]string{}, "run", "-i", "query=demo")
	if !strings.Contains(out, "You said: demo") || !strings.Contains(errOut, "demo mode") {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	out, _ = runOK(t, map[string]string{}, "complete", "demo")
	if !strings.Contains(out, "demo") {
		t.Fatalf("stdout %q", out)
	}
}
