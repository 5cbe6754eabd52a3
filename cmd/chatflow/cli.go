package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

// env is what a command needs from the outside world; tests replace it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// tty reports that stdout and stderr are both a terminal, so that the
	// answer (stdout) and progress lines (stderr) share one screen.
	tty bool
	// demo connects to the demo server used when no API key is set and
	// returns its base URL and key. nil: a fresh in-process fake server for
	// this one command.
	demo func(ctx context.Context, e env) (baseURL, key string, err error)
}

// usage is printed by "chatflow help" and after a usage error.
const usage = `chatflow talks to a Dify chatflow app through its Service API.

Usage:
  chatflow chat [-c CONVERSATION] [-i NAME=VALUE]... [-f FILE]... [-json] QUERY
  chatflow conversations [-limit N] [-sort ORDER] [-q] [-json]
  chatflow messages [-newest] [-json] CONVERSATION
  chatflow rename CONVERSATION NAME | rename -auto CONVERSATION
  chatflow delete CONVERSATION
  chatflow upload [-json] FILE
  chatflow stop TASK_ID
  chatflow demo status | demo reset
  chatflow serve [-addr HOST:PORT] [-key KEY]
  chatflow version

CONVERSATION is a conversation id, or "last" for your most recently updated
conversation.

Inputs (-i, repeatable) fill the app's input variables:
  -i name=text       a string, exactly as written
  -i name=@path      uploads the file and passes it as a file variable
  -i name:=JSON      a JSON value: -i n:=3  -i ok:=true  -i tags:='["a","b"]'
                     -i handle:='"@me"' (a string that starts with @)

Flags every command (but serve and demo) takes:
  -key, -base-url, -user   override the environment below
  -json                    print JSON for scripts
  -timeout DURATION        give up after this long (chat: no limit by default;
                           other commands: 60s); 0 means no limit

Configuration:
  DIFY_API_KEY    the app's API key; when unset, a demo fake Dify server runs
                  in the background and keeps its conversations between
                  commands ("chatflow demo reset" starts it over)
  DIFY_BASE_URL   the Service API base URL (default https://api.dify.ai/v1)
  DIFY_USER       the end-user id sent with each request (default "chatflow-cli")
`

// exitInterrupted is the exit code after Ctrl-C, as shells report SIGINT.
const exitInterrupted = 130

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "serve":
		return runServe(ctx, rest, e.stdout, e.stderr)
	case "demo":
		return runDemo(ctx, rest, e)
	case "version", "-version", "--version":
		printVersion(e.stdout)
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(e.stdout, usage)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "chatflow: unknown command %q (try: chatflow help)\n", name)
		return 2
	}
	fs := flag.NewFlagSet("chatflow "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	g := &globals{}
	fs.StringVar(&g.key, "key", "", "API key (default $DIFY_API_KEY)")
	fs.StringVar(&g.baseURL, "base-url", "", "Service API base URL (default $DIFY_BASE_URL)")
	fs.StringVar(&g.user, "user", "", "end-user id (default $DIFY_USER or chatflow-cli)")
	fs.BoolVar(&g.json, "json", false, "print JSON for scripts")
	timeoutHelp := "give up after this long (0: no limit)"
	fs.DurationVar(&g.timeout, "timeout", cmd.timeout, timeoutHelp)
	runCmd := cmd.setup(fs)
	if err := fs.Parse(interleave(fs, rest)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if g.timeout < 0 {
		fmt.Fprintf(e.stderr, "chatflow %s: -timeout must not be negative\n", name)
		return 2
	}
	if g.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, g.timeout, errTimeout{g.timeout})
		defer cancel()
	}
	c, cleanup, err := g.client(ctx, e)
	if err != nil {
		return fail(ctx, e, err)
	}
	defer cleanup()
	g.c = c
	if err := runCmd(ctx, g, fs.Args(), e); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(e.stderr, "chatflow %s: %s\n", name, ue)
			fs.Usage()
			return 2
		}
		return fail(ctx, e, err)
	}
	return 0
}

