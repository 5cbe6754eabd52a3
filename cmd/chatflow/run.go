package main

// chatflow run (workflow apps) and chatflow complete (completion apps).
//
// Both find the app's type with GET /info unless -type names it, and say
// which command fits when the key is of another app type. In demo mode (no
// DIFY_API_KEY) each starts a fake Dify of its app type in-process for the
// one command: the background demo server plays a chatflow app, and runs
// and completions keep nothing worth keeping between commands.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/completion"
	"github.com/difykit/chatflow/workflow"
)

// commandForMode names the command that talks to an app of mode m.
func commandForMode(m string) string {
	switch m {
	case chatflowtest.ModeWorkflow:
		return "chatflow run"
	case chatflowtest.ModeCompletion:
		return "chatflow complete"
	}
	return "chatflow chat"
}

// appConn is what run and complete connect with.
type appConn struct {
	key, base string
	opts      []chatflow.Option
	close     func()
}

// appInputs checks the files of parsed, connects to the app (of type mode
// in demo mode; see connectApp) and resolves the inputs, uploading file
// inputs with the chatflow client of the same key (the upload endpoint is
// shared). The caller closes the returned connection.
func (g *globals) appInputs(ctx context.Context, e env, parsed inputList, mode, appType string) (*appConn, map[string]any, error) {
	if err := parsed.checkFiles(); err != nil {
		return nil, nil, err
	}
	ac, err := g.connectApp(ctx, mode, appType)
	if err != nil {
		return nil, nil, err
	}
	if parsed.hasFiles() {
		g.key, g.baseURL = ac.key, ac.base
		if err := g.connect(ctx); err != nil {
			ac.close()
			return nil, nil, err
		}
	}
	values, err := parsed.resolve(ctx, g, e)
	if err != nil {
		ac.close()
		return nil, nil, err
	}
	return ac, values, nil
}

// connectApp resolves the key, base URL and user like connect, but in demo
// mode starts an in-process fake app of mode; unless appType is given, it
// checks the app's mode with GET /info.
func (g *globals) connectApp(ctx context.Context, mode, appType string) (*appConn, error) {
	e := g.e
	key := firstNonEmpty(g.key, e.getenv("DIFY_API_KEY"))
	base := firstNonEmpty(g.baseURL, e.getenv("DIFY_BASE_URL"))
	g.user = firstNonEmpty(g.user, e.getenv("DIFY_USER"), "chatflow-cli")
	ac := &appConn{close: func() {}}
	if key == "" {
		if base != "" {
			return nil, errors.New("chatflow: DIFY_BASE_URL (or -base-url) is set but DIFY_API_KEY (or -key) is not")
		}
		srv := chatflowtest.NewServer(chatflowtest.WithMode(mode))
		fmt.Fprintf(e.stderr, "DIFY_API_KEY is not set: using a built-in fake Dify %s app at %s (demo mode)\n", mode, srv.URL)
		key, base, ac.close = srv.APIKey, srv.URL, srv.Close
	}
	ac.key, ac.base = key, base
	ac.opts = []chatflow.Option{chatflow.WithUserAgent("chatflow-cli/" + chatflow.Version)}
	if base != "" {
		ac.opts = append(ac.opts, chatflow.WithBaseURL(base))
	}
	if appType == "" {
		c, err := chatflow.NewClient(key, ac.opts...)
		if err != nil {
			ac.close()
			return nil, err
		}
		info, err := c.AppInfo(ctx)
		if err != nil {
			ac.close()
			return nil, fmt.Errorf("chatflow: reading the app's type (GET /info; -type skips it): %w", err)
		}
		appType = info.Mode
	}
	if appType != "" && appType != mode {
		ac.close()
		return nil, fmt.Errorf("chatflow: the key is of a %s app, not a %s app: use %s", appType, mode, commandForMode(appType))
	}
	return ac, nil
}

// runCommand runs a workflow app's workflow.
func runCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	var inputs listFlag
	fs.Var(&inputs, "i", "an input variable: name=text, name=@file or name:=JSON (repeatable)")
	version := fs.String("workflow", "", "run this published workflow version (its id) instead of the latest")
	appType := fs.String("type", "", "the app's type, when known (default: asked with GET /info)")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 0 {
			return usageError("run takes no arguments: give the inputs with -i")
		}
		parsed, err := parseInputs(inputs)
		if err != nil {
			return usageError(err.Error())
		}
		ac, values, err := g.appInputs(ctx, e, parsed, chatflowtest.ModeWorkflow, *appType)
		if err != nil {
			return err
		}
		defer ac.close()
		c, err := workflow.NewClient(ac.key, ac.opts...)
		if err != nil {
			return err
		}
		s, err := c.StreamRun(ctx, workflow.RunRequest{Inputs: values, User: g.user, WorkflowID: *version})
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx)
			}
			return err
		}
		res, err := collectRun(s, e)
		if ctx.Err() != nil {
			// The stream stopped the run in the background: let the stop out.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = s.WaitStop(wctx)
			cancel()
			return interrupted(ctx)
		}
		if res != nil && res.Paused {
			for _, f := range res.Forms {
				fmt.Fprintf(e.stderr, "paused: waiting for human input form %s (%s); the run is %s\n", f.Token, f.NodeTitle, res.RunID)
			}
		}
		if g.json {
			if perr := printJSON(e.stdout, res); perr != nil {
				return perr
			}
		} else if res != nil && res.Outputs != nil {
			if perr := printJSON(e.stdout, res.Outputs); perr != nil {
				return perr
			}
		}
		if err != nil {
			return err
		}
		if res.Status == "failed" {
			return fmt.Errorf("chatflow: the run failed: %s", res.Error)
		}
		return nil
	}
}

