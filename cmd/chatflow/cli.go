package main

import (
	"bytes"
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
	// demo connects to the demo server used when no API key is set,
	// starting it if need be. nil: a fresh in-process fake server for this
	// one command.
	demo func(ctx context.Context, e env) (demoConn, error)
}

// usage is printed by "chatflow help" and after a usage error.
const usage = `chatflow talks to a Dify chatflow app through its Service API.

Usage:
  chatflow chat [-c CONVERSATION] [-i NAME=VALUE]... [-f FILE]... [-json] QUERY
  chatflow conversations [-limit N] [-sort ORDER] [-q] [-json]
  chatflow messages [-newest] [-json] CONVERSATION
  chatflow rename CONVERSATION NAME | rename -auto CONVERSATION
  chatflow delete CONVERSATION
  chatflow run [-i NAME=VALUE]... [-workflow ID] [-type TYPE] [-json]
  chatflow complete [-i NAME=VALUE]... [-type TYPE] [-json] [QUERY]
  chatflow upload [-json] FILE
  chatflow stop TASK_ID
  chatflow demo status | demo reset
  chatflow serve [-addr HOST:PORT] [-key KEY] [-ping DURATION] [-mode MODE]
  chatflow relay [-addr HOST:PORT] [-origins LIST]
  chatflow version
  chatflow help [COMMAND]

run talks to workflow apps and complete to completion (text generator) apps;
chat talks to chatflow, chat and agent apps. run and complete ask the app's
type with GET /info unless -type gives it; in demo mode each starts a fake
app of its type for the one command.

CONVERSATION is a conversation id, or "last" for your most recently updated
conversation.

Inputs (-i, repeatable) fill the app's input variables:
  -i name=text       a string, exactly as written
  -i name=@path      uploads the file and passes it as a file variable
  -i name:=JSON      a JSON value: -i n:=3  -i ok:=true  -i tags:='["a","b"]'
                     -i handle:='"@me"' (a string that starts with @)

Flags every command (but serve and demo) takes, before or after its name:
  -key, -base-url, -user   override the environment below
  -json                    print JSON for scripts
  -timeout DURATION        give up after this long (chat: no limit by default;
                           other commands: 60s), stopping an unfinished run
                           included; 0 means no limit

"chatflow COMMAND -h" (or "chatflow help COMMAND") explains one command.

Configuration:
  DIFY_API_KEY    the app's API key; when unset, a demo fake Dify server runs
                  in the background and keeps its conversations between
                  commands ("chatflow demo reset" starts it over)
  DIFY_BASE_URL   the Service API base URL (default https://api.dify.ai/v1)
  DIFY_USER       the end-user id sent with each request (default "chatflow-cli")
`

// exitInterrupted is the exit code after Ctrl-C, as shells report SIGINT.
const exitInterrupted = 130

// stopGrace is how long past -timeout a command may go on to stop the run
// it gave up on, so that it ends within -timeout plus a second.
const stopGrace = 500 * time.Millisecond

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, e env) int {
	pre, args, err := leadingGlobals(args)
	if err != nil {
		fmt.Fprintf(e.stderr, "chatflow: %v\n", err)
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	name, rest := args[0], args[1:]
	if len(pre) > 0 && (name == "serve" || name == "demo") {
		fmt.Fprintf(e.stderr, "chatflow: %s takes none of the flags -key, -base-url, -user, -json, -timeout (%s was given before it)\n", name, pre[0])
		return 2
	}
	switch name {
	case "serve":
		if wantsHelp(rest) {
			// serve prints its own usage; the help asked for goes to stdout.
			return runServe(ctx, []string{"-h"}, e.stdout, e.stdout)
		}
		return runServe(ctx, rest, e.stdout, e.stderr)
	case "demo":
		return runDemo(ctx, rest, e)
	case "version", "-version", "--version":
		if wantsHelp(rest) {
			printCommandHelp(e.stdout, "version", nil)
			return 0
		}
		printVersion(e.stdout)
		return 0
	case "help", "-h", "--help", "-help":
		return runHelp(rest, e)
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "chatflow: unknown command %q (try: chatflow help)\n", name)
		return 2
	}
	fs := flag.NewFlagSet("chatflow "+name, flag.ContinueOnError)
	g := &globals{e: e}
	g.register(fs, cmd.timeout)
	runCmd := cmd.setup(fs)
	fs.Usage = func() { printCommandHelp(fs.Output(), name, fs) }
	// The flag package writes its complaint and the usage to the flag
	// set's output: stdout when help was asked for, stderr otherwise.
	var parseOut bytes.Buffer
	fs.SetOutput(&parseOut)
	err = fs.Parse(interleave(fs, append(pre, rest...)))
	fs.SetOutput(e.stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = e.stdout.Write(parseOut.Bytes())
			return 0
		}
		_, _ = e.stderr.Write(parseOut.Bytes())
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
		g.hardDeadline = time.Now().Add(g.timeout + stopGrace)
	}
	defer g.close()
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

