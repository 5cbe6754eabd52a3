package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// DecodeJSON decodes the JSON reply of a generated call (whose non-2xx
// replies a Doer already turned into errors) into a T, and closes the
// body. The body is read whole (the reply limit bounds it) into a pooled
// buffer and unmarshalled; encoding/json's Decoder would buffer the whole
// value as well, in a buffer of its own for every reply. A body that is not
// exactly one JSON value, or whose reading failed, is decoded again with a
// Decoder over the same bytes and read error: the first value is taken as
// it was before (trailing bytes, or an error after the value, are
// ignored), and a cut value is io.ErrUnexpectedEOF.
func DecodeJSON[T any](resp *http.Response, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	buf := replyBufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledReply {
			replyBufs.Put(buf)
		}
	}()
	*buf, err = readBody((*buf)[:0], resp.Body)
	if err == nil {
		_ = resp.Body.Close() // read to its end: nothing to drain
	} else {
		defer func() { _ = DrainClose(resp) }()
	}
	v := new(T)
	if err == nil && json.Unmarshal(*buf, v) == nil {
		return v, nil
	}
	var rd io.Reader = bytes.NewReader(*buf)
	if err != nil {
		rd = io.MultiReader(rd, errReader{err})
	}
	v = new(T)
	if err = json.NewDecoder(rd).Decode(v); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, decodeError(resp, err)
	}
	return v, nil
}

// replyBufs holds the buffers DecodeJSON reads bodies into; those larger
// than maxPooledReply are left to the garbage collector.
var replyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledReply = 64 << 10

// errReader is a reader that fails with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// readBody appends what r holds, up to its end, to b.
func readBody(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// CheckSuccess reads the reply of an operation whose 2xx reply carries no
// data: no body (204, or an empty 200) or a JSON value such as
// {"result":"success"}. Anything else, such as a proxy's HTML page with
// status 200, is an error: the request may not have reached Dify.
func CheckSuccess(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer func() { _ = DrainClose(resp) }()
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	var v json.RawMessage
	switch err := json.NewDecoder(resp.Body).Decode(&v); err {
	case nil, io.EOF:
		return nil
	default:
		return decodeError(resp, err)
	}
}

// decodeError describes a 2xx reply whose body could not be decoded.
func decodeError(resp *http.Response, err error) error {
	what := "reply"
	if r := resp.Request; r != nil && r.URL != nil {
		what = "reply to " + r.Method + " " + RedactURL(r.URL.String())
	}
	return fmt.Errorf("chatflow: decode %s (status %d, %s): %w", what, resp.StatusCode, resp.Header.Get("Content-Type"), err)
}

// DrainClose discards what is left of a reply body (bounded) and closes it,
// so the connection can be reused.
func DrainClose(resp *http.Response) error {
	_, _ = io.CopyN(io.Discard, resp.Body, ErrBodyReadLimit)
	return resp.Body.Close()
}

// ErrReplyTooLarge is returned while reading a reply body that is larger
// than the reply limit (Config.MaxReplyBytes).
var ErrReplyTooLarge = errors.New("chatflow: reply body exceeds the size limit")

// binaryReply marks the context of a request whose reply is a file the
// caller copies out (audio, file preview): its size is not limited, even
// when the file happens to be JSON.
type binaryReply struct{}

// WithBinaryReply marks ctx as the context of a request whose reply is a
// file the caller copies out: its size is not limited.
func WithBinaryReply(ctx context.Context) context.Context {
	return context.WithValue(ctx, binaryReply{}, true)
}

// streamReply marks the context of a request whose reply is an event
// stream: the doer hands its body over unread and unlimited (the stream
// decoder bounds each event), and no http.Client Timeout cuts it.
type streamReply struct{}

// WithStreamReply marks ctx as the context of a request whose reply is an
// event stream: Do hands its body over unread and unlimited, and no
// http.Client Timeout cuts it.
func WithStreamReply(ctx context.Context) context.Context {
	return context.WithValue(ctx, streamReply{}, true)
}

func isStreamReply(ctx context.Context) bool { return ctx.Value(streamReply{}) != nil }

// limitBody makes reading a reply fail once it exceeds max bytes, whatever
// its Content-Type says: a reply that claims to be text/event-stream is
// limited too when it is read whole (by a generated call). Only binary
// replies (audio, file previews) and the library's own streams (requests
// marked by WithStreamReply, which the doer hands over before this) are
// not limited. resp's body is the attempt that send made of it, which
// enforces the limit (see attempt.Read).
func limitBody(req *http.Request, resp *http.Response, max int64) *http.Response {
	if max > 0 && req.Context().Value(binaryReply{}) == nil {
		resp.Body.(*attempt).setLimit(max)
	}
	return resp
}
