package stream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/transport"
)

// Config is what a stream is made of.
type Config struct {
	// Vocabulary is what the stream knows of the app type's events.
	Vocabulary *Vocabulary
	// Server reattaches, reads the run's state and the stored answer, and
	// stops the run; nil: the stream can neither resume nor stop its run.
	Server Server
	// Doer is the request path of the app's client: it removes the API
	// key from the error events' messages and paces the attempts of a
	// resume (nil: nothing to remove, a timer).
	Doer *transport.Doer
	// MaxEventBytes bounds each event (see sse.NewDecoder).
	MaxEventBytes int
	// Resume lets a dropped stream resume from the server's record of
	// the run; without it a drop is an error matching
	// ErrIncompleteStream.
	Resume bool
	// AutoStop lets a stream abandoned before its run's end stop the run.
	AutoStop bool
	// RunID is the run the stream follows, when known before the reply
	// (its X-Workflow-Run-ID header also tells it).
	RunID string
	// LateJoin says that the stream joins a run under way (a follow of
	// the run's events, not the reply to the request that started it):
	// it cannot prove that it carries every piece of the answer (text
	// the run sent before it subscribed, right after a human input form
	// was submitted say, is never sent again), so with Resume its answer
	// is reconciled with the stored one at the run's end, and events it
	// repeats are dropped as after a reattach.
	LateJoin bool
}

func (cfg *Config) scrub(e *transport.APIError) {
	if cfg.Doer != nil {
		cfg.Doer.ScrubError(e)
	}
}

// Stream is a run's reply read as events, across the connections that a
// resume opens. Read it once, with Events; it closes itself at its end.
type Stream struct {
	cfg Config
	// caller is the caller's context; life is the stream's own, a child
	// of caller across connections, which release ends.
	caller  context.Context
	life    context.Context
	endLife context.CancelCauseFunc
	request reply // the first request and its reply, for errors and Timing

	// conn is the current connection; a resume replaces it. connMu
	// orders replacing it with closing it from another goroutine.
	connMu sync.Mutex
	conn   atomic.Pointer[conn]

	taskID, runID atomic.Pointer[string]
	state         flags      // what happened to the stream so far
	readMu        sync.Mutex // held by whoever reads the connection

	stop   stopper  // auto-stop (autostop.go)
	res    *resumer // nil when the stream cannot resume (resume.go)
	reader reader   // used only by the goroutine holding readMu
}

// flags records what happened to a stream, for every goroutine.
type flags struct{ bits atomic.Uint32 }

// The flags of a stream; once set, a flag stays set.
const (
	eventsCalled uint32 = 1 << iota // Events was called
	closeCalled                     // Close was called
	runEnded                        // a terminal event (or an error event) was read: nothing to stop
	readingOver                     // reading is over: the stream can no longer be abandoned
	resumed                         // resumed after a drop, or the answer completed from the stored one
	stopClaimed                     // the one stop request of the stream was sent or claimed
)

// set sets flag f and reports whether it was set already.
func (fl *flags) set(f uint32) bool { return fl.bits.Or(f)&f != 0 }

// has reports whether flag f is set.
func (fl *flags) has(f uint32) bool { return fl.bits.Load()&f != 0 }

// reader is what the reading goroutine keeps.
type reader struct {
	taskKnown      bool
	conversationID string
	messageID      string
	timing         Timing
	queue          []Event // events to yield before reading on
	queueErr       error   // the error to yield after them
	finished       bool    // nothing more to read
}

// Timing is when the parts of a reply arrived (package chatflow's Timing
// has the same fields and documents them).
type Timing struct {
	Sent, Headers, FirstEvent, FirstText, End time.Time
	RunElapsed                                time.Duration
}

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
	// With auto-stop the connection outlives the caller's context: a
	// stream given up before its task id is known is read on for it.
	c, r, err := dial(life, cfg.AutoStop, &cfg, send)
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

