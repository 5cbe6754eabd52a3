package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/difykit/chatflow/chatflowtest"
)

// runServe implements "chatflow serve": it runs the fake Dify server, a
// chatflow app or the app type -mode names, until ctx ends (SIGINT/SIGTERM
// in main) and returns the exit code.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chatflow serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address `host:port` (port 0 picks a free port)")
	key := fs.String("key", "", "API key the server accepts (default: a random app-... key)")
	ping := fs.Duration("ping", 10*time.Second, "interval of pings in streams that wait")
	mode := fs.String("mode", chatflowtest.ModeAdvancedChat, "app `mode` to play: "+strings.Join(chatflowtest.Modes(), ", "))
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: chatflow serve [-addr HOST:PORT] [-key KEY] [-ping DURATION] [-mode MODE]")
		fmt.Fprintln(stderr, "\nRuns a fake Dify Service API (a chatflow app, or the app type -mode names) until interrupted, for tests and demos.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chatflow serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if !slices.Contains(chatflowtest.Modes(), *mode) {
		fmt.Fprintf(stderr, "chatflow serve: unknown -mode %q (want one of %s)\n", *mode, strings.Join(chatflowtest.Modes(), ", "))
		return 2
	}
	opts := []chatflowtest.Option{chatflowtest.WithPingInterval(*ping), chatflowtest.WithMode(*mode)}
	if err := chatflowtest.ListenAndServe(ctx, *addr, *key, stdout, opts...); err != nil {
		fmt.Fprintf(stderr, "chatflow serve: %v\n", err)
		return 1
	}
	return 0
}
