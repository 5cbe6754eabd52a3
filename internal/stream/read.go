package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/internal/transport"
)

// Reading a stream: opening it, the read loop that Events runs (events
// of the current connection, or queued by a resume), how a read error ends
// or resumes the stream, and Close.

// Open sends a request whose reply is an event stream (send's context
// marks it, see transport.WithStreamReply) and returns the stream of its
// events, bound to ctx: when ctx ends, the stream ends (and, with
// AutoStop, its run is stopped). A reply that is not an event stream is
// an error wrapping ErrNotEventStream.
func Open(ctx context.Context, cfg Config, send func(context.Context) (*http.Response, error)) (*Stream, error) {
	if ctx == nil {
		return nil, errors.New("chatflow: nil context")
	}
	if cfg.Server == nil {
		cfg.Resume, cfg.AutoStop = false, false
	}
	life, endLife := context.WithCancelCause(ctx)
	var c *conn
	var r reply
	var err error
	switch {
	case cfg.AutoStop && ctx.Done() == nil:
		// A caller whose context never ends cannot give up while waiting
		// for the reply: no need to wait for it on another goroutine.
		c, r, err = dial(life, true, &cfg, send)
	case cfg.AutoStop:
		// The connection outlives the caller's context: a stream given up
		// before its task id is known is read on for it.
		c, r, err = dialOrGiveUp(life, &cfg, send, func(c *conn, r reply) {
			// A stream nobody reads: Close reads on for the task id and
			// stops the run, in the background.
			bg, endBg := context.WithCancelCause(context.WithoutCancel(life))
			_ = newStream(bg, bg, endBg, c, cfg, r).Close()
		})
	default:
		c, r, err = dial(life, false, &cfg, send)
	}
	if err != nil {
		endLife(nil)
		return nil, err
	}
	if id := r.header.Get("X-Workflow-Run-ID"); id != "" && cfg.RunID == "" {
		cfg.RunID = id
	}
	s := newStream(ctx, life, endLife, c, cfg, r)
	if cfg.AutoStop {
		s.connMu.Lock()
		s.stop.unwatchCaller = context.AfterFunc(ctx, func() { s.abandon(false) })
		s.connMu.Unlock()
	}
	return s, nil
}

// dialOrGiveUp is dial for a request that starts a run, whose caller may
// give up (life ends) while waiting for the reply. Dify sends the reply's
// headers with the run's first event, so a caller who gives up while
// waiting for them may have started a run: dialOrGiveUp then returns at
// once, with an error matching life's cause, and the reply is awaited in
// the background, for readAheadTimeout at most; an event stream is handed
// to abandoned, to stop its run. A reply already arriving (an error
// reply, say) ends as usual.
func dialOrGiveUp(life context.Context, cfg *Config, send func(context.Context) (*http.Response, error), abandoned func(*conn, reply)) (*conn, reply, error) {
	if cause := context.Cause(life); cause != nil {
		return nil, reply{}, fmt.Errorf("chatflow: %w", cause) // nothing sent
	}
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(life))
	var answered atomic.Bool // the reply's first byte came
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { answered.Store(true) }}
	type result struct {
		resp *http.Response
		err  error
	}
	results := make(chan result, 1)
	r := reply{sent: time.Now()}
	go func() {
		resp, err := send(transport.WithStreamReply(httptrace.WithClientTrace(ctx, trace)))
		results <- result{resp, err}
	}()
	select {
	case res := <-results:
		return cfg.accept(ctx, cancel, res.resp, res.err, r, true)
	case <-life.Done():
	}
	cause := context.Cause(life)
	if answered.Load() {
		// The reply is coming. An event stream's run is stopped as below;
		// an error reply ends the call as usual (cut if it stalls).
		t := time.AfterFunc(readAheadTimeout, func() { cancel(cause) })
		res := <-results
		t.Stop()
		c, r, err := cfg.accept(ctx, cancel, res.resp, res.err, r, true)
		if err != nil {
			return nil, r, err
		}
		abandoned(c, r)
		return nil, r, &gaveUpError{cause: cause}
	}
	go func() {
		t := time.AfterFunc(readAheadTimeout, func() { cancel(errAbandoned) })
		res := <-results
		t.Stop()
		if c, r, err := cfg.accept(ctx, cancel, res.resp, res.err, r, true); err == nil {
			abandoned(c, r)
		}
	}()
	return nil, r, &gaveUpError{cause: cause}
}

