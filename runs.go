package chatflow

import (
	"context"
	"iter"
	"net/http"
	"time"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/paging"
	"github.com/difykit/chatflow/internal/stream"
	"github.com/difykit/chatflow/internal/transport"
)

// This file holds the requests about workflow runs: opening a stream
// (StreamMessage, WorkflowEvents), stopping a run's task, a run's state,
// the log of runs, and the endpoints the stream engine (internal/stream)
// asks for when it resumes or stops a stream (runEndpoints).

// workflowEventsConfig holds the flags of GET /workflow/{run}/events.
type workflowEventsConfig struct {
	noSnapshot      bool
	continueOnPause bool
	lastEventID     string // sent as Last-Event-ID: the id of the last event seen
}

// workflowEventsRequest sends GET /workflow/{run}/events.
func (c *Client) workflowEventsRequest(run, user string, cfg workflowEventsConfig) func(context.Context) (*http.Response, error) {
	params := &gen.StreamWorkflowEventsParams{User: user}
	if !cfg.noSnapshot {
		params.IncludeStateSnapshot = ptr(true)
	}
	if cfg.continueOnPause {
		params.ContinueOnPause = ptr(true)
	}
	if cfg.lastEventID == "" {
		return func(ctx context.Context) (*http.Response, error) {
			return c.raw.StreamWorkflowEvents(ctx, run, params, acceptEventStream)
		}
	}
	lastID := func(_ context.Context, req *http.Request) error {
		req.Header.Set("Last-Event-ID", cfg.lastEventID)
		return nil
	}
	return func(ctx context.Context) (*http.Response, error) {
		return c.raw.StreamWorkflowEvents(ctx, run, params, acceptEventStream, lastID)
	}
}

// acceptEventStream asks for an event stream.
func acceptEventStream(_ context.Context, req *http.Request) error {
	req.Header.Set("Accept", "text/event-stream")
	return nil
}

// streamOpts says what a stream does on its own.
type streamOpts struct {
	resume   bool                 // resume after a dropped connection (unless WithResume(false))
	autoStop bool                 // stop the run when abandoned (unless WithAutoStop(false))
	reattach workflowEventsConfig // flags of a reattach
	runID    string               // the run the stream follows, when known before the reply
	lateJoin bool                 // the stream joins a run under way (see stream.Config.LateJoin)
}

// openStream sends a request whose reply is an event stream, through the
// same doer as every other call (auth, editors, route check, retries,
// *APIError for a non-2xx reply), and wraps the reply in a Stream whose
// engine talks to the server through a runEndpoints for user.
func (c *Client) openStream(ctx context.Context, user string, opts streamOpts, send func(context.Context) (*http.Response, error)) (*Stream, error) {
	resume := opts.resume && !c.cfg.NoResume
	vocab, text := chatEvents, (*decodedText)(nil)
	if resume {
		// The resumer reads every message's text: the events yielded
		// share what it decoded.
		text = new(decodedText)
		vocab = text.vocabulary()
	}
	run, err := stream.Open(ctx, stream.Config{
		Vocabulary:    vocab,
		Server:        &runEndpoints{c: c, user: user, continueOnPause: opts.reattach.continueOnPause},
		Doer:          c.tr,
		MaxEventBytes: c.cfg.MaxEventBytes,
		Resume:        resume,
		AutoStop:      opts.autoStop && !c.cfg.NoAutoStop,
		RunID:         opts.runID,
		LateJoin:      opts.lateJoin,
	}, send)
	if err != nil {
		return nil, err
	}
	return &Stream{run: run, maxReply: c.cfg.MaxReplyBytes, text: text}, nil
}

// runEndpoints is the server as the stream engine sees it: the requests about
// one stream's run, made for the user who started it.
type runEndpoints struct {
	c               *Client
	user            string
	continueOnPause bool // of the stream's request, kept by its reattaches
}

// Reattach sends GET /workflow/{run}/events.
func (rs *runEndpoints) Reattach(ctx context.Context, runID string, opts stream.ReattachOptions) (*http.Response, error) {
	if err := transport.CheckID("workflow run id", runID); err != nil {
		return nil, err
	}
	cfg := workflowEventsConfig{noSnapshot: opts.LiveOnly, continueOnPause: rs.continueOnPause && !opts.LiveOnly, lastEventID: opts.LastEventID}
	return rs.c.workflowEventsRequest(runID, rs.user, cfg)(ctx)
}