// leadingGlobals splits the flags every command takes (-key, -base-url,
// -user, -json, -timeout) off the front of a command line, for
// "chatflow -base-url URL conversations"; it returns them and the rest,
// which starts with the command.
func leadingGlobals(args []string) (pre, rest []string, err error) {
	fs := flag.NewFlagSet("chatflow", flag.ContinueOnError)
	(&globals{}).register(fs, 0)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return pre, args[i+1:], nil
		}
		if len(a) < 2 || a[0] != '-' {
			return pre, args[i:], nil
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil {
			return pre, args[i:], nil // -h, -version, or a mistake run reports
		}
		pre = append(pre, a)
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); hasValue || (ok && bf.IsBoolFlag()) {
			continue
		}
		if i+1 == len(args) {
			return nil, nil, fmt.Errorf("flag needs an argument: %s", a)
		}
		pre = append(pre, args[i+1])
		i++
	}
	return pre, nil, nil
}

// wantsHelp reports whether args ask for help (-h, -help or --help before
// any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// runHelp implements "chatflow help [COMMAND]".
func runHelp(args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stdout, usage)
		return 0
	}
	name := args[0]
	if wantsHelp(args) {
		name = "help"
	}
	switch name {
	case "serve":
		return runServe(context.Background(), []string{"-h"}, e.stdout, e.stdout)
	case "demo":
		return runDemo(context.Background(), []string{"-h"}, e)
	}
	cmd, ok := commands[name]
	if _, documented := commandHelp[name]; !ok && !documented {
		fmt.Fprintf(e.stderr, "chatflow help: unknown command %q\n", name)
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	var fs *flag.FlagSet
	if ok {
		fs = flag.NewFlagSet("chatflow "+name, flag.ContinueOnError)
		(&globals{}).register(fs, cmd.timeout)
		cmd.setup(fs)
	}
	printCommandHelp(e.stdout, name, fs)
	return 0
}

// commandHelp is what "chatflow CMD -h" says about each command: its usage
// line (after "chatflow ") and one sentence on what it does.
var commandHelp = map[string]struct{ usage, does string }{
	"chat": {"chat [-c CONVERSATION] [-i NAME=VALUE]... [-f FILE]... [-json] QUERY",
		"Sends QUERY to the app as a chat message and streams the answer to stdout, with the run's progress on stderr."},
	"conversations": {"conversations [-limit N] [-sort ORDER] [-q] [-json]",
		"Lists your conversations with the app, the most recently updated first."},
	"messages": {"messages [-newest] [-json] CONVERSATION",
		"Prints the messages of a conversation as a transcript, oldest first."},
	"rename": {"rename CONVERSATION NAME | rename -auto CONVERSATION",
		"Gives a conversation a new name, or lets the app choose one (-auto)."},
	"delete": {"delete CONVERSATION",
		"Deletes a conversation and its messages."},
	"run": {"run [-i NAME=VALUE]... [-workflow ID] [-type TYPE] [-json]",
		"Runs a workflow app's workflow with the inputs given by -i, shows the nodes' progress on stderr and prints the run's outputs as JSON (-json: the whole result)."},
	"complete": {"complete [-i NAME=VALUE]... [-type TYPE] [-json] [QUERY]",
		"Asks a completion (text generator) app for a completion of QUERY and its -i inputs, and streams the text to stdout."},
	"upload": {"upload [-json] FILE",
		"Uploads a file for use in chat messages and prints its upload id."},
	"stop": {"stop TASK_ID",
		"Asks the server to stop the run of a task (the task_id that chat -json prints); the server does not say whether the run was still going."},
	"relay": {"relay [-addr HOST:PORT] [-origins LIST]",
		"Serves a chat web page and, under /v1/, a relay that gives browsers the app without its API key (a demo fake app when DIFY_API_KEY is unset)."},
	"version": {"version",
		"Prints the version of chatflow, of the library and of Go."},
	"help": {"help [COMMAND]",
		"Prints the usage of chatflow, or of COMMAND."},
}

