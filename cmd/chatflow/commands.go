package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/internal/filekind"
)

// signalContext is cancelled by Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// progress is the part of a workflow or node event the chat command shows.
type progress struct {
	Event          string `json:"event"`
	TaskID         string `json:"task_id"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	Answer         string `json:"answer"`
	Reason         string `json:"reason"` // of message_replace
	Data           struct {
		Title       string  `json:"title"`
		NodeType    string  `json:"node_type"`
		Status      string  `json:"status"`
		ElapsedTime float64 `json:"elapsed_time"`
		Error       string  `json:"error"`
		FormToken   string  `json:"form_token"`
	} `json:"data"`
}

// stopTimeout bounds what chat does after Ctrl-C: reading on until an
// event brings the task id, and the stop request (-timeout may leave less).
const stopTimeout = 5 * time.Second

// screen writes the answer to stdout and progress lines to stderr. When both
// are one terminal, a progress line that follows answer text starts on a
// line of its own; otherwise stdout gets the answer untouched.
type screen struct {
	e       env
	midLine bool // the answer text left the cursor inside a line
}

func (s *screen) answer(text string) {
	if text == "" {
		return
	}
	fmt.Fprint(s.e.stdout, text)
	s.midLine = !strings.HasSuffix(text, "\n")
}

func (s *screen) progressf(format string, args ...any) {
	if s.midLine && s.e.tty {
		fmt.Fprintln(s.e.stdout)
		s.midLine = false
	}
	fmt.Fprintf(s.e.stderr, format, args...)
}

// endAnswer ends the answer's last line.
func (s *screen) endAnswer() {
	if s.midLine {
		fmt.Fprintln(s.e.stdout)
		s.midLine = false
	}
}

func chatCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	conv := fs.String("c", "", `conversation id to continue ("last": the most recent one)`)
	var inputs listFlag
	fs.Var(&inputs, "i", "an input variable: name=text, name=@file or name:=JSON (repeatable)")
	var files listFlag
	fs.Var(&files, "f", "a file to upload and attach (repeatable)")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) == 0 {
			return usageError("a query is required")
		}
		parsed, err := parseInputs(inputs)
		if err != nil {
			return usageError(err.Error())
		}
		if err := parsed.checkFiles(); err != nil {
			return err
		}
		for _, path := range files {
			if err := checkFile(path); err != nil {
				return fmt.Errorf("chatflow: -f %s: %w", path, err)
			}
		}
		if err := g.connect(ctx); err != nil {
			return err
		}
		convID, err := resolveConversation(ctx, g, *conv)
		if err != nil {
			return err
		}
		values, err := parsed.resolve(ctx, g, e)
		if err != nil {
			return err
		}
		req := chatflow.ChatRequest{
			Query:          strings.Join(args, " "),
			Inputs:         values,
			User:           g.user,
			ConversationID: convID,
		}
		for _, path := range files {
			up, err := uploadPath(ctx, g, path)
			if err != nil {
				return err
			}
			req.Files = append(req.Files, chatflow.InputFile{
				UploadFileID: up.ID, Type: fileType(path), TransferMethod: chatflow.TransferMethodLocalFile,
			})
			fmt.Fprintf(e.stderr, "uploaded %s as %s\n", filepath.Base(path), up.ID)
		}
		if ctx.Err() != nil {
			return interrupted(ctx)
		}
		// The stream lives on for a bounded while after Ctrl-C or
		// -timeout, so that a run interrupted before its first event can
		// still be stopped: the stop needs the task id, which only an event
		// of the run carries.
		wctx, endWindDown := g.windDown(ctx)
		defer endWindDown()
		s, err := g.client.StreamMessage(wctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return interrupted(ctx)
			}
			return err
		}
		defer s.Close()
		// Interrupted while the task id is known: cut the stream off, which
		// makes the library stop the run. Otherwise the loop below reads on
		// until an event brings the task id.
		watchDone := make(chan struct{})
		unwatch := context.AfterFunc(ctx, func() {
			defer close(watchDone)
			if s.TaskID() != "" {
				s.Close()
			}
		})
		defer func() {
			if !unwatch() {
				<-watchDone
			}
		}()
		scr := &screen{e: e}
		var last progress
		var answer strings.Builder
		reportedResume := false
		var streamErr error
		gaveUp := false
		for ev, err := range s.Events() {
			if err != nil {
				streamErr = err
				break
			}
			if ctx.Err() != nil {
				if s.TaskID() != "" {
					gaveUp = true
					break // the library stops the run of a stream given up
				}
				continue // print nothing more; read on for the task id
			}
			var p progress
			if err := json.Unmarshal(ev.Raw(), &p); err != nil {
				continue
			}
			if p.ConversationID != "" {
				last.ConversationID = p.ConversationID
			}
			if p.MessageID != "" {
				last.MessageID = p.MessageID
			}
			if p.TaskID != "" && last.TaskID == "" {
				last.TaskID = p.TaskID
			}
			switch ev.Name() {
			case "message", "agent_message":
				answer.WriteString(p.Answer)
				if !g.json {
					scr.answer(p.Answer)
				}
			case "message_replace":
				answer.Reset()
				answer.WriteString(p.Answer)
				if p.Reason == chatflow.ReasonResumed {
					// Text sent while the connection was down is lost;
					// this is the answer the server stored.
					reportedResume = true
					scr.progressf("connection dropped; resumed (the whole answer follows)\n")
				}
				if !g.json {
					scr.endAnswer()
					if p.Reason != chatflow.ReasonResumed {
						scr.progressf("[answer replaced]\n")
					}
					scr.answer(p.Answer)
				}
			case "workflow_started":
				scr.progressf("▶ workflow started (task %s)\n", p.TaskID)
			case "node_started":
				scr.progressf("  ▷ %s (%s)\n", p.Data.Title, p.Data.NodeType)
			case "node_finished":
				scr.progressf("  ✓ %s %s in %.2fs\n", p.Data.Title, p.Data.Status, p.Data.ElapsedTime)
			case "workflow_finished":
				scr.progressf("■ workflow %s in %.2fs\n", p.Data.Status, p.Data.ElapsedTime)
			case "human_input_required":
				scr.progressf("⏸ waiting for human input (form token %s)\n", p.Data.FormToken)
			}
		}
		if ctx.Err() != nil {
			if !g.json {
				scr.endAnswer()
			}
			if gaveUp || streamErr != nil { // else the run ended by itself
				s.Close()
				stopAbandoned(wctx, s, e)
			}
			return interrupted(ctx)
		}
		if streamErr != nil {
			if !g.json {
				scr.endAnswer()
			}
			return streamErr
		}
		if s.Resumed() && !reportedResume {
			scr.progressf("connection dropped; resumed\n")
		}
		if taskID := s.TaskID(); taskID != "" {
			last.TaskID = taskID
		}
		if g.json {
			return printJSON(e.stdout, map[string]string{
				"answer":          answer.String(),
				"conversation_id": last.ConversationID,
				"message_id":      last.MessageID,
				"task_id":         last.TaskID,
			})
		}
		scr.endAnswer()
		if last.ConversationID != "" {
			fmt.Fprintf(e.stderr, "conversation: %s  (continue with: chatflow chat -c %s \"...\")\n", last.ConversationID, last.ConversationID)
		}
		return nil
	}
}

// windDown returns a context that outlives ctx by at most stopTimeout (and
// ends no later than -timeout allows), with ctx's cause: the time a command
// interrupted by Ctrl-C or -timeout has to stop the run it started.
func (g *globals) windDown(ctx context.Context) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	var (
		mu    sync.Mutex
		timer *time.Timer
	)
	unwatch := context.AfterFunc(ctx, func() {
		d := stopTimeout
		if !g.hardDeadline.IsZero() {
			d = min(d, time.Until(g.hardDeadline))
		}
		mu.Lock()
		defer mu.Unlock()
		if wctx.Err() == nil { // not ended already
			timer = time.AfterFunc(d, func() { cancel(context.Cause(ctx)) })
		}
	})
	return wctx, func() {
		unwatch()
		mu.Lock()
		defer mu.Unlock()
		cancel(context.Canceled)
		if timer != nil {
			timer.Stop()
		}
	}
}

// interrupted is the error of a command that Ctrl-C or -timeout ended.
func interrupted(ctx context.Context) error {
	cause := context.Cause(ctx)
	var te errTimeout
	if errors.As(cause, &te) {
		return cause
	}
	return fmt.Errorf("chatflow: interrupted: %w", cause)
}

// stopAbandoned waits, within wctx, until the library has stopped the run
// of a stream given up on (Ctrl-C or -timeout) and says what happened. The
// library learns the task id the stop needs from the run's first event if
// none had come yet; the server answers a stop request the same whether or
// not the run was still going.
func stopAbandoned(wctx context.Context, s *chatflow.Stream, e env) {
	fmt.Fprintln(e.stderr, "stopping the run on the server...")
	err := s.WaitStop(wctx)
	task := s.TaskID()
	switch {
	case task == "":
		fmt.Fprintln(e.stderr, "could not stop the run: none of its events brought its task id in time")
	case err != nil:
		fmt.Fprintf(e.stderr, "stop requested for task %s; no answer in time\n", task)
	default:
		fmt.Fprintf(e.stderr, "stop requested for task %s\n", task)
	}
}

// fileType guesses Dify's file type (document, image, audio, video or
// custom) from a file name, by the extension lists Dify itself uses (so
// .webm is a video, as the server and chatflowtest count it).
func fileType(path string) chatflow.FileType {
	return chatflow.FileType(filekind.Of(path))
}

// checkFile reports an error unless path names a file that can be read,
// before anything is sent.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	return nil
}

func uploadPath(ctx context.Context, g *globals, path string) (*chatflow.FileUpload, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return g.client.UploadFile(ctx, g.user, filepath.Base(path), f)
}

// lastConversation is the CONVERSATION argument that names the user's most
// recently updated conversation.
const lastConversation = "last"

// resolveConversation turns "last" into the id of the user's most recently
// updated conversation; any other id is returned as it is.
func resolveConversation(ctx context.Context, g *globals, id string) (string, error) {
	if id != lastConversation {
		return id, nil
	}
	for conv, err := range g.client.Conversations(ctx, g.user, chatflow.WithSortBy(chatflow.SortByUpdatedAtDesc), chatflow.WithPageSize(1)) {
		if err != nil {
			return "", err
		}
		return conv.ID, nil
	}
	return "", fmt.Errorf("chatflow: user %q has no conversations yet (start one with: chatflow chat \"Hello\")", g.user)
}

// sortOrders are the values of conversations -sort.
var sortOrders = map[string]chatflow.SortBy{
	"created_at":  chatflow.SortByCreatedAt,
	"-created_at": chatflow.SortByCreatedAtDesc,
	"updated_at":  chatflow.SortByUpdatedAt,
	"-updated_at": chatflow.SortByUpdatedAtDesc,
}

func conversationsCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	limit := fs.Int("limit", 20, "how many conversations to show (0: all)")
	sortBy := fs.String("sort", "-updated_at", "order: -updated_at, updated_at, -created_at or created_at")
	quiet := fs.Bool("q", false, "print only the ids, one a line")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 0 {
			return usageError("no arguments expected")
		}
		order, ok := sortOrders[*sortBy]
		if !ok {
			return usageError(fmt.Sprintf("-sort %q: want -updated_at, updated_at, -created_at or created_at", *sortBy))
		}
		if *limit < 0 {
			return usageError("-limit must not be negative")
		}
		if err := g.connect(ctx); err != nil {
			return err
		}
		all := []chatflow.Conversation{}
		for conv, err := range g.client.Conversations(ctx, g.user, chatflow.WithSortBy(order)) {
			if err != nil {
				return err
			}
			all = append(all, conv)
			if *limit > 0 && len(all) >= *limit {
				break
			}
		}
		switch {
		case g.json:
			return printJSON(e.stdout, all)
		case *quiet:
			for _, c := range all {
				fmt.Fprintln(e.stdout, c.ID)
			}
			return nil
		}
		if len(all) == 0 {
			fmt.Fprintf(e.stderr, "no conversations yet for user %q\n", g.user)
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tUPDATED")
		for _, c := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.ID, c.Name, unixTime(c.UpdatedAt))
		}
		return tw.Flush()
	}
}

func messagesCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	newest := fs.Bool("newest", false, "newest message first (default: oldest first, like a transcript)")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 1 {
			return usageError("a conversation id is required")
		}
		if err := g.connect(ctx); err != nil {
			return err
		}
		convID, err := resolveConversation(ctx, g, args[0])
		if err != nil {
			return err
		}
		all := []chatflow.Message{}
		for m, err := range g.client.Messages(ctx, convID, g.user) { // newest first
			if err != nil {
				return err
			}
			all = append(all, m)
		}
		if !*newest {
			slices.Reverse(all)
		}
		if g.json {
			return printJSON(e.stdout, all)
		}
		for _, m := range all {
			fmt.Fprintf(e.stdout, "[%s] %s\n> %s\n%s\n\n", unixTime(m.CreatedAt), m.ID, m.Query, m.Answer)
		}
		return nil
	}
}

func renameCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	auto := fs.Bool("auto", false, "let the app generate the name")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) < 1 || (len(args) < 2) == !*auto {
			return usageError("a conversation id and a new name, or -auto and a conversation id, are required")
		}
		if err := g.connect(ctx); err != nil {
			return err
		}
		convID, err := resolveConversation(ctx, g, args[0])
		if err != nil {
			return err
		}
		var conv *chatflow.Conversation
		if *auto {
			conv, err = g.client.AutoRenameConversation(ctx, convID, g.user)
		} else {
			conv, err = g.client.RenameConversation(ctx, convID, g.user, strings.Join(args[1:], " "))
		}
		if err != nil {
			return err
		}
		if g.json {
			return printJSON(e.stdout, conv)
		}
		fmt.Fprintf(e.stdout, "renamed %s to %q\n", conv.ID, conv.Name)
		return nil
	}
}

func deleteCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 1 {
			return usageError("a conversation id is required")
		}
		if err := g.connect(ctx); err != nil {
			return err
		}
		convID, err := resolveConversation(ctx, g, args[0])
		if err != nil {
			return err
		}
		if err := g.client.DeleteConversation(ctx, convID, g.user); err != nil {
			return err
		}
		if g.json {
			return printJSON(e.stdout, map[string]string{"result": "deleted", "conversation_id": convID})
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", convID)
		return nil
	}
}

func uploadCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 1 {
			return usageError("a file is required")
		}
		if err := checkFile(args[0]); err != nil {
			return err
		}
		if err := g.connect(ctx); err != nil {
			return err
		}
		up, err := uploadPath(ctx, g, args[0])
		if err != nil {
			return err
		}
		if g.json {
			return printJSON(e.stdout, withoutEmpty(up))
		}
		fmt.Fprintf(e.stdout, "%s\t%s\t%d bytes\n", up.ID, up.Name, up.Size)
		return nil
	}
}

// withoutEmpty returns v as a JSON object without its null, empty-string
// and empty-container members (v itself when it is not an object).
func withoutEmpty(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return v
	}
	for k, x := range m {
		switch x := x.(type) {
		case nil:
			delete(m, k)
		case string:
			if x == "" {
				delete(m, k)
			}
		case map[string]any:
			if len(x) == 0 {
				delete(m, k)
			}
		case []any:
			if len(x) == 0 {
				delete(m, k)
			}
		}
	}
	return m
}

func stopCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 1 {
			return usageError("a task id is required")
		}
		if err := g.connect(ctx); err != nil {
			return err
		}
		if err := g.client.StopMessage(ctx, args[0], g.user); err != nil {
			return err
		}
		if g.json {
			return printJSON(e.stdout, map[string]string{"result": "success", "task_id": args[0]})
		}
		// The server answers the same whether or not the run was going.
		fmt.Fprintf(e.stdout, "stop requested for task %s\n", args[0])
		return nil
	}
}

// printVersion writes the CLI's version: the library version, and the
// module version and VCS revision when the build recorded them.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "chatflow %s%s\n", chatflow.Version, buildDetails())
}

func unixTime(sec int64) string {
	if sec == 0 {
		return "-"
	}
	return time.Unix(sec, 0).UTC().Format("2006-01-02 15:04")
}
