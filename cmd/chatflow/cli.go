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

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

// env is what a command needs from the outside world; tests replace it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usage is printed by "chatflow help" and after a usage error.
const usage = `chatflow talks to a Dify chatflow app through its Service API.

Usage:
  chatflow chat [-c CONVERSATION] [-i key=value]... [-f FILE]... [-json] QUERY
  chatflow conversations [-limit N] [-sort FIELD] [-json]
  chatflow messages [-json] CONVERSATION
  chatflow rename [-auto] CONVERSATION [NAME]
  chatflow delete CONVERSATION
  chatflow upload [-json] FILE
  chatflow stop TASK_ID
  chatflow serve [-addr HOST:PORT] [-key KEY]

Configuration (flags -key, -base-url and -user override them):
  DIFY_API_KEY    the app's API key; when unset, a built-in fake Dify server is used
  DIFY_BASE_URL   the Service API base URL (default https://api.dify.ai/v1)
  DIFY_USER       the end-user id sent with each request (default "chatflow-cli")
`

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "serve" {
		return runServe(ctx, rest, e.stdout, e.stderr)
	}
	cmd, ok := commands[name]
	if !ok {
		if name == "help" || name == "-h" || name == "--help" || name == "-help" {
			fmt.Fprint(e.stdout, usage)
			return 0
		}
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
	run := cmd(fs)
	if err := fs.Parse(interleave(fs, rest)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c, cleanup, err := g.client(e)
	if err != nil {
		return fail(e, err)
	}
	defer cleanup()
	g.c = c
	if err := run(ctx, g, fs.Args(), e); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(e.stderr, "chatflow %s: %s\n", name, ue)
			fs.Usage()
			return 2
		}
		return fail(e, err)
	}
	return 0
}

// command registers its flags and returns the function that runs it.
type command func(fs *flag.FlagSet) func(ctx context.Context, g *globals, args []string, e env) error

var commands = map[string]command{
	"chat":          chatCommand,
	"conversations": conversationsCommand,
	"messages":      messagesCommand,
	"rename":        renameCommand,
	"delete":        deleteCommand,
	"upload":        uploadCommand,
	"stop":          stopCommand,
}

// globals are the settings every command shares.
type globals struct {
	key, baseURL, user string
	json               bool
	c                  *chatflow.Client
}

// client builds the API client from flags and environment; with no key it
// starts the fake server in-process and says so on stderr.
func (g *globals) client(e env) (*chatflow.Client, func(), error) {
	key := firstNonEmpty(g.key, e.getenv("DIFY_API_KEY"))
	base := firstNonEmpty(g.baseURL, e.getenv("DIFY_BASE_URL"))
	g.user = firstNonEmpty(g.user, e.getenv("DIFY_USER"), "chatflow-cli")
	cleanup := func() {}
	if key == "" {
		srv := chatflowtest.NewServer()
		fmt.Fprintf(e.stderr, "DIFY_API_KEY is not set: using the built-in fake Dify server at %s (demo mode)\n", srv.URL)
		key, base, cleanup = srv.APIKey, srv.URL, srv.Close
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

// fail prints err on one line and returns the exit code for it.
func fail(e env, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if !strings.HasPrefix(msg, "chatflow") {
		msg = "chatflow: " + msg
	}
	fmt.Fprintln(e.stderr, msg)
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

func main() {
	ctx, stop := signalContext()
	defer stop()
	os.Exit(run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}
