package chatflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/paging"
	"github.com/difykit/chatflow/internal/sse"
	"github.com/difykit/chatflow/internal/transport"
)

// This file holds the requests about workflow runs, which the streams make
// as well as the public methods: opening a stream (StreamMessage,
// WorkflowEvents, and a stream that reattaches to its run or looks for its
// task, in resume.go and autostop.go), stopping a run's task, a run's state
// and the log of runs.

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
}

// openStream sends a request whose reply is an event stream, through the
// same doer as every other call (auth, editors, route check, retries,
// *APIError for a non-2xx reply), and wraps the reply in a Stream.
func (c *Client) openStream(ctx context.Context, user string, opts streamOpts, send func(context.Context) (*http.Response, error)) (*Stream, error) {
	if ctx == nil {
		return nil, errors.New("chatflow: nil context")
	}
	autoStop := opts.autoStop && !c.cfg.NoAutoStop
	sctx, scancel := context.WithCancelCause(ctx)
	connParent := sctx
	if autoStop {
		// The connection outlives the caller's context: a stream given up
		// before its task id is known is read on for it (see abandon).
		connParent = context.WithoutCancel(sctx)
	}
	cctx, cancel := context.WithCancelCause(connParent)
	sent := time.Now()
	var resp *http.Response
	var err error
	if autoStop {
		resp, err = c.sendOrGiveUp(sctx, cctx, cancel, user, opts, send)
	} else {
		resp, err = send(transport.WithStreamReply(cctx))
	}
	if err != nil {
		if errors.Is(err, errGaveUp) {
			cancel = func(error) {} // the connection is the background's now
		}
		cancel(nil)
		scancel(nil)
		return nil, err
	}
	headers := time.Now()
	var method, where string
	if r := resp.Request; r != nil {
		method, where = r.Method, transport.RedactURL(r.URL.String())
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "text/event-stream" {
		e := &APIError{}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, transport.ErrBodyReadLimit))
		_ = resp.Body.Close()
		cancel(nil)
		scancel(nil)
		transport.DecodeErrorBody(e, body, ct)
		c.tr.ScrubError(e)
		err := fmt.Errorf("%w: %d reply with Content-Type %q: %s [%s %s]", ErrNotEventStream,
			resp.StatusCode, ct, transport.Shorten(e.Message, transport.ErrMessageShort), method, where)
		if rerr != nil {
			// The page stalled or was cut: say so, and let errors.Is find
			// ErrIdleTimeout or the context's error.
			err = fmt.Errorf("%w; reading it: %w", err, rerr)
		}
		return nil, err
	}
	s := c.wrapStream(ctx, sctx, scancel, cctx, cancel, resp, user, opts)
	s.timing.Sent, s.timing.Headers = sent, headers
	return s, nil
}

// wrapStream makes the Stream of resp, an event stream; sctx is the
// stream's context (a child of ctx, the caller's), cctx the connection's.
func (c *Client) wrapStream(ctx, sctx context.Context, scancel context.CancelCauseFunc, cctx context.Context, cancel context.CancelCauseFunc, resp *http.Response, user string, opts streamOpts) *Stream {
	var method, where string
	if r := resp.Request; r != nil {
		method, where = r.Method, transport.RedactURL(r.URL.String())
	}
	s := newStream(cctx, cancel, resp.Body, c.cfg.MaxEventBytes)
	s.sctx, s.scancel = sctx, scancel
	s.client, s.user, s.parent = c, user, ctx
	s.method, s.url = method, where
	s.maxReply = c.cfg.MaxReplyBytes
	if id := resp.Header.Get("X-Workflow-Run-ID"); id != "" {
		s.runID.Store(&id)
	}
	if opts.resume && !c.cfg.NoResume {
		s.rs = newResumeState()
		s.reattachCfg = opts.reattach
	}
	if opts.autoStop && !c.cfg.NoAutoStop {
		s.autoStop = true
		hr := newHandoffReader(resp.Body)
		s.hr.Store(hr)
		s.dec = sse.NewDecoder(hr, c.cfg.MaxEventBytes, knownTypes)
		s.segMu.Lock()
		s.stopAfter = context.AfterFunc(ctx, func() { s.abandon(false) })
		s.segMu.Unlock()
	}
	return s
}

// sent is the outcome of a request whose caller may give up on it.
type sent struct {
	resp *http.Response
	err  error
}

// sendOrGiveUp sends a request that starts a run, and waits for its reply
// or for the end of sctx, whichever comes first. Dify sends the reply's
// headers with the run's first event, so a caller who gives up while
// waiting for them may have started a run: the reply is then awaited in
// the background, for a few seconds at most, and its run stopped once an
// event carries the task id (as for a stream abandoned before its first
// event, see WithAutoStop).
func (c *Client) sendOrGiveUp(sctx, cctx context.Context, cancel context.CancelCauseFunc, user string, opts streamOpts, send func(context.Context) (*http.Response, error)) (*http.Response, error) {
	if cause := context.Cause(sctx); cause != nil {
		return nil, fmt.Errorf("chatflow: %w", cause) // nothing sent
	}
	var answered atomic.Bool // the reply's first byte came
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { answered.Store(true) }}
	replies := make(chan sent, 1)
	go func() {
		resp, err := send(transport.WithStreamReply(httptrace.WithClientTrace(cctx, trace)))
		replies <- sent{resp, err}
	}()
	select {
	case r := <-replies:
		return r.resp, r.err
	case <-sctx.Done():
	}
	cause := context.Cause(sctx)
	if answered.Load() {
		// The reply is being read (an error reply, say): end it as usual.
		cancel(cause)
		r := <-replies
		return r.resp, r.err
	}
	go func() {
		t := time.AfterFunc(readAheadTimeout, func() { cancel(errAbandoned) })
		r := <-replies
		t.Stop()
		if r.err != nil {
			cancel(nil)
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.resp.Header.Get("Content-Type")); mt != "text/event-stream" {
			_ = r.resp.Body.Close()
			cancel(nil)
			return
		}
		// A stream nobody reads: Close reads on for the task id and stops
		// the run, in the background.
		bg := context.WithoutCancel(sctx)
		s := c.wrapStream(bg, bg, func(error) {}, cctx, cancel, r.resp, user, opts)
		_ = s.Close()
	}()
	return nil, &gaveUpError{cause: cause}
}

// errGaveUp matches the error of a request the caller gave up on while
// waiting for its reply, which the background then awaits.
var errGaveUp = errors.New("chatflow: given up while waiting for the reply")

// gaveUpError is the error of a request given up on while waiting for its
// reply: it matches the caller's cause and errGaveUp.
type gaveUpError struct{ cause error }

func (e *gaveUpError) Error() string {
	return "chatflow: " + e.cause.Error() + " (while waiting for the reply; a run it started is stopped once its task id is known)"
}

func (e *gaveUpError) Unwrap() []error { return []error{e.cause, errGaveUp} }

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
