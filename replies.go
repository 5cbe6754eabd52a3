package chatflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// decodeJSON decodes the JSON reply of a generated call (whose non-2xx
// replies the apiDoer already turned into errors) into a T, and closes the
// body. It streams the body into the decoder rather than reading it whole.
func decodeJSON[T any](resp *http.Response, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	defer func() { _ = drainClose(resp) }()
	v := new(T)
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		what := "reply"
		if r := resp.Request; r != nil && r.URL != nil {
			what = "reply to " + r.Method + " " + redactURL(r.URL.String())
		}
		return nil, fmt.Errorf("chatflow: decode %s (status %d, %s): %w", what, resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	return v, nil
}

// checkSuccess reads the reply of an operation whose 2xx reply carries no
// data: no body (204, or an empty 200) or a JSON value such as
// {"result":"success"}. Anything else, such as a proxy's HTML page with
// status 200, is an error: the request may not have reached Dify.
func checkSuccess(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer func() { _ = drainClose(resp) }()
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	var v json.RawMessage
	switch err := json.NewDecoder(resp.Body).Decode(&v); err {
	case nil, io.EOF:
		return nil
	default:
		what := "reply"
		if r := resp.Request; r != nil && r.URL != nil {
			what = "reply to " + r.Method + " " + redactURL(r.URL.String())
		}
		return fmt.Errorf("chatflow: decode %s (status %d, %s): %w", what, resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
}

// drainClose discards what is left of a reply body (bounded) and closes it,
// so the connection can be reused.
func drainClose(resp *http.Response) error {
	_, _ = io.CopyN(io.Discard, resp.Body, errBodyReadLimit)
	return resp.Body.Close()
}

// ErrReplyTooLarge is returned while reading a JSON reply body that is larger
// than the limit set by WithMaxReplyBytes.
var ErrReplyTooLarge = errors.New("chatflow: reply body exceeds the size limit")

// binaryReply marks the context of a request whose reply is a file the
// caller copies out (audio, file preview): its size is not limited, even
// when the file happens to be JSON.
type binaryReply struct{}

func withBinaryReply(ctx context.Context) context.Context {
	return context.WithValue(ctx, binaryReply{}, true)
}

// streamReply marks the context of a request whose reply is an event
// stream: the doer hands its body over unread and unlimited (the stream
// decoder bounds each event), and no http.Client Timeout cuts it.
type streamReply struct{}

func withStreamReply(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamReply{}, true)
}

func isStreamReply(ctx context.Context) bool { return ctx.Value(streamReply{}) != nil }

// limitBody makes reading a reply fail once it exceeds max bytes, whatever
// its Content-Type says: a reply that claims to be text/event-stream is
// limited too when it is read whole (by a generated call). Only binary
// replies (audio, file previews) and the library's own streams (requests
// marked by withStreamReply, which the doer hands over before this) are
// not limited.
func limitBody(req *http.Request, resp *http.Response, max int64) *http.Response {
	if max <= 0 || req.Context().Value(binaryReply{}) != nil || isStreamReply(req.Context()) {
		return resp
	}
	resp.Body = &limitedBody{rc: resp.Body, left: max, max: max}
	return resp
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Tell a body of exactly max bytes from a longer one.
		var one [1]byte
		n, err := l.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (%d bytes)", ErrReplyTooLarge, l.max)
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// Download is a binary reply (a file preview, synthesized speech) being
// streamed from the server. Read it like any io.Reader, for example with
// io.Copy into a file, and Close it when done, also on error paths: closing
// early stops the transfer.
type Download struct {
	io.ReadCloser
	// ContentType is the media type the server sent, such as "audio/mpeg".
	ContentType string
	// ContentLength is the body's length in bytes, or -1 when unknown.
	ContentLength int64
	// Filename is the file name of the Content-Disposition header, if any.
	Filename string
}

func newDownload(resp *http.Response, body io.ReadCloser) *Download {
	d := &Download{ReadCloser: body, ContentType: resp.Header.Get("Content-Type"), ContentLength: resp.ContentLength}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		d.Filename = baseName(params["filename"])
	}
	return d
}

// readCloser reads from a buffered view of a body and closes the body.
type readCloser struct {
	io.Reader
	io.Closer
}