// abandonedBy reports whether the stream ended because the caller gave it
// up (its context ended, or Close).
func (s *Stream) abandonedBy() bool {
	return context.Cause(s.life) != nil && !errors.Is(context.Cause(s.life), transport.ErrIdleTimeout)
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
			if s.res.holding() {
				r.queue = append(s.res.takeHeld(), ev)
				continue
			}
			return ev, nil
		}
		text, isText := v.text(ev.Name, ev.Data)
		s.learnIDs(ev, isText)
		if s.res != nil && !s.res.admit(v, ev, id, text, isText) {
			continue // yielded before the connection dropped
		}
		if isText && r.timing.FirstText.IsZero() && text != "" {
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
		if s.res.holding() {
			r.queue = append(s.res.takeHeld(), ev)
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
	if s.res != nil && s.res.holdsTerminal() {
		s.res.held = append(s.res.held, ev)
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
	if s.res != nil && s.res.holdsTerminal() {
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
	case s.res.holding():
		// Cut after the run's final events: that is its end.
		s.reconcile()
		return nil
	case s.canResume(err):
		return s.resume(err)
	}
	return err
}

// learnIDs records the task, run, conversation and message ids an event
// carries. The task id is the first one that is not the run id: events
// rebuilt from the server's record of a run (a reattach's snapshot) may
// carry the run id as their task_id, and a stop needs the real one.
func (s *Stream) learnIDs(ev Event, isText bool) {
	r, data := &s.reader, ev.Data
	if r.taskKnown && r.conversationID != "" && r.messageID != "" && s.runID.Load() != nil {
		return
	}
	run := s.RunID()
	if run == "" && !isText {
		if id := jsonscan.TopLevelString(data, "workflow_run_id"); id != "" {
			s.runID.Store(&id)
			run = id
		}
	}
	if !r.taskKnown {
		if id := jsonscan.TopLevelString(data, "task_id"); id != "" && id != run {
			s.taskID.Store(&id)
			r.taskKnown = true
			if h := s.conn.Load().handoff; h != nil {
				h.direct.Store(true) // nothing to hand over any more
			}
		}
	}
	if r.conversationID == "" {
		r.conversationID = jsonscan.TopLevelString(data, "conversation_id")
	}
	if r.messageID == "" {
		r.messageID = jsonscan.TopLevelString(data, "message_id")
	}
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

// callerCause returns cause, unless it is errStreamClosed and the caller's
// context has ended: then the context's cause, which is what closed the
// stream (the auto-stop that a cancelled context starts may release the
// stream before the cancellation reaches it).
func (s *Stream) callerCause(cause error) error {
	if errors.Is(cause, errStreamClosed) {
		if pc := context.Cause(s.caller); pc != nil {
			return pc
		}
	}
	return cause
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

// release ends the stream's life and closes the current connection.
func (s *Stream) release(cause error) {
	s.endLife(cause)
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.stop.unwatchCaller != nil {
		s.stop.unwatchCaller()
	}
	s.conn.Load().close(cause)
}

// TaskID returns the id of the server task that produces the stream,
// known from the first event that carries one ("" before); never the run
// id.
func (s *Stream) TaskID() string {
	if p := s.taskID.Load(); p != nil {
		return *p
	}
	return ""
}

// RunID returns the id of the run behind the stream ("" while unknown).
func (s *Stream) RunID() string {
	if p := s.runID.Load(); p != nil {
		return *p
	}
	return ""
}

// Resumed reports whether the stream's connection dropped and the stream
// resumed, or its answer was completed from the answer the server stored.
func (s *Stream) Resumed() bool { return s.state.has(resumed) }

// Timing returns when the parts of the reply arrived so far. Call it from
// the goroutine that reads the stream, or after reading has ended.
func (s *Stream) Timing() Timing { return s.reader.timing }

// Stop asks the server to stop the run's task. It fails if no event has
// carried a task id yet. After Stop, abandoning the stream sends no
// second stop request.
func (s *Stream) Stop(ctx context.Context) error {
	id := s.TaskID()
	if id == "" {
		return errors.New("chatflow: Stop: the task id is not known yet (no event of the stream has carried one)")
	}
	if s.cfg.Server == nil {
		return errors.New("chatflow: Stop: the stream has no client")
	}
	s.state.set(stopClaimed)
	return s.cfg.Server.Stop(ctx, id)
}
