// Package completion is a client for the Service API of Dify text
// generator ("completion") apps: ask for a completion (streamed on the
// wire, gathered when you want one answer), stop one, and the app's
// feedback, uploads, audio and settings.
//
// It shares package chatflow's options, errors and behaviour: every
// chatflow option applies (type Option = chatflow.Option), errors are
// *chatflow.APIError and chatflow's sentinels, and a completion abandoned
// before its end is stopped on the server, once (chatflow.WithAutoStop).
// Completion apps have no endpoint to reattach to a generation: a stream
// that drops before message_end fails with an error matching
// chatflow.ErrIncompleteStream, never a silent partial answer.
//
//	c, err := completion.NewClient(os.Getenv("DIFY_API_KEY"),
//		chatflow.WithBaseURL("https://dify.example.com/v1"))
//	res, err := c.Complete(ctx, completion.Request{Query: "Say hi", User: "u1"})
package completion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"

	"github.com/difykit/chatflow"
	gen "github.com/difykit/chatflow/gen/completion"
	"github.com/difykit/chatflow/internal/options"
	"github.com/difykit/chatflow/internal/stream"
	"github.com/difykit/chatflow/internal/transport"
)

// Option configures a Client: every option of package chatflow.
type Option = chatflow.Option

// Event is one event of a completion's stream: message (a piece of the
// answer), message_replace, message_end, message_file, tts_message, ...
// Its Name and typed accessors are chatflow's.
type Event = chatflow.Event

// Client talks to one Dify completion app. It is safe for concurrent use.
type Client struct {
	raw  *gen.Client
	api  *gen.ClientWithResponses
	tr   *transport.Doer
	cfg  options.Config
	chat *chatflow.Client // the operations shared with chatflow apps
}

// NewClient returns a client of the completion app whose API key is apiKey.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	cfg, tr, err := options.New(apiKey, opts, apiRoutes)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, tr: tr}
	c.raw, err = gen.NewClient(tr.BaseURL(), gen.WithHTTPClient(tr), gen.WithRequestEditorFn(tr.Edit))
	if err != nil {
		return nil, fmt.Errorf("chatflow: %w", err)
	}
	c.api = &gen.ClientWithResponses{ClientInterface: c.raw}
	if c.chat, err = chatflow.NewClient(apiKey, opts...); err != nil {
		return nil, err
	}
	return c, nil
}

// API returns the generated client of the completion app's operations.
func (c *Client) API() *gen.ClientWithResponses { return c.api }

// BaseURL returns the base URL the client sends its requests to.
func (c *Client) BaseURL() string { return c.tr.BaseURL() }

// String describes the client without its API key.
func (c *Client) String() string { return "completion.Client(" + c.tr.BaseURL() + ")" }

// GoString is String, so that %#v shows no key either.
func (c *Client) GoString() string { return c.String() }

// Request is a completion to ask for.
type Request struct {
	// Inputs are the app's input variables by name; nil is sent as {}.
	Inputs map[string]any
	// User is your id for the end user (required by the server).
	User string
	// Query is the text to work on, for apps that read it from the
	// request (newer apps read their inputs).
	Query string
	// Files are files attached to the request, uploaded or by URL.
	Files []chatflow.InputFile
}

// Result is a gathered completion.
type Result struct {
	// Answer is the generated text: the message events joined, or the
	// text of the last message_replace and what followed it.
	Answer string `json:"answer"`
	// MessageID is the stored message's id (for SendFeedback).
	MessageID string `json:"message_id"`
	// TaskID is the generation's task id.
	TaskID string `json:"task_id"`
	// Usage is the token and price account of message_end.
	Usage chatflow.Usage `json:"usage"`
	// RetrieverResources are the knowledge passages the answer cites.
	RetrieverResources []chatflow.RetrieverResource `json:"retriever_resources,omitempty"`
}

