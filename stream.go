package chatflow

import (
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrIncompleteStream matches the error of a stream that ended without a
// terminal event (message_end, workflow_finished, workflow_paused or error):
// the server or a proxy closed it early, it was cut inside an event (the
// error then also matches io.ErrUnexpectedEOF), it stayed silent for longer
// than the idle timeout (ErrIdleTimeout), its context was cancelled, or it
// was closed while being read.
var ErrIncompleteStream = errors.New("chatflow: incomplete stream")

// ErrIdleTimeout matches the error of a stream that received nothing for
// longer than the idle timeout (see WithIdleTimeout).
var ErrIdleTimeout = errors.New("chatflow: stream idle timeout")

// errStreamClosed is the cause of a stream's context once Close was called.
var errStreamClosed = errors.New("chatflow: stream closed")

// errEventsTwice is yielded by Events after a first iteration started.
var errEventsTwice = errors.New("chatflow: the events of a stream can be read only once")

// incompleteError is the error of a stream that ended early. It matches
// ErrIncompleteStream and its cause.
type incompleteError struct {
	cause  error // nil when the stream just ended
	detail string
}

func (e *incompleteError) Error() string {
	return ErrIncompleteStream.Error() + ": " + e.detail
}

func (e *incompleteError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrIncompleteStream}
	}
	return []error{ErrIncompleteStream, e.cause}
}

func incomplete(cause error) error {
	return &incompleteError{cause: cause, detail: strings.TrimPrefix(cause.Error(), "chatflow: ")}
}

// Stream is a reply streamed as server-sent events, from StreamMessage or
// WorkflowEvents. Read it once, with Events or Collect. It closes itself at
// its end; Close releases it early.
type Stream struct {
	body   io.ReadCloser
	dec    *sseDecoder
	ctx    context.Context // the request's context
	cancel context.CancelCauseFunc
	timer  *time.Timer // idle timer, nil without an idle timeout

	client      *Client // for Stop; nil in tests without a client
	user        string
	method, url string // of the request, for errors

	taskID    atomic.Pointer[string]
	started   atomic.Bool
	closeOnce sync.Once

	// Used only by the reading goroutine.
	taskKnown bool
	terminal  bool // a terminal event was seen
}

// newStream reads events from body. cancel cancels the context of the
// request body belongs to; idle > 0 arms the idle timeout.
func newStream(ctx context.Context, cancel context.CancelCauseFunc, body io.ReadCloser, maxEventBytes int, idle time.Duration) *Stream {
	s := &Stream{body: body, ctx: ctx, cancel: cancel}
	var rd io.Reader = body
	if idle > 0 {
		s.timer = time.AfterFunc(idle, func() { cancel(ErrIdleTimeout) })
		rd = &idleReader{rd: body, timer: s.timer, d: idle}
	}
	s.dec = newSSEDecoder(rd, maxEventBytes)
	return s
}

// idleReader re-arms the idle timer whenever bytes arrive.
type idleReader struct {
	rd    io.Reader
	timer *time.Timer
	d     time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.rd.Read(p)
	if n > 0 {
		r.timer.Reset(r.d)
	}
	return n, err
}

// Events returns the events of the stream, each as soon as the blank line
// that ends it has arrived:
//
//	for ev, err := range stream.Events() {
//		if err != nil {
//			return err
//		}
//		if ev.Name() == chatflow.EventMessage {
//			m, _ := ev.Message()
//			fmt.Print(m.Answer)
//		}
//	}
//
// It yields at most one error, and then stops: an *APIError for an error
// event of the server, or an error matching ErrIncompleteStream when the
// stream ends without a terminal event (message_end, workflow_finished or
// workflow_paused) or cannot be read to its end. Pings are yielded too
// (name "ping"). Breaking out of the loop closes the stream and releases
// its connection; so does its end. The events can be read only once.
func (s *Stream) Events() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if !s.started.CompareAndSwap(false, true) {
			yield(Event{}, errEventsTwice)
			return
		}
		defer s.Close()
		for {
			ev, err := s.next()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(Event{}, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// next returns the next event, io.EOF at a good end, or the stream's error.
func (s *Stream) next() (Event, error) {
	for {
		raw, err := s.dec.next()
		if err != nil {
			return Event{}, s.readError(err)
		}
		if !raw.hasData { // Dify's ping
			return Event{name: EventPing, data: pingJSON}, nil
		}
		data := trimJSONSpace(raw.data)
		if data == "" || data == "[DONE]" {
			continue // not sent by Dify; harmless
		}
		if data[0] != '{' || data[len(data)-1] != '}' {
			return Event{}, &incompleteError{detail: "event data is not a JSON object: " + shorten(data, 80)}
		}
		ev := Event{name: eventName(data), data: data}
		if ev.name == "" {
			ev.name = raw.typ
		}
		if !s.taskKnown {
			if id := topLevelString(data, "task_id"); id != "" {
				s.taskID.Store(&id)
				s.taskKnown = true
			}
		}
		switch ev.name {
		case EventMessageEnd, EventWorkflowFinished, EventWorkflowPaused:
			s.terminal = true
		case EventError:
			return Event{}, s.eventError(data)
		}
		return ev, nil
	}
}

// readError turns an error of the decoder into the stream's error.
func (s *Stream) readError(err error) error {
	if err == io.EOF {
		if s.terminal {
			return io.EOF
		}
		return &incompleteError{detail: "the stream ended without message_end, workflow_finished or workflow_paused"}
	}
	if cause := context.Cause(s.ctx); cause != nil {
		// The read failed because the context ended: say why.
		if errors.Is(cause, ErrIdleTimeout) {
			return &incompleteError{cause: ErrIdleTimeout, detail: "no data for longer than the idle timeout"}
		}
		return incomplete(cause)
	}
	if err == io.ErrUnexpectedEOF {
		return &incompleteError{cause: err, detail: "the stream was cut off inside an event (unexpected EOF)"}
	}
	return incomplete(err)
}

// eventError makes the *APIError of an error event.
func (s *Stream) eventError(data string) error {
	e := &APIError{Method: s.method, URL: s.url}
	decodeErrorBody(e, []byte(data), "application/json")
	if s.client != nil {
		s.client.scrubError(e)
	}
	return e
}

// Close ends the stream and releases its connection. It may be called more
// than once, and from another goroutine while Events is running (which
// then ends with an error matching ErrIncompleteStream).
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		s.cancel(errStreamClosed)
		if s.timer != nil {
			s.timer.Stop()
		}
		_ = s.body.Close()
	})
	return nil
}

// TaskID returns the id of the server task that produces the stream, known
// from the first event that carries one ("" before).
func (s *Stream) TaskID() string {
	if p := s.taskID.Load(); p != nil {
		return *p
	}
	return ""
}

// Stop asks the server to stop the generation (POST
// /chat-messages/{task_id}/stop, with the user of the request). The
// stream then ends with the run's final events. It fails if no event has
// carried a task id yet.
func (s *Stream) Stop(ctx context.Context) error {
	id := s.TaskID()
	if id == "" {
		return errors.New("chatflow: Stop: the task id is not known yet (no event of the stream has carried one)")
	}
	if s.client == nil {
		return errors.New("chatflow: Stop: the stream has no client")
	}
	return s.client.StopMessage(ctx, id, s.user)
}
