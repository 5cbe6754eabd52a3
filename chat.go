package chatflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

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
// The stream is bound to ctx: cancelling it ends the stream at once. It
// also ends when nothing arrives for the idle timeout (WithIdleTimeout);
// an http.Client Timeout set with WithHTTPClient does not apply to streams.
// Read the stream with Events or Collect, or Close it.
func (c *Client) StreamMessage(ctx context.Context, req ChatRequest) (*Stream, error) {
	req.ResponseMode = gen.ChatRequestResponseModeStreaming
	if req.Inputs == nil {
		req.Inputs = map[string]any{}
	}
	hreq, err := gen.NewSendChatMessageRequest(c.server, req)
	if err != nil {
		return nil, fmt.Errorf("chatflow: %w", err)
	}
	return c.openStream(ctx, hreq, req.User)
}

// SendMessage sends a chat message and returns the whole reply. It streams
// under the hood and collects the stream (see Stream.Collect), because
// proxies in front of Dify, Dify Cloud's among them, cut blocking requests
// off after about 100 seconds, which a long workflow run easily exceeds. The
// generated blocking call stays available as SendChatMessageWithResponse
// with ResponseMode blocking.
//
// On an error during the stream, SendMessage returns what it has gathered
// together with the error (see Collect).
func (c *Client) SendMessage(ctx context.Context, req ChatRequest) (*Reply, error) {
	s, err := c.StreamMessage(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.Collect()
}

// WorkflowEvents follows the events of a workflow run (GET
// /workflow/{workflow_run_id}/events), for example to reattach after a
// dropped connection or to follow a run that resumed after its human input
// form was submitted. user must be the end user who started the run. The
// stream is read like the one of StreamMessage.
func (c *Client) WorkflowEvents(ctx context.Context, workflowRunID, user string) (*Stream, error) {
	if err := checkID("workflow run id", workflowRunID); err != nil {
		return nil, err
	}
	hreq, err := gen.NewStreamWorkflowEventsRequest(c.server, workflowRunID, &gen.StreamWorkflowEventsParams{User: user})
	if err != nil {
		return nil, fmt.Errorf("chatflow: %w", err)
	}
	return c.openStream(ctx, hreq, user)
}

// openStream sends a request whose reply is an event stream.
func (c *Client) openStream(ctx context.Context, req *http.Request, user string) (*Stream, error) {
	if ctx == nil {
		return nil, errors.New("chatflow: nil context")
	}
	sctx, cancel := context.WithCancelCause(ctx)
	req = req.WithContext(sctx)
	req.Header.Set("Accept", "text/event-stream")
	if err := c.applyEditors(sctx, req); err != nil {
		cancel(nil)
		return nil, err
	}
	if err := checkRequestPath(req, c.server); err != nil {
		cancel(nil)
		return nil, err
	}
	resp, err := c.streamClient().send(req)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := c.apiError(req, resp)
		cancel(nil)
		return nil, e
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "text/event-stream" {
		e := &APIError{}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyReadLimit))
		_ = resp.Body.Close()
		cancel(nil)
		decodeErrorBody(e, body, ct)
		c.scrubError(e)
		return nil, fmt.Errorf("%w: %d reply with Content-Type %q: %s [%s %s]", ErrNotEventStream,
			resp.StatusCode, ct, shorten(e.Message, errMessageShort), req.Method, redactURL(req.URL.String()))
	}
	s := newStream(sctx, cancel, resp.Body, c.cfg.maxEventBytes, c.cfg.idleTimeout)
	s.client, s.user = c, user
	s.method, s.url = req.Method, redactURL(req.URL.String())
	return s, nil
}

// streamClient returns c, or when c's http.Client has a Timeout (which
// would cut every stream after that time), a copy of c whose http.Client
// is a shallow copy with no Timeout.
func (c *Client) streamClient() *Client {
	if c.hc == nil || c.hc.Timeout == 0 {
		return c
	}
	hc := *c.hc
	hc.Timeout = 0
	cc := *c
	cc.hc = &hc
	return &cc
}