// printCommandHelp writes the usage line of command name, the sentence on
// what it does, and the flags of fs (when not nil).
func printCommandHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h, ok := commandHelp[name]
	if !ok {
		h.usage = name + " [flags] [arguments]"
	}
	fmt.Fprintf(w, "Usage: chatflow %s\n", h.usage)
	if h.does != "" {
		fmt.Fprintf(w, "\n%s\n", h.does)
	}
	if fs == nil {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
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
	"run":           {runCommand, 0},      // a run may take long; Ctrl-C stops it
	"complete":      {completeCommand, 0}, // likewise
	"stop":          {stopCommand, defaultTimeout},
	"relay":         {relayCommand, 0}, // serves until Ctrl-C
}

// globals are the settings every command shares.
type globals struct {
	key, baseURL, user string
	json               bool
	timeout            time.Duration
	// hardDeadline is when the command must have ended, the stop of an
	// abandoned run included (zero: no -timeout).
	hardDeadline time.Time

	e       env
	client  *chatflow.Client // set by connect
	cleanup func()           // ends what connect started
}

// register defines the flags every command takes on fs; timeout is the
// default of -timeout.
func (g *globals) register(fs *flag.FlagSet, timeout time.Duration) {
	fs.StringVar(&g.key, "key", "", "API key (default $DIFY_API_KEY)")
	fs.StringVar(&g.baseURL, "base-url", "", "Service API base URL (default $DIFY_BASE_URL)")
	fs.StringVar(&g.user, "user", "", "end-user id (default $DIFY_USER or chatflow-cli)")
	fs.BoolVar(&g.json, "json", false, "print JSON for scripts")
	fs.DurationVar(&g.timeout, "timeout", timeout, "give up after this long, stopping a run included (0: no limit)")
}

// connect builds the API client from flags and environment and sets
// g.client; with no key it connects to the demo server and says so on
// stderr, once. Commands call it after checking their arguments, so that a
// usage error starts no demo server.
func (g *globals) connect(ctx context.Context) error {
	if g.client != nil {
		return nil
	}
	e := g.e
	key := firstNonEmpty(g.key, e.getenv("DIFY_API_KEY"))
	base := firstNonEmpty(g.baseURL, e.getenv("DIFY_BASE_URL"))
	g.user = firstNonEmpty(g.user, e.getenv("DIFY_USER"), "chatflow-cli")
	cleanup := func() {}
	if key == "" {
		if base != "" {
			return errors.New("chatflow: DIFY_BASE_URL (or -base-url) is set but DIFY_API_KEY (or -key) is not")
		}
		if e.demo == nil {
			srv := chatflowtest.NewServer()
			fmt.Fprintf(e.stderr, "DIFY_API_KEY is not set: using a built-in fake Dify server at %s (demo mode)\n", srv.URL)
			key, base, cleanup = srv.APIKey, srv.URL, srv.Close
		} else {
			d, err := e.demo(ctx, e)
			if err != nil {
				return fmt.Errorf("chatflow: demo mode: %w", err)
			}
			key, base = d.Key, d.URL
			if d.Started {
				fmt.Fprintf(e.stderr, "DIFY_API_KEY is not set: started a demo server (a fake Dify) in the background at %s, pid %d (demo mode; it keeps your conversations until \"chatflow demo reset\" or an idle hour)\n", base, d.PID)
			} else {
				fmt.Fprintf(e.stderr, "DIFY_API_KEY is not set: using the demo fake Dify server at %s (demo mode; \"chatflow demo reset\" starts it over)\n", base)
			}
		}
	}
	opts := []chatflow.Option{chatflow.WithUserAgent("chatflow-cli/" + chatflow.Version)}
	if base != "" {
		opts = append(opts, chatflow.WithBaseURL(base))
	}
	c, err := chatflow.NewClient(key, opts...)
	if err != nil {
		cleanup()
		return err
	}
	g.client, g.cleanup = c, cleanup
	return nil
}

// close ends what connect started (the in-process demo server).
func (g *globals) close() {
	if g.cleanup != nil {
		g.cleanup()
	}
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
		if rest != "" && rest != te.Error() && rest != strings.TrimPrefix(te.Error(), "chatflow: ") {
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
	// After the first Ctrl-C the command winds down (stopping its run, for
	// a bounded while); a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], env{
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		tty:    isTerminal(os.Stdout) && isTerminal(os.Stderr),
		demo:   connectDemo,
	}))
}
