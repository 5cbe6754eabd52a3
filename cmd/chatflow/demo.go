package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

// Demo mode: without an API key, commands talk to a fake Dify server that
// runs in the background ("chatflow demo serve", started on first use), so
// that conversations live on from one command to the next, as they do on a
// real server. Its address and key are kept in demo.json in the demo
// directory (CHATFLOW_DEMO_DIR, default the user's cache directory +
// /chatflow); it listens on loopback only and exits after an idle hour
// (CHATFLOW_DEMO_IDLE, a duration, changes that) or on "chatflow demo
// reset".

const (
	demoStateFile   = "demo.json"
	demoLogFile     = "demo.log"
	demoControlPath = "/_chatflow-demo/shutdown"
	demoIdle        = time.Hour
	demoStartWait   = 30 * time.Second // bound for the server to start
	demoProbeWait   = 2 * time.Second  // bound for asking a running server
)

// demoState is what demo.json holds.
type demoState struct {
	URL     string `json:"url"` // base URL, ending in /v1
	Key     string `json:"key"`
	Version string `json:"version"` // chatflow.Version of the server
	PID     int    `json:"pid"`
}

// demoDir returns the directory of demo mode's files.
func demoDir(getenv func(string) string) (string, error) {
	if d := getenv("CHATFLOW_DEMO_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for demo mode (set CHATFLOW_DEMO_DIR): %w", err)
	}
	return filepath.Join(d, "chatflow"), nil
}

func readDemoState(dir string) (*demoState, error) {
	b, err := os.ReadFile(filepath.Join(dir, demoStateFile))
	if err != nil {
		return nil, err
	}
	var st demoState
	if err := json.Unmarshal(b, &st); err != nil || st.URL == "" || st.Key == "" {
		return nil, fmt.Errorf("%s: not a demo state file", filepath.Join(dir, demoStateFile))
	}
	return &st, nil
}

// writeDemoState replaces demo.json atomically.
func writeDemoState(dir string, st demoState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, demoStateFile+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, demoStateFile))
}

// alive reports whether the demo server of st answers with its key.
func (st *demoState) alive(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, demoProbeWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.URL+"/parameters", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+st.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode == http.StatusOK
}

// shutdown asks the demo server of st to exit; it has removed demo.json
// when this returns nil.
func (st *demoState) shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, demoProbeWait)
	defer cancel()
	root := strings.TrimSuffix(st.URL, chatflowtest.Prefix)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, root+demoControlPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+st.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("demo server answered %s", resp.Status)
	}
	return nil
}

// demoConn is the demo server a command uses.
type demoConn struct {
	URL, Key string
	PID      int
	Started  bool // by this command
}

// connectDemo returns the running demo server, starting one when there is
// none (or when it is of another version). The caller says which on
// stderr.
func connectDemo(ctx context.Context, e env) (demoConn, error) {
	dir, err := demoDir(e.getenv)
	if err != nil {
		return demoConn{}, err
	}
	if st, err := readDemoState(dir); err == nil {
		if st.Version == chatflow.Version && st.alive(ctx) {
			return demoConn{URL: st.URL, Key: st.Key, PID: st.PID}, nil
		}
		_ = st.shutdown(ctx) // another version, or gone
		_ = os.Remove(filepath.Join(dir, demoStateFile))
	}
	st, err := startDemo(ctx, dir)
	if err != nil {
		return demoConn{}, err
	}
	return demoConn{URL: st.URL, Key: st.Key, PID: st.PID, Started: true}, nil
}