// collectRun gathers a run, with its nodes' progress on stderr.
func collectRun(s *workflow.Stream, e env) (*workflow.Result, error) {
	// The events that make the Result are kept and folded in at the end.
	var kept []workflow.Event
	var err error
	for ev, e2 := range s.Events() {
		if e2 != nil {
			err = e2
			break
		}
		switch ev.Name() {
		case chatflow.EventNodeStarted:
			if n, nerr := ev.NodeStarted(); nerr == nil && n.Data != nil {
				fmt.Fprintf(e.stderr, "▸ %s\n", nodeName(n.Data.Title, n.Data.NodeType))
			}
		case chatflow.EventNodeFinished:
			if n, nerr := ev.NodeFinished(); nerr == nil && n.Data != nil {
				fmt.Fprintf(e.stderr, "  %s %s (%.2fs)\n", n.Data.Status, nodeName(n.Data.Title, n.Data.NodeType), n.Data.ElapsedTime)
			}
		case chatflow.EventWorkflowFinished, chatflow.EventWorkflowPaused, chatflow.EventHumanInputRequired:
			kept = append(kept, ev)
		}
	}
	res := &workflow.Result{}
	for _, ev := range kept {
		if aerr := res.Add(ev); aerr != nil && err == nil {
			err = aerr
		}
	}
	res.RunID, res.TaskID, res.Resumed = s.RunID(), s.TaskID(), s.Resumed()
	if res.Status != "" {
		fmt.Fprintf(e.stderr, "run %s: %s\n", res.RunID, res.Status)
	}
	return res, err
}

// nodeName is a node's title, or its type when it has none.
func nodeName(title, typ string) string {
	if strings.TrimSpace(title) != "" {
		return title
	}
	return typ
}

// completeCommand asks a completion app for a completion.
func completeCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	var inputs listFlag
	fs.Var(&inputs, "i", "an input variable: name=text, name=@file or name:=JSON (repeatable)")
	appType := fs.String("type", "", "the app's type, when known (default: asked with GET /info)")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		parsed, err := parseInputs(inputs)
		if err != nil {
			return usageError(err.Error())
		}
		if len(args) == 0 && len(parsed) == 0 {
			return usageError("give a query, or the app's inputs with -i")
		}
		ac, values, err := g.appInputs(ctx, e, parsed, chatflowtest.ModeCompletion, *appType)
		if err != nil {
			return err
		}
		defer ac.close()
		c, err := completion.NewClient(ac.key, ac.opts...)
		if err != nil {
			return err
		}
		s, err := c.StreamCompletion(ctx, completion.Request{Inputs: values, User: g.user, Query: strings.Join(args, " ")})
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx)
			}
			return err
		}
		var answer strings.Builder
		var res completion.Result
		var streamErr error
		for ev, err := range s.Events() {
			if err != nil {
				streamErr = err
				break
			}
			switch ev.Name() {
			case chatflow.EventMessage:
				answer.WriteString(ev.Text())
				if !g.json {
					fmt.Fprint(e.stdout, ev.Text())
				}
			case chatflow.EventMessageReplace:
				if m, rerr := ev.MessageReplace(); rerr == nil {
					answer.Reset()
					answer.WriteString(m.Answer)
					if !g.json {
						fmt.Fprintf(e.stdout, "\n[replaced: %s]\n%s", m.Reason, m.Answer)
					}
				}
			case chatflow.EventMessageEnd:
				if m, merr := ev.MessageEnd(); merr == nil {
					res.MessageID = m.ID
					if m.Metadata != nil {
						res.Usage = m.Metadata.Usage
					}
				}
			}
		}
		res.Answer, res.TaskID = answer.String(), s.TaskID()
		if ctx.Err() != nil {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = s.WaitStop(wctx)
			cancel()
			return interrupted(ctx)
		}
		if g.json {
			if err := printJSON(e.stdout, res); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(e.stdout)
		}
		return streamErr
	}
}

// hasFiles reports whether an input is a file to upload.
func (l inputList) hasFiles() bool {
	for _, in := range l {
		if in.file != "" {
			return true
		}
	}
	return false
}
