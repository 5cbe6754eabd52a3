package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/gen"
)

// signalContext is cancelled by Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// kvList collects repeated -i key=value flags.
type kvList map[string]any

func (kv kvList) String() string { return fmt.Sprint(map[string]any(kv)) }

func (kv kvList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	kv[k] = v
	return nil
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
	Data           struct {
		Title       string  `json:"title"`
		NodeType    string  `json:"node_type"`
		Status      string  `json:"status"`
		ElapsedTime float64 `json:"elapsed_time"`
		Error       string  `json:"error"`
		FormToken   string  `json:"form_token"`
	} `json:"data"`
}

func chatCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	conv := fs.String("c", "", "conversation id to continue")
	inputs := kvList{}
	fs.Var(inputs, "i", "an input variable key=value (repeatable)")
	var files listFlag
	fs.Var(&files, "f", "a file to upload and attach (repeatable)")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) == 0 {
			return usageError("a query is required")
		}
		req := chatflow.ChatRequest{
			Query:          strings.Join(args, " "),
			Inputs:         inputs,
			User:           g.user,
			ConversationID: *conv,
		}
		for _, path := range files {
			up, err := uploadPath(ctx, g, path)
			if err != nil {
				return err
			}
			req.Files = append(req.Files, chatflow.InputFile{
				Type:           fileType(path),
				TransferMethod: gen.ChatRequestFilesTransferMethodLocalFile,
				UploadFileID:   up.ID,
			})
			fmt.Fprintf(e.stderr, "uploaded %s as %s\n", filepath.Base(path), up.ID)
		}
		s, err := g.c.StreamMessage(ctx, req)
		if err != nil {
			return err
		}
		defer s.Close()
		var last progress
		var answer strings.Builder
		for ev, err := range s.Events() {
			if err != nil {
				if answer.Len() > 0 && !g.json {
					fmt.Fprintln(e.stdout)
				}
				return err
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
			if p.TaskID != "" {
				last.TaskID = p.TaskID
			}
			switch ev.Name() {
			case "message", "agent_message":
				answer.WriteString(p.Answer)
				if !g.json {
					fmt.Fprint(e.stdout, p.Answer)
				}
			case "message_replace":
				answer.Reset()
				answer.WriteString(p.Answer)
				if !g.json {
					fmt.Fprintf(e.stdout, "\n[answer replaced] %s", p.Answer)
				}
			case "workflow_started":
				fmt.Fprintf(e.stderr, "▶ workflow started (task %s)\n", p.TaskID)
			case "node_started":
				fmt.Fprintf(e.stderr, "  ▷ %s (%s)\n", p.Data.Title, p.Data.NodeType)
			case "node_finished":
				fmt.Fprintf(e.stderr, "  ✓ %s %s in %.2fs\n", p.Data.Title, p.Data.Status, p.Data.ElapsedTime)
			case "workflow_finished":
				fmt.Fprintf(e.stderr, "■ workflow %s in %.2fs\n", p.Data.Status, p.Data.ElapsedTime)
			case "human_input_required":
				fmt.Fprintf(e.stderr, "⏸ waiting for human input (form token %s)\n", p.Data.FormToken)
			}
		}
		if g.json {
			return printJSON(e.stdout, map[string]string{
				"answer":          answer.String(),
				"conversation_id": last.ConversationID,
				"message_id":      last.MessageID,
				"task_id":         last.TaskID,
			})
		}
		fmt.Fprintln(e.stdout)
		if last.ConversationID != "" {
			fmt.Fprintf(e.stderr, "conversation: %s  (continue with: chatflow chat -c %s \"...\")\n", last.ConversationID, last.ConversationID)
		}
		return nil
	}
}

// fileType guesses Dify's file type from a file name.
func fileType(path string) gen.ChatRequestFilesType {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg":
		return gen.ChatRequestFilesTypeImage
	case ".mp3", ".m4a", ".wav", ".webm", ".amr", ".mpga":
		return gen.ChatRequestFilesTypeAudio
	case ".mp4", ".mov", ".mpeg":
		return gen.ChatRequestFilesTypeVideo
	case ".txt", ".md", ".markdown", ".pdf", ".html", ".xlsx", ".xls", ".docx", ".csv", ".eml", ".msg", ".pptx", ".ppt", ".xml", ".epub":
		return gen.ChatRequestFilesTypeDocument
	}
	return gen.ChatRequestFilesTypeCustom
}

func uploadPath(ctx context.Context, g *globals, path string) (*chatflow.FileUpload, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return g.c.UploadFile(ctx, g.user, filepath.Base(path), f)
}

func conversationsCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	limit := fs.Int("limit", 20, "how many conversations to show (0: all)")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		var all []chatflow.Conversation
		for conv, err := range g.c.Conversations(ctx, g.user) {
			if err != nil {
				return err
			}
			all = append(all, conv)
			if *limit > 0 && len(all) >= *limit {
				break
			}
		}
		if g.json {
			return printJSON(e.stdout, all)
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
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 1 {
			return usageError("a conversation id is required")
		}
		var all []chatflow.Message
		for m, err := range g.c.Messages(ctx, args[0], g.user) {
			if err != nil {
				return err
			}
			all = append(all, m)
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
		if len(args) < 1 || (len(args) < 2 && !*auto) {
			return usageError("a conversation id and a new name (or -auto) are required")
		}
		body := gen.ConversationRenameRequest{User: g.user, AutoGenerate: *auto}
		if len(args) > 1 {
			body.Name = strings.Join(args[1:], " ")
		}
		resp, err := g.c.RenameConversationWithResponse(ctx, args[0], body)
		if err != nil {
			return err
		}
		if resp.JSON200 == nil {
			return fmt.Errorf("chatflow: rename: unexpected reply %s", resp.Status())
		}
		if g.json {
			return printJSON(e.stdout, resp.JSON200)
		}
		fmt.Fprintf(e.stdout, "renamed %s to %q\n", resp.JSON200.ID, resp.JSON200.Name)
		return nil
	}
}

func deleteCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 1 {
			return usageError("a conversation id is required")
		}
		if err := g.c.DeleteConversation(ctx, args[0], g.user); err != nil {
			return err
		}
		if g.json {
			return printJSON(e.stdout, map[string]string{"result": "deleted", "conversation_id": args[0]})
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", args[0])
		return nil
	}
}

func uploadCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 1 {
			return usageError("a file is required")
		}
		up, err := uploadPath(ctx, g, args[0])
		if err != nil {
			return err
		}
		if g.json {
			return printJSON(e.stdout, up)
		}
		fmt.Fprintf(e.stdout, "%s\t%s\t%d bytes\n", up.ID, up.Name, up.Size)
		return nil
	}
}

func stopCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) != 1 {
			return usageError("a task id is required")
		}
		_, err := g.c.StopChatMessageGenerationWithResponse(ctx, args[0], gen.StopChatMessageGenerationJSONRequestBody{User: g.user})
		if err != nil {
			return err
		}
		if g.json {
			return printJSON(e.stdout, map[string]string{"result": "success", "task_id": args[0]})
		}
		fmt.Fprintf(e.stdout, "stopped %s\n", args[0])
		return nil
	}
}

func unixTime(sec int64) string {
	if sec == 0 {
		return "-"
	}
	return time.Unix(sec, 0).UTC().Format("2006-01-02 15:04")
}
