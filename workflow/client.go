// Package workflow is a client for the Service API of Dify workflow apps:
// run the app's workflow (streamed on the wire, gathered when you want one
// result), follow and stop runs, answer human-input forms, and the app's
// logs, uploads, audio and settings.
//
// It shares package chatflow's options, errors and behaviour: every
// chatflow option applies (type Option = chatflow.Option), errors are
// *chatflow.APIError and chatflow's sentinels, a dropped stream reattaches
// to the run (chatflow.WithResume) and a run abandoned before its end is
// stopped on the server, once (chatflow.WithAutoStop). A failed run is
// treated as chatflow's SendMessage treats a failed workflow: Run returns
// the Result (Status "failed", Error) with the error event that follows it
// as an *chatflow.APIError.
//
//	c, err := workflow.NewClient(os.Getenv("DIFY_API_KEY"),
//		chatflow.WithBaseURL("https://dify.example.com/v1"))
//	res, err := c.Run(ctx, workflow.RunRequest{Inputs: map[string]any{"text": "hi"}, User: "u1"})
package workflow

import (
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/difykit/chatflow"
	gen "github.com/difykit/chatflow/gen/workflow"
	"github.com/difykit/chatflow/internal/options"
	"github.com/difykit/chatflow/internal/transport"
)

// Option configures a Client: every option of package chatflow
// (chatflow.WithBaseURL, chatflow.WithResume, ...).
type Option = chatflow.Option

// Client talks to one Dify workflow app. It is safe for concurrent use.
type Client struct {
	raw  *gen.Client              // the workflow operations, unparsed
	api  *gen.ClientWithResponses // the same, typed (API)
	tr   *transport.Doer
	cfg  options.Config
	chat *chatflow.Client // the operations workflow apps share with chatflow apps
}

// NewClient returns a client of the workflow app whose API key is apiKey.
// It fails on an empty or malformed key and on bad options.
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

// API returns the generated client of the workflow app's operations, for
// what the hand-written methods do not cover.
func (c *Client) API() *gen.ClientWithResponses { return c.api }

// BaseURL returns the base URL the client sends its requests to.
func (c *Client) BaseURL() string { return c.tr.BaseURL() }

// String describes the client without its API key.
func (c *Client) String() string { return "workflow.Client(" + c.tr.BaseURL() + ")" }

// GoString is String, so that %#v shows no key either.
func (c *Client) GoString() string { return c.String() }

// RunInfo returns the state, inputs, outputs and figures of a run (GET
// /workflows/run/{id}).
func (c *Client) RunInfo(ctx context.Context, runID string) (*chatflow.WorkflowRun, error) {
	return c.chat.WorkflowRun(ctx, runID)
}

// WorkflowLogs yields the app's run log, newest first, page by page;
// filter may be nil. It is chatflow's WorkflowLogs.
func (c *Client) WorkflowLogs(ctx context.Context, filter *chatflow.WorkflowLogFilter, opts ...chatflow.ListOption) iter.Seq2[chatflow.WorkflowLog, error] {
	return c.chat.WorkflowLogs(ctx, filter, opts...)
}

// UploadFile uploads a file for a run's file inputs (streamed, not held in
// memory); pass its ID as the UploadFileID of an InputFile.
func (c *Client) UploadFile(ctx context.Context, user, filename string, r io.Reader) (*chatflow.FileUpload, error) {
	return c.chat.UploadFile(ctx, user, filename, r)
}

// EndUser returns an end user of the app.
func (c *Client) EndUser(ctx context.Context, endUserID string) (*chatflow.EndUser, error) {
	return c.chat.EndUser(ctx, endUserID)
}

// AudioToText transcribes speech (the file's name gives its type).
func (c *Client) AudioToText(ctx context.Context, user, filename string, r io.Reader) (string, error) {
	return c.chat.AudioToText(ctx, user, filename, r)
}

// TextToAudio turns text into speech (audio/mpeg); close the Download.
func (c *Client) TextToAudio(ctx context.Context, req chatflow.TextToAudioRequest) (*chatflow.Download, error) {
	return c.chat.TextToAudio(ctx, req)
}

// AppInfo returns the app's name, description, tags, mode and author.
func (c *Client) AppInfo(ctx context.Context) (*chatflow.AppInfo, error) { return c.chat.AppInfo(ctx) }

// AppParameters returns the app's input form, feature switches and upload
// limits.
func (c *Client) AppParameters(ctx context.Context) (*chatflow.AppParameters, error) {
	return c.chat.AppParameters(ctx)
}

// AppMeta returns the icons of the tools the app uses.
func (c *Client) AppMeta(ctx context.Context) (*chatflow.AppMeta, error) { return c.chat.AppMeta(ctx) }

// AppSite returns the app's web-app settings.
func (c *Client) AppSite(ctx context.Context) (*chatflow.AppSite, error) { return c.chat.AppSite(ctx) }

// HumanInputForm reads the form a paused run waits for (a token from
// Result.Forms).
func (c *Client) HumanInputForm(ctx context.Context, formToken string) (*chatflow.HumanInputForm, error) {
	return c.chat.HumanInputForm(ctx, formToken)
}

// SubmitHumanInputForm answers a form with one of its actions; the run
// then goes on: follow it with RunEvents.
func (c *Client) SubmitHumanInputForm(ctx context.Context, formToken, user, action string, inputs map[string]any) error {
	return c.chat.SubmitHumanInputForm(ctx, formToken, user, action, inputs)
}
