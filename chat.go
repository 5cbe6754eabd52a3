package chatflow

import (
	"context"
	"net/http"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
)

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
	if err := transport.CheckID("workflow run id", workflowRunID); err != nil {
		return nil, err
	}
	var cfg workflowEventsConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	// A stream of WorkflowEvents joins a run under way: at the run's end
	// its answer is reconciled with the stored one (see above).
	return c.openStream(ctx, user, streamOpts{resume: true, reattach: cfg, runID: workflowRunID, lateJoin: true}, c.workflowEventsRequest(workflowRunID, user, cfg))
}