// command is one subcommand: setup registers its flags and returns the
// function that runs it; timeout is the default of its -timeout flag.
type command struct {
	setup   func(fs *flag.FlagSet) func(ctx context.Context, g *globals, args []string, e env) error
	timeout time.Duration
}

// defaultTimeout bounds the commands that make one or a few requests.
const defaultTimeout = 60 * time.Second

var commands = map[string]command{
	"chat":          {chatCommand, 0}, // a run may take long; Ctrl-C stops it
	"conversations": {conversationsCommand, defaultTimeout},
	"messages":      {messagesCommand, defaultTimeout},
	"rename":        {renameCommand, defaultTimeout},
	"delete":        {deleteCommand, defaultTimeout},
	"upload":        {uploadCommand, defaultTimeout},
	"stop":          {stopCommand, defaultTimeout},
	"relay":         {relayCommand, 0}, // serves until Ctrl-C
}

// globals are the settings every command shares.
type globals struct {
	key, baseURL, user string
	json               bool
	timeout            time.Duration
	c                  *chatflow.Client
}

// client builds the API client from flags and environment; with no key it
// uses the demo server and says so on stderr.
func (g *globals) client(ctx context.Context, e env) (*chatflow.Client, func(), error) {
	key := firstNonEmpty(g.key, e.getenv("DIFY_API_KEY"))
	base := firstNonEmpty(g.baseURL, e.getenv("DIFY_BASE_URL"))
	g.user = firstNonEmpty(g.user, e.getenv("DIFY_USER"), "chatflow-cli")
	cleanup := func() {}
	if key == "" {
		if base != "" {
			return nil, nil, errors.New("chatflow: DIFY_BASE_URL (or -base-url) is set but DIFY_API_KEY (or -key) is not")
		}
		if e.demo == nil {
			srv := chatflowtest.NewServer()
			fmt.Fprintf(e.stderr, "DIFY_API_KEY is not set: using a built-in fake Dify server at %s (demo mode)\n", srv.URL)
			key, base, cleanup = srv.APIKey, srv.URL, srv.Close
		} else {
			var err error
			base, key, err = e.demo(ctx, e)
			if err != nil {
				return nil, nil, fmt.Errorf("chatflow: demo mode: %w", err)
			}
			fmt.Fprintf(e.stderr, "DIFY_API_KEY is not set: using the demo fake Dify server at %s (demo mode; \"chatflow demo reset\" starts it over)\n", base)
		}
	}
	opts := []chatflow.Option{chatflow.WithUserAgent("chatflow-cli/" + chatflow.Version)}
	if base != "" {
		opts = append(opts, chatflow.WithBaseURL(base))
	}
	c, err := chatflow.NewClient(key, opts...)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return c, cleanup, nil
}

// usageError is a mistake in the command line, reported with the usage.
type usageError string

func (u usageError) Error() string { return string(u) }

// errTimeout is the cause of a context that -timeout ended.
type errTimeout struct{ d time.Duration }

func (t errTimeout) Error() string {
	return fmt.Sprintf("chatflow: gave up after %s (-timeout)", t.d)
}

// fail prints err on one line and returns the exit code for it: 130 after
// Ctrl-C, 1 otherwise. An error caused by -timeout says so.
func fail(ctx context.Context, e env, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	var te errTimeout
	if errors.As(context.Cause(ctx), &te) || errors.As(err, &te) {
		// Say first that -timeout ended it, then what was being done.
		rest := strings.TrimPrefix(strings.ReplaceAll(msg, ": "+te.Error(), ""), "chatflow: ")
		msg = te.Error()
		if rest != "" && rest != te.Error() {
			msg += ": " + rest
		}
	}
	if !strings.HasPrefix(msg, "chatflow") {
		msg = "chatflow: " + msg
	}
	fmt.Fprintln(e.stderr, msg)
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return exitInterrupted
	}
	return 1
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// interleave lets flags follow positional arguments ("chat Hello -json"),
// which the flag package alone would treat as arguments.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(append(flags, "--"), pos...)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func main() {
	ctx, stop := signalContext()
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		tty:    isTerminal(os.Stdout) && isTerminal(os.Stderr),
		demo:   connectDemo,
	}))
}