// FromBody returns the stream of the events in body, read with cfg
// (without a Server: it neither resumes nor stops), bound to ctx.
func FromBody(ctx context.Context, body io.ReadCloser, cfg Config) *Stream {
	cfg.Server, cfg.Resume, cfg.AutoStop = nil, false, false
	life, endLife := context.WithCancelCause(ctx)
	return newStream(ctx, life, endLife, newConn(life, endLife, body, cfg.MaxEventBytes, cfg.Vocabulary.Names, false), cfg, reply{})
}

func newStream(caller, life context.Context, endLife context.CancelCauseFunc, c *conn, cfg Config, r reply) *Stream {
	s := &Stream{cfg: cfg, caller: caller, life: life, endLife: endLife, request: r}
	s.conn.Store(c)
	s.reader.timing.Sent, s.reader.timing.Headers = r.sent, r.in
	if cfg.RunID != "" {
		id := cfg.RunID
		s.runID.Store(&id)
	}
	if cfg.Resume {
		s.res = newResumer()
		s.res.reattached, s.res.textLost = cfg.LateJoin, cfg.LateJoin
	}
	s.stop.on = cfg.AutoStop
	return s
}

// Events returns the events of the stream. It yields at most one error,
// and then stops: an *transport.APIError for an error event, or an error
// matching ErrIncompleteStream when the stream ends without a terminal
// event or cannot be read to its end, and could not be resumed. Breaking
// out of the loop closes the stream, and stops the run (Config.AutoStop)
// when it has not ended. The events can be read only once.
func (s *Stream) Events() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if s.state.set(eventsCalled) {
			yield(Event{}, errEventsTwice)
			return
		}
		if s.state.has(closeCalled) || !s.readMu.TryLock() {
			s.state.set(readingOver)
			yield(Event{}, incomplete(s.callerCause(errStreamClosed)))
			return
		}
		for {
			ev, err := s.next()
			if err == io.EOF {
				s.finish()
				return
			}
			if err != nil {
				if s.abandonedBy() {
					s.abandon(true)
				} else {
					s.finish()
				}
				yield(Event{}, err)
				return
			}
			if !yield(ev, nil) {
				s.abandon(true)
				return
			}
		}
	}
}

// finish ends reading: the stream reached its end, or an error that is
// not the caller's doing. It releases the connection and readMu.
func (s *Stream) finish() {
	s.stop.readEnded()
	s.state.set(readingOver)
	s.release(errStreamClosed)
	s.readMu.Unlock()
}

// next returns the next event, io.EOF at a good end, or the stream's error.
func (s *Stream) next() (Event, error) {
	r, v := &s.reader, s.cfg.Vocabulary
	for {
		if len(r.queue) > 0 {
			ev := r.queue[0]
			r.queue = r.queue[1:]
			return ev, nil
		}
		if r.queueErr != nil {
			err := r.queueErr
			r.queueErr, r.finished = nil, true
			return Event{}, err
		}
		if r.finished {
			return Event{}, io.EOF
		}
		ev, id, ok, err := s.conn.Load().next(v)
		if err != nil {
			if err, ok := err.(*incompleteError); ok {
				return Event{}, err // not an event stream of this app: not resumable
			}
			if err := s.readError(err); err != nil {
				return Event{}, err
			}
			continue
		}
		if !ok {
			continue
		}
		if r.timing.FirstEvent.IsZero() {
			r.timing.FirstEvent = time.Now()
		}
		if ev.Name == v.Ping && ev.Data == v.PingData {
			if s.res.hasHeldTerminal() {
				r.queue = append(s.res.takeHeldTerminal(), ev)
				continue
			}
			return ev, nil
		}
		readText, isText := v.Text[ev.Name]
		s.learnIDs(ev, isText)
		if s.res != nil && !s.res.admit(v, ev, id, readText) {
			continue // yielded before the connection dropped
		}
		if isText && r.timing.FirstText.IsZero() && readText(ev.Data) != "" {
			r.timing.FirstText = time.Now()
		}
		switch {
		case v.isTerminal(ev.Name):
			if s.terminalEvent(ev) {
				continue // held back
			}
		case ev.Name == v.Error:
			if err := s.errorEvent(ev); err != nil {
				return Event{}, err
			}
			continue // the error comes after the reconciled answer
		}
		if s.res.hasHeldTerminal() {
			r.queue = append(s.res.takeHeldTerminal(), ev)
			continue
		}
		return ev, nil
	}
}

