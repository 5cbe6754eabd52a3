package chatflowtest

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// emitter writes the events of a run as server-sent events (or, for a
// blocking request, only collects the answer).
type emitter struct {
	ctx       context.Context
	cfg       *config
	w         http.ResponseWriter
	streaming bool
	cut       *streamCut

	answer   string           // the answer so far
	events   []map[string]any // every event of the run
	sent     int              // data events written
	ended    bool             // the stream was cut short (EndStreamAfter / CutStreamAfter)
	aborted  bool             // ... and the connection must be dropped
	stopped  bool             // the task was stopped
	terminal bool             // terminal events are being sent
}

// gone reports whether nothing more can be written: the stream was cut or
// the client went away.
func (e *emitter) gone() bool {
	return e.ended || e.ctx.Err() != nil
}

func (e *emitter) send(ev map[string]any) {
	e.events = append(e.events, ev)
	if !e.streaming || e.gone() {
		return
	}
	if e.cut != nil && e.sent >= e.cut.after {
		e.ended = true
		e.aborted = e.cut.abort
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	buf := make([]byte, 0, len(b)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	if _, err := e.w.Write(buf); err != nil {
		e.ended = true
		return
	}
	e.sent++
	e.flush()
}

func (e *emitter) ping() {
	if !e.streaming || e.gone() {
		return
	}
	if _, err := e.w.Write([]byte("event: ping\n\n")); err != nil {
		e.ended = true
		return
	}
	e.flush()
}

func (e *emitter) flush() {
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}

// wait pauses for d between events, sending pings at the configured
// interval meanwhile. It returns false when the run must not go on: the task
// was stopped (e.stopped is set), the stream was cut or the client left.
func (e *emitter) wait(d time.Duration, stop <-chan struct{}) bool {
	select {
	case <-stop:
		e.stopped = true
		return false
	default:
	}
	if e.gone() {
		return false
	}
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	var tick <-chan time.Time
	if e.streaming {
		t := time.NewTicker(e.cfg.pingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-timer.C:
			return true
		case <-tick:
			e.ping()
		case <-stop:
			e.stopped = true
			return false
		case <-e.ctx.Done():
			return false
		}
	}
}
