package stream

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/sse"
	"github.com/difykit/chatflow/internal/transport"
)

// Event is one event of a stream: its name and its JSON object as the
// server sent it (Vocabulary.PingData for a keep-alive).
type Event struct {
	Name string
	Data string
}

// conn is one connection of a stream: a reply body read as server-sent
// events. Its fields do not change; a resume replaces the whole conn.
type conn struct {
	body   io.ReadCloser
	events *sse.Decoder
	ctx    context.Context // the request's context
	cancel context.CancelCauseFunc
	// handoff lets the connection be read on after the caller gave the
	// stream up before its task id was known (nil without auto-stop, and
	// for the connections of a resume).
	handoff *handoffReader
}

// newConn reads events from body, whose request's context ctx cancel
// cancels. With handoff, reads go through a handoffReader.
func newConn(ctx context.Context, cancel context.CancelCauseFunc, body io.ReadCloser, maxEventBytes int, names map[string]string, handoff bool) *conn {
	c := &conn{body: body, ctx: ctx, cancel: cancel}
	var rd io.Reader = body
	if handoff {
		c.handoff = newHandoffReader(body)
		rd = c.handoff
	}
	c.events = sse.NewDecoder(rd, maxEventBytes, names)
	return c
}

// close cuts the connection with cause.
func (c *conn) close(cause error) {
	c.cancel(cause)
	_ = c.body.Close()
}

// cut reports whether the connection was cancelled.
func (c *conn) cut() bool { return context.Cause(c.ctx) != nil }

// reply is what opening a connection learnt of the reply.
type reply struct {
	method, url string // of the request, for errors (the URL redacted)
	sent, in    time.Time
	header      http.Header
}

// dial sends a request whose reply is an event stream, with a context
// that life ends (or, with outlive, only until the reply's headers are
// in: the connection then outlives life, for the read ahead for the task
// id, see abandon). It checks that the reply is an event stream.
func dial(life context.Context, outlive bool, cfg *Config, send func(context.Context) (*http.Response, error)) (*conn, reply, error) {
	parent := life
	if outlive {
		parent = context.WithoutCancel(life)
	}
	ctx, cancel := context.WithCancelCause(parent)
	unlink := func() bool { return true }
	if outlive {
		// Until the headers arrive, life ends the request as usual.
		unlink = context.AfterFunc(life, func() { cancel(context.Cause(life)) })
	}
	r := reply{sent: time.Now()}
	resp, err := send(transport.WithStreamReply(ctx))
	unlink() // from now on, abandon decides
	return cfg.accept(ctx, cancel, resp, err, r, outlive)
}

// accept makes the connection of resp, the reply (or err, the error) of a
// request sent at r.sent with context ctx, which cancel cancels. With
// handoff, the connection can be handed to a background read.
func (cfg *Config) accept(ctx context.Context, cancel context.CancelCauseFunc, resp *http.Response, err error, r reply, handoff bool) (*conn, reply, error) {
	if err != nil {
		cancel(nil)
		return nil, r, err
	}
	r.in, r.header = time.Now(), resp.Header
	if req := resp.Request; req != nil {
		r.method, r.url = req.Method, transport.RedactURL(req.URL.String())
	}
	if err := cfg.checkEventStream(resp, r); err != nil {
		cancel(nil)
		return nil, r, err
	}
	return newConn(ctx, cancel, resp.Body, cfg.MaxEventBytes, cfg.Vocabulary.Names, handoff), r, nil
}

// checkEventStream returns an error wrapping ErrNotEventStream (and
// closes the body) when resp is not an event stream.
func (cfg *Config) checkEventStream(resp *http.Response, r reply) error {
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt == "text/event-stream" {
		return nil
	}
	e := &transport.APIError{}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, transport.ErrBodyReadLimit))
	_ = resp.Body.Close()
	transport.DecodeErrorBody(e, body, ct)
	cfg.scrub(e)
	err := fmt.Errorf("%w: %d reply with Content-Type %q: %s [%s %s]", ErrNotEventStream,
		resp.StatusCode, ct, transport.Shorten(e.Message, transport.ErrMessageShort), r.method, r.url)
	if rerr != nil {
		// The page stalled or was cut: say so, and let errors.Is find
		// ErrIdleTimeout or the context's error.
		err = fmt.Errorf("%w; reading it: %w", err, rerr)
	}
	return err
}

// next returns the connection's next event, and its SSE id; ok is false
// for an event to skip (empty data, "[DONE]"). Names come from the JSON's
// "event" field, else from the SSE event field.
func (c *conn) next(v *Vocabulary) (ev Event, id string, ok bool, err error) {
	raw, err := c.events.Next()
	if err != nil {
		return Event{}, "", false, err
	}
	if !raw.HasData { // Dify's ping
		return Event{Name: v.Ping, Data: v.PingData}, raw.ID, true, nil
	}
	data := jsonscan.TrimSpace(raw.Data)
	if data == "" || data == "[DONE]" {
		return Event{}, "", false, nil // not sent by Dify; harmless
	}
	if data[0] != '{' || data[len(data)-1] != '}' {
		return Event{}, "", false, &incompleteError{detail: "event data is not a JSON object: " + transport.Shorten(data, 80)}
	}
	if v.Name != nil {
		ev = Event{Name: v.Name(data), Data: data}
	} else {
		ev = Event{Name: jsonscan.EventName(data, v.Names), Data: data}
	}
	if ev.Name == "" {
		ev.Name = raw.Type
	}
	return ev, raw.ID, true, nil
}