// Complete asks for a completion and gathers it. The request streams on
// the wire. An error event ends it with an *chatflow.APIError; a stream
// that ends before message_end fails with an error matching
// chatflow.ErrIncompleteStream. On an error, the Result holds what came.
func (c *Client) Complete(ctx context.Context, req Request) (*Result, error) {
	s, err := c.StreamCompletion(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.Collect()
}

// StreamCompletion asks for a completion and returns its event stream
// (always response_mode streaming).
func (c *Client) StreamCompletion(ctx context.Context, req Request) (*Stream, error) {
	body := gen.CompletionRequest{Inputs: req.Inputs, User: req.User, Query: req.Query,
		ResponseMode: gen.CompletionRequestResponseModeStreaming}
	if body.Inputs == nil {
		body.Inputs = map[string]any{}
	}
	for _, f := range req.Files {
		body.Files = append(body.Files, gen.InputFile{Type: gen.FileType(f.Type), TransferMethod: gen.TransferMethod(f.TransferMethod),
			URL: f.URL, UploadFileID: f.UploadFileID})
	}
	st, err := stream.Open(ctx, stream.Config{
		Vocabulary:    completionEvents,
		Server:        &endpoints{c: c, user: req.User},
		Doer:          c.tr,
		MaxEventBytes: c.cfg.MaxEventBytes,
		AutoStop:      !c.cfg.NoAutoStop,
	}, func(ctx context.Context) (*http.Response, error) {
		return c.raw.CreateCompletionMessage(ctx, body, acceptEventStream)
	})
	if err != nil {
		return nil, err
	}
	return &Stream{s: st}, nil
}

// completionEvents is what the stream engine knows of a completion's
// events: it ends at message_end; message carries the text and
// message_replace replaces it.
var completionEvents = &stream.Vocabulary{
	Ping:      chatflow.EventPing,
	PingData:  `{"event":"ping"}`,
	Error:     chatflow.EventError,
	Terminal:  []string{chatflow.EventMessageEnd},
	AnswerEnd: chatflow.EventMessageEnd,
	Text: map[string]func(string) string{
		chatflow.EventMessage: func(data string) string { return chatflow.ParseEvent([]byte(data)).Text() },
	},
	Replace: chatflow.EventMessageReplace,
	ReplaceText: func(data string) (string, bool) {
		m, err := chatflow.ParseEvent([]byte(data)).MessageReplace()
		return m.Answer, err == nil
	},
}

// errNoReattach says that completion apps cannot be reattached to.
var errNoReattach = errors.New("chatflow: completion apps have no endpoint to reattach to a generation")

// endpoints is the server as the stream engine sees it: a completion can
// be stopped, not reattached to.
type endpoints struct {
	c    *Client
	user string
}

// Reattach fails: completion apps have no reattach endpoint.
func (e *endpoints) Reattach(context.Context, string, stream.ReattachOptions) (*http.Response, error) {
	return nil, errNoReattach
}

// RunState fails: a completion is not a workflow run.
func (e *endpoints) RunState(context.Context, string) (stream.RunState, error) {
	return stream.RunState{}, errNoReattach
}

// StoredAnswer finds nothing (the stream never resumes).
func (e *endpoints) StoredAnswer(context.Context, string, string) (string, bool) { return "", false }

// Stop sends POST /completion-messages/{task_id}/stop.
func (e *endpoints) Stop(ctx context.Context, taskID string) error {
	return e.c.StopCompletion(ctx, taskID, e.user)
}

// acceptEventStream asks for an event stream.
func acceptEventStream(_ context.Context, req *http.Request) error {
	req.Header.Set("Accept", "text/event-stream")
	return nil
}

// StopCompletion asks the server to stop a generation by its task id;
// user must be the user who asked. The server answers success even when
// nothing was stopped.
func (c *Client) StopCompletion(ctx context.Context, taskID, user string) error {
	if err := transport.CheckID("task id", taskID); err != nil {
		return err
	}
	return transport.CheckSuccess(c.raw.StopGenerate(ctx, taskID, gen.StopGenerateJSONRequestBody{User: user}))
}

// Stream is the event stream of a completion. Read it once, with Events
// or Collect. It closes itself at its end; Close before message_end stops
// the generation on the server (unless chatflow.WithAutoStop(false)), as
// do a break out of Events and the context's end: one stop request, with
// the request's user.
type Stream struct {
	s *stream.Stream
}

// Events yields the completion's events in order, pings included. It
// yields at most one error and then stops: an *chatflow.APIError for an
// error event, or an error matching chatflow.ErrIncompleteStream when the
// stream ended before message_end. Breaking out of the loop closes the
// stream (and stops an unfinished generation). The events can be read once.
func (s *Stream) Events() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for ev, err := range s.s.Events() {
			if err != nil {
				yield(Event{}, err)
				return
			}
			if !yield(chatflow.ParseEvent([]byte(ev.Data)), nil) {
				return
			}
		}
	}
}

// WaitStop waits until the stop request that abandoning the stream sent
// in the background has ended, or ctx is done.
func (s *Stream) WaitStop(ctx context.Context) error { return s.s.WaitStop(ctx) }

// Collect reads the stream to its end and gathers the Result; on an error
// it returns what it gathered with the error.
func (s *Stream) Collect() (*Result, error) {
	r := &Result{}
	var answer strings.Builder
	var err error
	for ev, e := range s.Events() {
		if e != nil {
			err = e
			break
		}
		switch ev.Name() {
		case chatflow.EventMessage:
			answer.WriteString(ev.Text())
		case chatflow.EventMessageReplace:
			m, e := ev.MessageReplace()
			if e != nil {
				err = e
			} else {
				answer.Reset()
				answer.WriteString(m.Answer)
			}
		case chatflow.EventMessageEnd:
			m, e := ev.MessageEnd()
			if e != nil {
				err = e
			} else {
				if m.ID != "" {
					r.MessageID = m.ID
				}
				if m.Metadata != nil {
					r.Usage, r.RetrieverResources = m.Metadata.Usage, m.Metadata.RetrieverResources
				}
			}
		}
		if err != nil {
			break
		}
		if r.MessageID == "" {
			var v struct {
				MessageID string `json:"message_id"`
				ID        string `json:"id"`
			}
			if jsonErr := json.Unmarshal(ev.Raw(), &v); jsonErr == nil {
				r.MessageID = v.MessageID
			}
		}
	}
	r.Answer = answer.String()
	r.TaskID = s.TaskID()
	return r, err
}

// Close ends the stream and releases its connection; before message_end
// it stops the generation. It may be called more than once.
func (s *Stream) Close() error { return s.s.Close() }

// TaskID returns the generation's task id, once an event carried it.
func (s *Stream) TaskID() string { return s.s.TaskID() }

// Stop asks the server to stop the generation now, with the request's
// user. It fails with an error matching chatflow.ErrInvalidID while no
// event has carried the task id.
func (s *Stream) Stop(ctx context.Context) error { return s.s.Stop(ctx) }