// terminalEvent records the run's end at terminal event ev, and reports
// whether ev is held back until the answer is reconciled.
func (s *Stream) terminalEvent(ev Event) (held bool) {
	s.state.set(runEnded)
	s.reader.timing.End = time.Now()
	if v := s.cfg.Vocabulary; ev.Name == v.RunFinished || ev.Name == v.RunPaused {
		s.reader.timing.RunElapsed = runElapsed(ev.Data)
	}
	if s.res.mustHoldTerminal() {
		s.res.heldTerminal = append(s.res.heldTerminal, ev)
		return true
	}
	return false
}

// errorEvent records the run's end at error event ev and returns its
// error, or nil when the error is queued after the answer reconciled with
// the stored one.
func (s *Stream) errorEvent(ev Event) error {
	s.state.set(runEnded)
	s.reader.timing.End = time.Now()
	err := s.eventError(ev.Data)
	if s.res.mustHoldTerminal() {
		s.reconcile()
		s.reader.queueErr = err
		return nil
	}
	return err
}

// readError handles an error of the connection's decoder: it returns nil
// when the stream goes on (resumed, or with its final events queued), or
// the stream's error (io.EOF at a good end).
func (s *Stream) readError(err error) error {
	if err == errHandedOff {
		// The caller gave the stream up; the connection is read on in
		// the background for the task id (see abandon).
		return incomplete(s.callerCause(context.Cause(s.life)))
	}
	err = s.dropError(err)
	switch {
	case err == io.EOF && s.res != nil:
		s.reconcile()
		return nil
	case err == io.EOF:
		s.reader.finished = true
		return io.EOF
	case s.res.hasHeldTerminal():
		// Cut after the run's final events: that is its end.
		s.reconcile()
		return nil
	case s.canResume(err):
		return s.resume(err)
	}
	return err
}

// runElapsed returns data.elapsed_time (seconds) of a run's final event.
func runElapsed(data string) time.Duration {
	var v struct {
		Data struct {
			ElapsedTime float64 `json:"elapsed_time"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(data), &v) != nil || v.Data.ElapsedTime <= 0 {
		return 0
	}
	return time.Duration(v.Data.ElapsedTime * float64(time.Second))
}

// dropError turns an error of the decoder into the stream's error: io.EOF
// after a terminal event, else an incompleteError saying why it ended.
func (s *Stream) dropError(err error) error {
	if err == io.EOF {
		if s.state.has(runEnded) {
			return io.EOF
		}
		return &incompleteError{detail: "the stream ended without " + orList(s.cfg.Vocabulary.Terminal)}
	}
	cause := s.callerCause(context.Cause(s.life))
	if cause == nil {
		cause = context.Cause(s.conn.Load().ctx)
	}
	if cause != nil {
		// The read failed because the context ended: say why.
		if errors.Is(cause, transport.ErrIdleTimeout) {
			return &incompleteError{cause: transport.ErrIdleTimeout, detail: "no data for longer than the idle timeout"}
		}
		return incomplete(cause)
	}
	if err == io.ErrUnexpectedEOF {
		return &incompleteError{cause: err, detail: "the stream was cut off inside an event (unexpected EOF)"}
	}
	return incomplete(err)
}

// orList returns "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// eventError makes the *transport.APIError of an error event.
func (s *Stream) eventError(data string) error {
	e := &transport.APIError{Method: s.request.method, URL: s.request.url}
	transport.DecodeErrorBody(e, []byte(data), "application/json")
	s.cfg.scrub(e)
	return e
}

// Close ends the stream and releases its connection. It may be called more
// than once, and from another goroutine while Events is running (which
// then ends with an error matching ErrIncompleteStream). Closing a stream
// before the run's end stops the run (Config.AutoStop); a stream closed
// before any event carried the task id goes on reading briefly, in the
// background, to learn it.
func (s *Stream) Close() error {
	if s.state.set(closeCalled) {
		return nil
	}
	if s.readMu.TryLock() {
		// Nobody is reading: the connection may be read ahead for the task id.
		if s.state.has(readingOver) {
			s.readMu.Unlock()
			s.release(errStreamClosed)
			return nil
		}
		s.abandon(true)
		return nil
	}
	// Events is running in another goroutine: cut it off.
	s.abandon(false)
	return nil
}