// RunState reads GET /workflows/run/{id}; the final event rebuilt from it
// is workflow_paused for a paused run, workflow_finished otherwise.
func (rs *runEndpoints) RunState(ctx context.Context, runID string) (stream.RunState, error) {
	wr, err := rs.c.WorkflowRun(ctx, runID)
	if err != nil {
		return stream.RunState{}, err
	}
	st := stream.RunState{Status: wr.Status, Elapsed: time.Duration(float64(wr.ElapsedTime) * float64(time.Second))}
	if wr.Status == "paused" {
		st.Data = gen.WorkflowPausedEventData{WorkflowRunID: runID, Status: wr.Status, Outputs: wr.Outputs,
			CreatedAt: wr.CreatedAt, ElapsedTime: wr.ElapsedTime, TotalSteps: wr.TotalSteps, TotalTokens: wr.TotalTokens}
	} else {
		st.Data = gen.WorkflowFinishedEventData{ID: wr.ID, Status: wr.Status, Outputs: wr.Outputs, Error: wr.Error,
			ElapsedTime: wr.ElapsedTime, TotalSteps: wr.TotalSteps, TotalTokens: wr.TotalTokens,
			CreatedAt: wr.CreatedAt, FinishedAt: wr.FinishedAt}
	}
	return st, nil
}

// storedMessageScan is how many of the conversation's newest messages are
// searched for the stream's message.
const storedMessageScan = 100

// StoredAnswer finds the message among the newest messages of its
// conversation (GET /messages).
func (rs *runEndpoints) StoredAnswer(ctx context.Context, conversationID, messageID string) (string, bool) {
	n := 0
	for m, err := range rs.c.Messages(ctx, conversationID, rs.user, WithPageSize(20)) {
		if err != nil {
			return "", false
		}
		if m.ID == messageID {
			return m.Answer, true
		}
		if n++; n >= storedMessageScan {
			return "", false
		}
	}
	return "", false
}

// Stop sends POST /chat-messages/{task_id}/stop.
func (rs *runEndpoints) Stop(ctx context.Context, taskID string) error {
	return rs.c.StopMessage(ctx, taskID, rs.user)
}

// StopMessage asks the server to stop generating the answer of the
// streaming task taskID (the task_id of the stream's live events, not the
// workflow run id) started for user. A stopped run's stream ends with
// message_end and a workflow_finished whose status is "stopped"; the stored
// message keeps the partial answer. The server answers 200 for any task:
// one that has already ended, never existed or belongs to another user is
// silently left alone, so a nil error does not prove that a run stopped.
func (c *Client) StopMessage(ctx context.Context, taskID, user string) error {
	if err := transport.CheckID("task id", taskID); err != nil {
		return err
	}
	return transport.CheckSuccess(c.raw.StopChatMessageGeneration(ctx, taskID, gen.StopChatMessageGenerationJSONRequestBody{User: user}))
}

// WorkflowLogFilter narrows WorkflowLogs; nil fields are not sent.
type WorkflowLogFilter struct {
	// Keyword matches the runs' inputs and outputs.
	Keyword *string
	// Status keeps the runs with this status (the server accepts only
	// succeeded, failed and stopped as a filter).
	Status *WorkflowLogStatus
	// CreatedAtBefore and CreatedAtAfter bound the runs' start time.
	CreatedAtBefore, CreatedAtAfter *time.Time
	// CreatedByEndUserSessionID keeps the runs of one end user (the user
	// string the client sent).
	CreatedByEndUserSessionID *string
	// CreatedByAccount keeps the runs started by one console account.
	CreatedByAccount *string
}

// WorkflowRun returns the state, inputs, outputs and figures of a workflow
// run (the workflow_run_id of a stream's workflow events).
func (c *Client) WorkflowRun(ctx context.Context, workflowRunID string) (*WorkflowRun, error) {
	if err := transport.CheckID("workflow run id", workflowRunID); err != nil {
		return nil, err
	}
	return transport.DecodeJSON[WorkflowRun](c.raw.GetWorkflowRunDetail(ctx, workflowRunID))
}

// WorkflowLogs yields the app's workflow log entries, newest first, page
// by page (page numbers). filter may be nil; WithKeyword overrides its
// Keyword and WithPageSize sets the page size. A single page is
// c.API().GetWorkflowLogsWithResponse.
func (c *Client) WorkflowLogs(ctx context.Context, filter *WorkflowLogFilter, opts ...ListOption) iter.Seq2[WorkflowLog, error] {
	cfg := paging.NewConfig(opts)
	var base gen.GetWorkflowLogsParams
	if f := filter; f != nil {
		base = gen.GetWorkflowLogsParams{Keyword: f.Keyword, Status: f.Status, CreatedAtBefore: f.CreatedAtBefore,
			CreatedAtAfter: f.CreatedAtAfter, CreatedByEndUserSessionID: f.CreatedByEndUserSessionID, CreatedByAccount: f.CreatedByAccount}
	}
	if cfg.Keyword != "" {
		base.Keyword = &cfg.Keyword
	}
	fetch := func(ctx context.Context, page int) ([]WorkflowLog, bool, error) {
		params := base
		params.Page, params.Limit = &page, &cfg.PageSize
		r, err := transport.DecodeJSON[gen.WorkflowLogsResponse](c.raw.GetWorkflowLogs(ctx, &params))
		if err != nil {
			return nil, false, err
		}
		return r.Data, r.HasMore, nil
	}
	return paging.Numbered(ctx, 1, fetch, func(l *WorkflowLog) string { return l.ID })
}
