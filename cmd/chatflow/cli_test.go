package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

// TestMain lets the test binary act as the chatflow command (when
// CHATFLOW_CLI_MAIN=1), for the tests that need real processes: the demo
// server runs in the background as a process of its own.
func TestMain(m *testing.M) {
	if os.Getenv("CHATFLOW_CLI_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

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

// fakeServer starts a fake Dify server for the test and returns it with
// the environment that points the command at it.
func fakeServer(t *testing.T) (*chatflowtest.Server, map[string]string) {
	t.Helper()
	srv := chatflowtest.NewServer()
	t.Cleanup(srv.Close)
	return srv, map[string]string{"DIFY_API_KEY": srv.APIKey, "DIFY_BASE_URL": srv.URL}
}

// fakeEnv is the environment of a fresh fake server, with the user
// cli-test.
// runOK runs one command line as runCLI does, fails the test unless it
// exits 0, and returns stdout and stderr.
func runOK(t *testing.T, vars map[string]string, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := runCLI(t, vars, args...)
	if code != 0 {
		t.Fatalf("%q: exit %d, stderr %q", args, code, errOut)
	}
	return out, errOut
}

func fakeEnv(t *testing.T) map[string]string {
	t.Helper()
	_, vars := fakeServer(t)
	vars["DIFY_USER"] = "cli-test"
	return vars
}

// tempFile writes content to a file name in a temporary directory of the
// test and returns its path.
func tempFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestChatDemoModeWithoutKey(t *testing.T) {
	t.Parallel()
	out, errOut := runOK(t, nil, "chat", "Hello")
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

	out, _ := runOK(t, vars, "chat", "-json", "-i", "lang=en", "What is Dify?")
	var reply map[string]string
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		t.Fatalf("chat -json output %q: %v", out, err)
	}
	conv := reply["conversation_id"]
	if conv == "" || reply["answer"] == "" {
		t.Fatalf("chat -json = %v", reply)
	}

	runOK(t, vars, "chat", "-c", conv, "And again?")

	code, out, _ := runCLI(t, vars, "conversations", "-json")
	if code != 0 || !strings.Contains(out, conv) {
		t.Fatalf("conversations: exit %d, output %q lacks %s", code, out, conv)
	}

	code, out, _ = runCLI(t, vars, "messages", conv)
	if code != 0 || !strings.Contains(out, "What is Dify?") || !strings.Contains(out, "And again?") {
		t.Fatalf("messages: exit %d, output %q", code, out)
	}

	code, out, errOut := runCLI(t, vars, "rename", conv, "Renamed", "chat")
	if code != 0 || !strings.Contains(out, "Renamed chat") {
		t.Fatalf("rename: exit %d, out %q, err %q", code, out, errOut)
	}

	path := tempFile(t, "notes.txt", "some notes")
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

// runCLIEnv runs one command line with a prepared env.
func runCLIEnv(ctx context.Context, e env, args ...string) int {
	return run(ctx, args, e)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressStartsOnItsOwnLine(t *testing.T) {
	t.Parallel()
	vars := fakeEnv(t)
	var screen syncBuffer // one terminal for stdout and stderr
	code := runCLIEnv(context.Background(), env{stdout: &screen, stderr: &screen, tty: true, getenv: func(k string) string { return vars[k] }}, "chat", "Hello")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, screen.String())
	}
	out := screen.String()
	if !strings.Contains(out, "You said: Hello\n") {
		t.Fatalf("answer not on a line of its own:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "You said") && strings.ContainsAny(line, "✓■▷▶") {
			t.Errorf("answer and progress share a line: %q", line)
		}
	}

	// Not a terminal: stdout gets exactly the answer and one newline.
	code, stdout, _ := runCLI(t, vars, "chat", "Hello")
	if code != 0 || stdout != "You said: Hello\n" {
		t.Errorf("stdout = %q (exit %d), want the answer and a newline", stdout, code)
	}
}

func TestTimeoutFlag(t *testing.T) {
	t.Parallel()
	srv, vars := fakeServer(t)
	srv.SetDelay(time.Hour) // a server that accepts and never answers
	for _, args := range [][]string{
		{"conversations", "-timeout", "50ms"},
		{"chat", "-timeout", "50ms", "Hello"},
	} {
		code, _, errOut := runCLI(t, vars, args...)
		if code != 1 || !strings.Contains(errOut, "gave up after 50ms (-timeout)") {
			t.Errorf("%q: exit %d, stderr %q; want 1 and the timeout named", args, code, errOut)
		}
		if strings.Count(errOut, "chatflow:") != 1 || !strings.HasPrefix(lastLine(errOut), "chatflow:") || strings.Count(errOut, "gave up") != 1 {
			t.Errorf("%q: stderr does not end with one error line: %q", args, errOut)
		}
	}
	if code, _, _ := runCLI(t, vars, "conversations", "-timeout", "-1s"); code != 2 {
		t.Errorf("negative -timeout: exit %d, want 2", code)
	}
}

func TestInputs(t *testing.T) {
	t.Parallel()
	vars := fakeEnv(t)
	path := tempFile(t, "brief.txt", "the brief")
	_, errOut := runOK(t, vars, "chat",
		"-i", "lang=en", "-i", "count:=3", "-i", "flag:=true", "-i", "at:=\"@me\"", "-i", "raw=[1]", "-i", "brief=@"+path,
		"Go")
	if !strings.Contains(errOut, "for input brief") {
		t.Errorf("stderr does not report the upload: %q", errOut)
	}
	out, _ := runOK(t, vars, "conversations", "-json")
	var convs []struct {
		Inputs map[string]any `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(out), &convs); err != nil || len(convs) != 1 {
		t.Fatalf("conversations -json = %q (%v)", out, err)
	}
	in := convs[0].Inputs
	if in["lang"] != "en" || in["count"] != 3.0 || in["flag"] != true || in["at"] != "@me" || in["raw"] != "[1]" {
		t.Errorf("inputs = %v", in)
	}
	brief, _ := in["brief"].(map[string]any)
	if brief["transfer_method"] != "local_file" || brief["type"] != "document" || brief["upload_file_id"] == "" || brief["upload_file_id"] == nil {
		t.Errorf("file input = %v", in["brief"])
	}

	for _, bad := range []string{"x:=notjson", "=v", "f=@"} {
		if code, _, _ := runCLI(t, vars, "chat", "-i", bad, "Go"); code != 2 {
			t.Errorf("-i %q: exit %d, want 2", bad, code)
		}
	}
	if code, _, errOut := runCLI(t, vars, "chat", "-i", "f=@/does/not/exist", "Go"); code != 1 || !strings.Contains(errOut, "-i f=@/does/not/exist") {
		t.Errorf("missing file: exit %d, stderr %q", code, errOut)
	}
}

func TestListsAndOrder(t *testing.T) {
	t.Parallel()
	vars := fakeEnv(t)

	// Empty lists are [] in JSON, and say so otherwise.
	if code, out, _ := runCLI(t, vars, "conversations", "-json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("empty conversations -json = %q (exit %d)", out, code)
	}
	if code, out, errOut := runCLI(t, vars, "conversations"); code != 0 || out != "" || !strings.Contains(errOut, "no conversations") {
		t.Errorf("empty conversations: exit %d, out %q, err %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, vars, "messages", "last"); code != 1 || !strings.Contains(errOut, "no conversations yet") {
		t.Errorf("messages last without conversations: exit %d, err %q", code, errOut)
	}

	for _, q := range []string{"first", "second"} {
		if code, _, errOut := runCLI(t, vars, "chat", q); code != 0 {
			t.Fatalf("chat %s: %s", q, errOut)
		}
	}
	if code, _, errOut := runCLI(t, vars, "chat", "-c", "last", "third"); code != 0 {
		t.Fatalf("chat -c last: %s", errOut)
	}
	_, newestFirst, _ := runCLI(t, vars, "conversations", "-q")
	_, oldestFirst, _ := runCLI(t, vars, "conversations", "-q", "-sort", "created_at")
	ids := strings.Fields(newestFirst)
	rev := strings.Fields(oldestFirst)
	slices.Reverse(rev)
	if len(ids) != 2 || !slices.Equal(ids, rev) {
		t.Errorf("conversations -q = %q, -sort created_at = %q; want two ids in opposite orders", newestFirst, oldestFirst)
	}
	if code, _, _ := runCLI(t, vars, "conversations", "-sort", "name"); code != 2 {
		t.Errorf("-sort name: exit %d, want 2", code)
	}

	// "last" is the conversation of "second", continued with "third";
	// messages prints it oldest first unless -newest.
	_, out, _ := runCLI(t, vars, "messages", "last")
	if i, j := strings.Index(out, "> second"), strings.Index(out, "> third"); i < 0 || j < i {
		t.Errorf("messages last (oldest first) = %q", out)
	}
	_, out, _ = runCLI(t, vars, "messages", "-newest", "last")
	if i, j := strings.Index(out, "> second"), strings.Index(out, "> third"); j < 0 || i < j {
		t.Errorf("messages -newest last = %q", out)
	}
}

func TestUploadJSONHasNoEmptyFields(t *testing.T) {
	t.Parallel()
	vars := fakeEnv(t)
	path := tempFile(t, "notes.txt", "some notes")
	out, _ := runOK(t, vars, "upload", "-json", path)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if m["id"] == nil || m["name"] != "notes.txt" {
		t.Errorf("upload -json = %v", m)
	}
	for k, v := range m {
		if v == nil || v == "" {
			t.Errorf("upload -json prints the empty field %s: %v", k, m)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "chatflow 0.") || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

// cancelOnWrite cancels a context at the first write.
type cancelOnWrite struct {
	syncBuffer
	once   sync.Once
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	c.once.Do(c.cancel)
	return c.syncBuffer.Write(p)
}

func TestInterruptStopsTheRun(t *testing.T) {
	t.Parallel()
	srv, vars := fakeServer(t)
	srv.SetEventDelay(50 * time.Millisecond) // a run long enough to interrupt
	vars["DIFY_USER"] = "ctrl-c"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &cancelOnWrite{cancel: cancel} // Ctrl-C as the first answer text arrives
	var stderr syncBuffer
	code := runCLIEnv(ctx, env{stdout: stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }},
		"chat", "one two three four five six seven eight nine ten")
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d; stderr %q", code, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopping the run on the server...") {
		t.Errorf("stderr does not say it stops the run: %q", stderr.String())
	}
	// The CLI's own stop has been answered when it returns; the library's
	// background auto-stop may still be in flight: wait until every stop
	// request the server saw has been answered, then check them all.
	var stops []chatflowtest.Request
	for deadline := time.Now().Add(10 * time.Second); ; {
		stops = stops[:0]
		answered := true
		for _, r := range srv.Requests() {
			if r.Operation == "stopChatMessageGeneration" {
				stops = append(stops, r)
				answered = answered && r.Status != 0
			}
		}
		if answered || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling, as goleak does
	}
	if len(stops) == 0 {
		t.Fatalf("the server received no stop request: %+v", srv.Requests())
	}
	for _, r := range stops {
		if r.User != "ctrl-c" || r.Status != 200 {
			t.Errorf("stop request %+v: want user ctrl-c and 200", r)
		}
	}
}

// TestDemoKeepsStateBetweenProcesses runs the real command as separate
// processes, as a user does: without a key, the first command starts the
// background demo server, the next ones find its conversations, and
// "demo reset" forgets them.
func TestDemoKeepsStateBetweenProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cli := func(args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(exe, args...)
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DIFY_") }),
			"CHATFLOW_CLI_MAIN=1", "CHATFLOW_DEMO_DIR="+dir,
			"CHATFLOW_DEMO_IDLE=2m") // should the test die before its cleanup
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("chatflow %q: %v\nstdout %s\nstderr %s", args, err, out.String(), errOut.String())
		}
		return out.String(), errOut.String()
	}
	t.Cleanup(func() { cli("demo", "reset") })

	_, errOut := cli("chat", "Hello")
	if !strings.Contains(errOut, "started a demo server") {
		t.Errorf("first command does not say it started the demo server: %q", errOut)
	}
	first, _ := cli("conversations", "-q")
	if len(strings.Fields(first)) != 1 {
		t.Fatalf("conversations -q after one chat = %q", first)
	}
	_, errOut = cli("chat", "-c", strings.TrimSpace(first), "Again")
	if strings.Contains(errOut, "started a demo server") {
		t.Errorf("second command started another server: %q", errOut)
	}
	out, _ := cli("messages", "last")
	if !strings.Contains(out, "> Hello") || !strings.Contains(out, "> Again") {
		t.Errorf("messages last = %q", out)
	}
	out, _ = cli("demo", "status")
	if !strings.Contains(out, "demo server: http://127.0.0.1:") {
		t.Errorf("demo status = %q", out)
	}
	cli("demo", "reset")
	if _, err := os.Stat(filepath.Join(dir, demoStateFile)); !os.IsNotExist(err) {
		t.Errorf("demo.json after reset: %v", err)
	}
	out, _ = cli("conversations", "-json")
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("conversations after reset = %q, want []", out)
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestDroppedConnectionResumes(t *testing.T) {
	t.Parallel()
	srv, vars := fakeServer(t)
	srv.CutStreamAfter(4) // inside the answer
	out, errOut := runOK(t, vars, "chat", "one two three four five six seven eight")
	if !strings.HasSuffix(out, "You said: one two three four five six seven eight\n") {
		t.Errorf("stdout = %q, want it to end with the whole answer", out)
	}
	if !strings.Contains(errOut, "connection dropped; resumed") {
		t.Errorf("stderr does not say the stream was resumed: %q", errOut)
	}
}

// TestFileTypeFollowsDify checks the file types chat -f sends against
// Dify's own extension lists (webm is a video there, not an audio file).
func TestFileTypeFollowsDify(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]chatflow.FileType{
		"a.webm": chatflow.FileTypeVideo, "a.MP4": chatflow.FileTypeVideo, "a.mov": chatflow.FileTypeVideo,
		"a.mp3": chatflow.FileTypeAudio, "a.mpga": chatflow.FileTypeAudio, "a.m4a": chatflow.FileTypeAudio,
		"a.svg": chatflow.FileTypeImage, "a.jpeg": chatflow.FileTypeImage,
		"a.mdx": chatflow.FileTypeDocument, "a.htm": chatflow.FileTypeDocument, "a.doc": chatflow.FileTypeDocument,
		"a.zip": chatflow.FileTypeCustom, "noext": chatflow.FileTypeCustom,
	} {
		if got := fileType(name); got != want {
			t.Errorf("fileType(%q) = %q, want %q", name, got, want)
		}
	}
}