// startDemo starts "chatflow demo serve" as a background process of its
// own and waits until it listens. The server reports its state on a pipe
// (file descriptor 3) once demo.json is written.
func startDemo(ctx context.Context, dir string) (*demoState, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, demoLogFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	args := []string{"demo", "serve", "-dir", dir, "-handshake"}
	if idle := os.Getenv("CHATFLOW_DEMO_IDLE"); idle != "" {
		args = append(args, "-idle", idle)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = detached()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return nil, fmt.Errorf("start the demo server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	type result struct {
		st  demoState
		err error
	}
	got := make(chan result, 1)
	go func() {
		var r result
		line, err := bufio.NewReader(pr).ReadBytes('\n')
		if err != nil {
			r.err = fmt.Errorf("the demo server did not start (see %s)", filepath.Join(dir, demoLogFile))
		} else {
			r.err = json.Unmarshal(line, &r.st)
		}
		got <- r
	}()
	timer := time.NewTimer(demoStartWait)
	defer timer.Stop()
	select {
	case r := <-got:
		if r.err != nil {
			_ = cmd.Process.Kill()
			return nil, r.err
		}
		return &r.st, nil
	case <-timer.C:
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("the demo server did not start within %s (see %s)", demoStartWait, filepath.Join(dir, demoLogFile))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return nil, context.Cause(ctx)
	}
}

// runDemo implements "chatflow demo status|reset" (and "demo serve", the
// background server itself).
func runDemo(ctx context.Context, args []string, e env) int {
	const demoUsage = `Usage: chatflow demo status | demo reset

Shows or resets the fake Dify server that commands use, in the background, when DIFY_API_KEY is not set.

  status   where the demo server runs, if it does
  reset    stop the demo server and forget its conversations

It starts on first use and exits after an idle hour or on "demo reset".
`
	if len(args) == 0 {
		fmt.Fprint(e.stderr, demoUsage)
		return 2
	}
	if args[0] == "help" || (args[0] != "serve" && wantsHelp(args)) {
		fmt.Fprint(e.stdout, demoUsage)
		return 0
	}
	if args[0] == "serve" {
		return runDemoServe(ctx, args[1:], e)
	}
	if len(args) != 1 {
		fmt.Fprint(e.stderr, demoUsage)
		return 2
	}
	dir, err := demoDir(e.getenv)
	if err != nil {
		return fail(ctx, e, err)
	}
	st, err := readDemoState(dir)
	switch args[0] {
	case "status":
		if err != nil || !st.alive(ctx) {
			fmt.Fprintln(e.stdout, "no demo server is running (the next command without DIFY_API_KEY starts one)")
			return 0
		}
		fmt.Fprintf(e.stdout, "demo server: %s (pid %d, version %s)\nAPI key: %s\nstate: %s\n",
			st.URL, st.PID, st.Version, st.Key, filepath.Join(dir, demoStateFile))
		return 0
	case "reset", "stop":
		if err != nil {
			fmt.Fprintln(e.stdout, "no demo server was running; nothing to reset")
			return 0
		}
		if err := st.shutdown(ctx); err != nil {
			// Not running any more: forget it.
			_ = os.Remove(filepath.Join(dir, demoStateFile))
		}
		fmt.Fprintln(e.stdout, "demo server stopped; its conversations are gone (the next command starts a fresh one)")
		return 0
	}
	fmt.Fprintf(e.stderr, "chatflow demo: unknown subcommand %q\n", args[0])
	fmt.Fprint(e.stderr, demoUsage)
	return 2
}

// runDemoServe is the background demo server: a fake Dify server on a
// loopback port that writes demo.json, reports it on file descriptor 3 when
// started by startDemo, and runs until it is idle for -idle, asked to shut
// down, or interrupted.
func runDemoServe(ctx context.Context, args []string, e env) int {
	fs := flag.NewFlagSet("chatflow demo serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", "", "directory of demo.json (default: the demo directory)")
	idle := fs.Duration("idle", demoIdle, "exit after this long without requests")
	handshake := fs.Bool("handshake", false, "report the state on file descriptor 3 once listening (set by the CLI)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *idle <= 0 {
		fmt.Fprintln(e.stderr, "chatflow demo serve: -idle must be positive")
		return 2
	}
	if *dir == "" {
		d, err := demoDir(e.getenv)
		if err != nil {
			return fail(ctx, e, err)
		}
		*dir = d
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fail(ctx, e, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(ctx, e, err)
	}
	srv := chatflowtest.NewUnstartedServer()
	defer srv.Close()
	st := demoState{
		URL:     "http://" + ln.Addr().String() + chatflowtest.Prefix,
		Key:     srv.APIKey,
		Version: chatflow.Version,
		PID:     os.Getpid(),
	}
	srv.URL = st.URL

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		active   atomic.Int64
		lastSeen atomic.Int64
		once     sync.Once
	)
	lastSeen.Store(time.Now().UnixNano())
	api := srv.Handler()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+demoControlPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+st.Key {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		// Forget the state before answering, so that the caller finds no
		// demo.json once it has the answer.
		once.Do(func() { removeDemoState(*dir, st.URL) })
		w.WriteHeader(http.StatusOK)
		stop()
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer func() { lastSeen.Store(time.Now().UnixNano()); active.Add(-1) }()
		api.ServeHTTP(w, r)
	}))
	// The connection limits of chatflowtest's own servers (the handler
	// bounds request bodies itself).
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()

	if err := writeDemoState(*dir, st); err != nil {
		return fail(ctx, e, err)
	}
	fmt.Fprintf(e.stderr, "%s demo server at %s (pid %d)\n", time.Now().Format(time.RFC3339), st.URL, st.PID)
	if hs := os.NewFile(3, "handshake"); *handshake && hs != nil {
		b, _ := json.Marshal(st)
		_, _ = hs.Write(append(b, '\n'))
		hs.Close()
	}

	tick := time.NewTicker(min(*idle, time.Minute))
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case err := <-done:
			fmt.Fprintf(e.stderr, "demo server: %v\n", err)
			running = false
		case <-tick.C:
			if active.Load() == 0 && time.Since(time.Unix(0, lastSeen.Load())) >= *idle {
				fmt.Fprintf(e.stderr, "%s idle for %s: exiting\n", time.Now().Format(time.RFC3339), *idle)
				running = false
			}
		}
	}
	once.Do(func() { removeDemoState(*dir, st.URL) })
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	return 0
}

// removeDemoState removes demo.json if it still names the server at url
// (a newer server may have replaced it).
func removeDemoState(dir, url string) {
	if st, err := readDemoState(dir); err == nil && st.URL != url {
		return
	}
	if err := os.Remove(filepath.Join(dir, demoStateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "demo server: %v\n", err)
	}
}
