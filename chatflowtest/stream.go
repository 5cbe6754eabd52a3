package chatflowtest

import (
	"context"
	"net/http"
)

// emitter writes events to one HTTP reply as server-sent events.
type emitter struct {
	ctx context.Context
	w   http.ResponseWriter
	cut *streamCut

	sent    int    // data events written
	pending bool   // events written and not flushed yet
	buf     []byte // the last event's bytes, reused for the next
	ended   bool   // nothing more can be written (cut, or a write failed)
	aborted bool   // the stream was cut and the connection must be dropped
}

// gone reports whether nothing more can be written: the stream was cut or
// the client went away.
func (e *emitter) gone() bool {
	return e.ended || e.ctx.Err() != nil
}

func (e *emitter) send(ev map[string]any) {
	if e.gone() {
		return
	}
	if e.cut != nil && e.sent >= e.cut.after {
		e.flush() // what came before the cut reaches the client
		e.ended = true
		e.aborted = e.cut.abort
		return
	}
	buf, err := appendJSONObject(append(e.buf[:0], "data: "...), ev, "event")
	if err != nil {
		return
	}
	buf = append(buf, "\n\n"...)
	e.buf = buf
	if _, err := e.w.Write(buf); err != nil {
		e.ended = true
		return
	}
	e.sent++
	e.pending = true
}

// flushPending sends the events written since the last flush. Events
// that are ready together go out together, as a server's writes do when
// its reader is behind; a stream waiting for the next event has sent
// everything before.
func (e *emitter) flushPending() {
	if e.pending && !e.ended {
		e.flush()
	}
}

func (e *emitter) ping() {
	if e.gone() {
		return
	}
	if _, err := e.w.Write([]byte("event: ping\n\n")); err != nil {
		e.ended = true
		return
	}
	e.flush()
}

func (e *emitter) flush() {
	e.pending = false
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}

// startStream writes the headers of an event stream. Like Dify's, they
// leave with the first event (or ping): the first flush sends them.
func startStream(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}
