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
	return c.openStream(ctx, req.User, func(ctx context.Context) (*http.Response, error) {
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
	params := &gen.StreamWorkflowEventsParams{User: user}
	return c.openStream(ctx, user, func(ctx context.Context) (*http.Response, error) {
		return c.raw.StreamWorkflowEvents(ctx, workflowRunID, params, acceptEventStream)
	})
}

// acceptEventStream asks for an event stream.
func acceptEventStream(_ context.Context, req *http.Request) error {
	req.Header.Set("Accept", "text/event-stream")
	return nil
}

// openStream sends a request whose reply is an event stream, through the
// same doer as every other call (auth, editors, route check, retries,
// *APIError for a non-2xx reply), and wraps the reply in a Stream.
func (c *Client) openStream(ctx context.Context, user string, send func(context.Context) (*http.Response, error)) (*Stream, error) {
	if ctx == nil {
		return nil, errors.New("chatflow: nil context")
	}
	sctx, cancel := context.WithCancelCause(ctx)
	resp, err := send(withStreamReply(sctx))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	var method, where string
	if r := resp.Request; r != nil {
		method, where = r.Method, redactURL(r.URL.String())
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
			resp.StatusCode, ct, shorten(e.Message, errMessageShort), method, where)
	}
	s := newStream(sctx, cancel, resp.Body, c.cfg.maxEventBytes, c.cfg.idleTimeout)
	s.client, s.user = c, user
	s.method, s.url = method, where
	return s, nil
}
