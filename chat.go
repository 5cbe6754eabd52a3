package chatflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/gen"
)

// ErrNotEventStream is wrapped by the error of a stream request answered
// with a 2xx status but not with text/event-stream, such as a proxy's HTML
// page or a blocking JSON reply.
var ErrNotEventStream = errors.New("chatflow: reply is not an event stream")

// StreamMessage sends a chat message and returns its reply as a stream of
// events. It sends response_mode "streaming", and inputs {} when req has
// none (the server requires them). A non-2xx reply is returned at once as an
// *APIError.
//
// The stream is bound to ctx: cancelling it ends the stream at once, and
// stops the run on the server (see WithAutoStop). It also ends when nothing
// arrives for the idle timeout (WithIdleTimeout); an http.Client Timeout set
// with WithHTTPClient does not apply to streams. When the connection drops
// before the run's end, the stream resumes from the server's record of the
// run (see WithResume). Read the stream with Events or Collect, or Close it.
func (c *Client) StreamMessage(ctx context.Context, req ChatRequest) (*Stream, error) {
	req.ResponseMode = gen.ChatRequestResponseModeStreaming
	if req.Inputs == nil {
		req.Inputs = map[string]any{}
	}
	return c.openStream(ctx, req.User, streamOpts{resume: true, autoStop: true}, func(ctx context.Context) (*http.Response, error) {
		return c.raw.SendChatMessage(ctx, req, acceptEventStream)
	})
}

// SendMessage sends a chat message and returns the whole reply. It streams
// under the hood and collects the stream (see Stream.Collect), because
// proxies in front of Dify, Dify Cloud's among them, cut blocking requests
// off after about 100 seconds, which a long workflow run easily exceeds. The
// generated blocking call stays available as c.API().SendChatMessageWithResponse
// with ResponseMode blocking.
//
// A dropped connection is resumed (Reply.Resumed then reports it, and the
// answer is the one the server stored); when ctx ends before the run does,
// the run is stopped on the server (see WithResume and WithAutoStop). On an
// error during the stream, SendMessage returns what it has gathered
// together with the error (see Collect).
func (c *Client) SendMessage(ctx context.Context, req ChatRequest) (*Reply, error) {
	s, err := c.StreamMessage(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.Collect()
}

// WorkflowEventsOption configures WorkflowEvents.
type WorkflowEventsOption func(*workflowEventsConfig)

type workflowEventsConfig struct {
	noSnapshot      bool
	continueOnPause bool
	lastEventID     string // sent as Last-Event-ID: the id of the last event seen
}

// WithStateSnapshot sets include_state_snapshot (default true): the server
// first sends the run's state (a rebuilt workflow_started, a
// message_replace with the answer stored so far, which is empty while the
// run goes on, and node events for the nodes that ran), then live events.
// Without it, a running run's stream holds only the events produced from
// then on.
func WithStateSnapshot(on bool) WorkflowEventsOption {
	return func(c *workflowEventsConfig) { c.noSnapshot = !on }
}

// WithContinueOnPause sets continue_on_pause (default false): the stream
// stays open when the run pauses for human input, through the resumed part
// of the run, instead of ending at workflow_paused.
func WithContinueOnPause(on bool) WorkflowEventsOption {
	return func(c *workflowEventsConfig) { c.continueOnPause = on }
}

// WorkflowEvents follows the events of a workflow run (GET
// /workflow/{workflow_run_id}/events), for example to reattach after a
// dropped connection or to follow a run that resumed after its human input
// form was submitted. user must be the end user who started the run (the
// server answers 404 for another user's run). The stream is read like the
// one of StreamMessage and resumes the same way; abandoning it does not
// stop the run.
//
// By default the server is asked for the run's state first
// (WithStateSnapshot). For a run that has already ended, the server sends
// a single workflow_finished without conversation or message id, whose
// answer is only in data.outputs: Collect then takes outputs.answer as the
// answer and sets Reply.AnswerFromOutputs.
//
// A run goes on while nobody follows it: after a human input form is
// submitted it may send answer text before this stream subscribes, and the
// server never sends that text again. So at the run's end the stream
// compares the text it carried with the answer the server stored (GET
// /messages) and, when they differ, yields a message_replace with reason
// ReasonResumed carrying the stored answer before the final events
// (Stream.Resumed and Reply.Resumed then report it). When the stored
// message cannot be read, Collect takes a longer outputs.answer of
// workflow_finished (Reply.AnswerFromOutputs).
func (c *Client) WorkflowEvents(ctx context.Context, workflowRunID, user string, opts ...WorkflowEventsOption) (*Stream, error) {
	if err := checkID("workflow run id", workflowRunID); err != nil {
		return nil, err
	}
	var cfg workflowEventsConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	s, err := c.openStream(ctx, user, streamOpts{resume: true, reattach: cfg}, c.workflowEventsRequest(workflowRunID, user, cfg))
	if err != nil {
		return nil, err
	}
	s.runID.Store(&workflowRunID)
	if s.rs != nil {
		// A reattach cannot prove that it carries every piece of the
		// answer: text the run sent before it subscribed (right after a
		// human input form was submitted, say) is never sent again. At
		// the run's end the answer is reconciled with the stored one.
		s.rs.reattached, s.rs.gap = true, true
	}
	return s, nil
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
	autoStop := opts.autoStop && !c.cfg.noAutoStop
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
		resp, err = send(withStreamReply(cctx))
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
		method, where = r.Method, redactURL(r.URL.String())
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "text/event-stream" {
		e := &APIError{}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, errBodyReadLimit))
		_ = resp.Body.Close()
		cancel(nil)
		scancel(nil)
		decodeErrorBody(e, body, ct)
		c.scrubError(e)
		err := fmt.Errorf("%w: %d reply with Content-Type %q: %s [%s %s]", ErrNotEventStream,
			resp.StatusCode, ct, shorten(e.Message, errMessageShort), method, where)
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
		method, where = r.Method, redactURL(r.URL.String())
	}
	s := newStream(cctx, cancel, resp.Body, c.cfg.maxEventBytes)
	s.sctx, s.scancel = sctx, scancel
	s.client, s.user, s.parent = c, user, ctx
	s.method, s.url = method, where
	s.maxReply = c.cfg.maxReplyBytes
	if id := resp.Header.Get("X-Workflow-Run-ID"); id != "" {
		s.runID.Store(&id)
	}
	if opts.resume && !c.cfg.noResume {
		s.rs = newResumeState()
		s.reattachCfg = opts.reattach
	}
	if opts.autoStop && !c.cfg.noAutoStop {
		s.autoStop = true
		hr := newHandoffReader(resp.Body)
		s.hr.Store(hr)
		s.dec = newSSEDecoder(hr, c.cfg.maxEventBytes)
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
		resp, err := send(withStreamReply(httptrace.WithClientTrace(cctx, trace)))
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
