package chatflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/sse"
	"github.com/difykit/chatflow/internal/transport"
)

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
//
// When the connection drops before the run's end, the stream resumes from
// the server's record of the run (see WithResume and docs/streaming.md);
// when the caller gives the run up (cancels the context, breaks out of
// Events, calls Close) before its end, the run is stopped on the server
// (see WithAutoStop).
type Stream struct {
	// The current connection; resume replaces it. segMu guards the
	// fields against Close from another goroutine.
	segMu  sync.Mutex
	body   io.ReadCloser
	dec    *sse.Decoder
	ctx    context.Context // the connection's request context
	cancel context.CancelCauseFunc
	// hr lets the first connection be read on after the caller gave the
	// stream up before its task id was known (nil once resumed, or
	// without auto-stop).
	hr atomic.Pointer[handoffReader]

	// The stream as a whole, across connections: a child of the caller's
	// context (parent), cancelled by Close.
	parent  context.Context
	sctx    context.Context
	scancel context.CancelCauseFunc

	client      *Client // for Stop, resume and auto-stop; nil in tests without a client
	user        string
	method, url string // of the request, for errors
	maxReply    int64  // bound of Collect; 0 means DefaultMaxReplyBytes
	reattachCfg workflowEventsConfig

	taskID    atomic.Pointer[string]
	runID     atomic.Pointer[string]
	started   atomic.Bool                   // Events was called
	closed    atomic.Bool                   // Close was called
	terminal  atomic.Bool                   // a terminal event (or an error event) was read
	ended     atomic.Bool                   // reading is over: no abandonment any more
	stopTaken atomic.Bool                   // a stop request was sent or claimed
	resumed   atomic.Bool                   // the stream resumed after a dropped connection
	readMu    sync.Mutex                    // held by whoever reads the decoder
	autoStop  bool                          // stop the run when abandoned
	stopAfter func() bool                   // unregisters the auto-stop on the caller's context (guarded by segMu)
	bgDone    atomic.Pointer[chan struct{}] // closed when the background auto-stop ends
	abandonMu sync.Mutex                    // one abandon decides at a time (see abandon)
	handoff   bool                          // the reader hands the connection over when its read returns (abandonMu)
	handDone  chan struct{}                 // bgDone of the background read the handoff will start (abandonMu)

	// Used only by the reading goroutine.
	taskKnown      bool
	conversationID string
	messageID      string
	timing         Timing
	rs             *resumeState // nil when the stream cannot resume
	pending        []Event      // events to yield before reading on
	pendingErr     error        // the error to yield after them
	finished       bool         // nothing more to read
}

// newStream reads events from body. cancel cancels the context of the
// request body belongs to. The idle timeout is the body's own (a reply
// body of the Client's doer is watched while a read waits for the server).
func newStream(ctx context.Context, cancel context.CancelCauseFunc, body io.ReadCloser, maxEventBytes int) *Stream {
	s := &Stream{body: body, ctx: ctx, cancel: cancel, sctx: ctx, scancel: cancel}
	s.dec = sse.NewDecoder(body, maxEventBytes, knownTypes)
	return s
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
// workflow_paused) or cannot be read to its end, and could not be resumed.
// Pings are yielded too (name "ping"). Breaking out of the loop closes the
// stream and releases its connection; so does its end. The events can be
// read only once.
//
// After a dropped connection the loop goes on with the events of the
// reattached run (GET /workflow/{run_id}/events), without the events it
// has already yielded; answer text the server sent while the connection
// was down is not sent again, so when the text yielded is not the whole
// answer, a message_replace event carrying the answer the server stored
// (reason "resumed") comes before the final terminal events. Breaking out
// of the loop before a terminal event stops the run on the server (see
// WithAutoStop).
func (s *Stream) Events() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if !s.started.CompareAndSwap(false, true) {
			yield(Event{}, errEventsTwice)
			return
		}
		if s.closed.Load() || !s.readMu.TryLock() {
			s.ended.Store(true)
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
				if s.abandonedBy(err) {
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
	s.abandonMu.Lock()
	if s.handoff { // the read that was to be handed over ended the stream
		s.handoff = false
		close(s.handDone)
	}
	s.abandonMu.Unlock()
	s.ended.Store(true)
	s.release(errStreamClosed)
	s.readMu.Unlock()
}

// abandonedBy reports whether err ended the stream because the caller gave
// it up (its context ended, or Close).
func (s *Stream) abandonedBy(err error) bool {
	return context.Cause(s.sctx) != nil && !errors.Is(context.Cause(s.sctx), ErrIdleTimeout)
}

// next returns the next event, io.EOF at a good end, or the stream's error.
func (s *Stream) next() (Event, error) {
	for {
		if len(s.pending) > 0 {
			ev := s.pending[0]
			s.pending = s.pending[1:]
			return ev, nil
		}
		if s.pendingErr != nil {
			err := s.pendingErr
			s.pendingErr, s.finished = nil, true
			return Event{}, err
		}
		if s.finished {
			return Event{}, io.EOF
		}
		raw, err := s.dec.Next()
		if err == errHandedOff {
			// The caller gave the stream up; the connection is read on
			// in the background for the task id (see abandon).
			return Event{}, incomplete(s.callerCause(context.Cause(s.sctx)))
		}
		if err != nil {
			if err := s.readError(err); err != io.EOF {
				if s.rs != nil && s.rs.held != nil {
					// Cut after the run's final events: that is its end.
					s.settle()
					continue
				}
				if s.canResume(err) {
					if rerr := s.resume(err); rerr != nil {
						return Event{}, rerr
					}
					continue
				}
				return Event{}, err
			}
			if s.rs != nil {
				s.settle()
				continue
			}
			s.finished = true
			return Event{}, io.EOF
		}
		if s.timing.FirstEvent.IsZero() {
			s.timing.FirstEvent = time.Now()
		}
		if !raw.HasData { // Dify's ping
			ev := Event{name: EventPing, data: pingJSON}
			if s.rs != nil && s.rs.held != nil {
				s.pending = append(s.rs.takeHeld(), ev)
				continue
			}
			return ev, nil
		}
		data := jsonscan.TrimSpace(raw.Data)
		if data == "" || data == "[DONE]" {
			continue // not sent by Dify; harmless
		}
		if data[0] != '{' || data[len(data)-1] != '}' {
			return Event{}, &incompleteError{detail: "event data is not a JSON object: " + transport.Shorten(data, 80)}
		}
		ev := Event{name: jsonscan.EventName(data, knownTypes), data: data}
		if ev.name == "" {
			ev.name = raw.Type
		}
		s.learnIDs(ev)
		if s.rs != nil && s.rs.replayed(raw.ID) {
			continue // replayed by the server on reattach
		}
		if s.rs != nil && !s.rs.admit(ev) {
			continue // seen before the connection dropped
		}
		switch ev.name {
		case EventMessage, EventAgentMessage:
			if s.timing.FirstText.IsZero() && ev.Text() != "" {
				s.timing.FirstText = time.Now()
			}
		case EventMessageEnd, EventWorkflowFinished, EventWorkflowPaused:
			s.terminal.Store(true)
			s.timing.End = time.Now()
			if ev.name != EventMessageEnd {
				s.timing.RunElapsed = runElapsed(data)
			}
			if s.rs != nil && s.rs.holdTerminal() {
				s.rs.held = append(s.rs.held, ev)
				continue
			}
		case EventError:
			s.terminal.Store(true)
			s.timing.End = time.Now()
			err := s.eventError(data)
			if s.rs != nil && s.rs.holdTerminal() {
				s.settle()
				s.pendingErr = err
				continue
			}
			return Event{}, err
		}
		if s.rs != nil && s.rs.held != nil {
			s.pending = append(s.rs.takeHeld(), ev)
			continue
		}
		return ev, nil
	}
}

// learnIDs records the task, run, conversation and message ids an event
// carries. The task id is the first one that is not the run id: events
// rebuilt from the server's record of a run (a reattach's snapshot) may
// carry the run id as their task_id, and /stop needs the real one.
func (s *Stream) learnIDs(ev Event) {
	data := ev.data
	if s.taskKnown && s.conversationID != "" && s.messageID != "" && s.runID.Load() != nil {
		return
	}
	isText := ev.name == EventMessage || ev.name == EventAgentMessage
	run := s.RunID()
	if run == "" && !isText {
		if id := jsonscan.TopLevelString(data, "workflow_run_id"); id != "" {
			s.runID.Store(&id)
			run = id
		}
	}
	if !s.taskKnown {
		if id := jsonscan.TopLevelString(data, "task_id"); id != "" && id != run {
			s.taskID.Store(&id)
			s.taskKnown = true
			if hr := s.hr.Load(); hr != nil {
				hr.direct.Store(true) // nothing to hand over any more
			}
		}
	}
	if s.conversationID == "" {
		s.conversationID = jsonscan.TopLevelString(data, "conversation_id")
	}
	if s.messageID == "" {
		s.messageID = jsonscan.TopLevelString(data, "message_id")
	}
}

// runElapsed returns data.elapsed_time (seconds) of a workflow_finished or
// workflow_paused event.
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

// readError turns an error of the decoder into the stream's error.
func (s *Stream) readError(err error) error {
	if err == io.EOF {
		if s.terminal.Load() {
			return io.EOF
		}
		return &incompleteError{detail: "the stream ended without message_end, workflow_finished or workflow_paused"}
	}
	cause := s.callerCause(context.Cause(s.sctx))
	if cause == nil {
		cause = context.Cause(s.ctx)
	}
	if cause != nil {
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

// callerCause returns cause, unless it is errStreamClosed and the caller's
// context has ended: then the context's cause, which is what closed the
// stream (the auto-stop that a cancelled context starts may release the
// stream before the cancellation reaches it).
func (s *Stream) callerCause(cause error) error {
	if errors.Is(cause, errStreamClosed) && s.parent != nil {
		if pc := context.Cause(s.parent); pc != nil {
			return pc
		}
	}
	return cause
}

// eventError makes the *APIError of an error event.
func (s *Stream) eventError(data string) error {
	e := &APIError{Method: s.method, URL: s.url}
	transport.DecodeErrorBody(e, []byte(data), "application/json")
	if s.client != nil {
		s.client.tr.ScrubError(e)
	}
	return e
}

// Close ends the stream and releases its connection. It may be called more
// than once, and from another goroutine while Events is running (which
// then ends with an error matching ErrIncompleteStream).
//
// Closing a stream before the run's end stops the run on the server (see
// WithAutoStop). A stream closed before any event carried the task id
// that the stop request needs goes on reading briefly, in the background,
// to learn it.
func (s *Stream) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.readMu.TryLock() {
		// Nobody is reading: the connection may be read ahead for the task id.
		if s.ended.Load() {
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

// release closes the current connection and ends the stream's context.
func (s *Stream) release(cause error) {
	s.scancel(cause)
	s.segMu.Lock()
	defer s.segMu.Unlock()
	if s.stopAfter != nil {
		s.stopAfter()
	}
	s.closeConnLocked(cause)
}

// dropConn closes the connection that dropped; the stream goes on.
func (s *Stream) dropConn(cause error) {
	s.segMu.Lock()
	defer s.segMu.Unlock()
	s.closeConnLocked(cause)
}

// closeConnLocked ends the current connection with cause. The caller
// holds segMu.
func (s *Stream) closeConnLocked(cause error) {
	s.cancel(cause)
	_ = s.body.Close()
}

// TaskID returns the id of the server task that produces the stream (the
// one Stop needs), known from the first event that carries one ("" before).
// It is never the workflow run id, which events rebuilt from the server's
// record of a run may carry as their task_id.
func (s *Stream) TaskID() string {
	if p := s.taskID.Load(); p != nil {
		return *p
	}
	return ""
}

// RunID returns the id of the workflow run behind the stream: for a chat
// message, the workflow_run_id of the first workflow event (or an
// X-Workflow-Run-ID header, on a server that sends one: Dify does not);
// for WorkflowEvents, the run asked for. It is "" while unknown. Pass it to Client.WorkflowEvents or
// Client.WorkflowRun.
func (s *Stream) RunID() string {
	if p := s.runID.Load(); p != nil {
		return *p
	}
	return ""
}

// Resumed reports whether the stream's connection dropped and the stream
// resumed from the server's record of the run (see WithResume), or its
// answer was completed from the answer the server stored (see
// Client.WorkflowEvents).
func (s *Stream) Resumed() bool { return s.resumed.Load() }

// Timing returns when the parts of the reply arrived so far. Call it from
// the goroutine that reads the stream, or after reading has ended.
func (s *Stream) Timing() Timing { return s.timing }

// Stop asks the server to stop the generation (POST
// /chat-messages/{task_id}/stop, with the user of the request). The
// stream then ends with the run's final events. It fails if no event has
// carried a task id yet. After Stop, abandoning the stream sends no second
// stop request.
func (s *Stream) Stop(ctx context.Context) error {
	id := s.TaskID()
	if id == "" {
		return errors.New("chatflow: Stop: the task id is not known yet (no event of the stream has carried one)")
	}
	if s.client == nil {
		return errors.New("chatflow: Stop: the stream has no client")
	}
	s.stopTaken.Store(true)
	return s.client.StopMessage(ctx, id, s.user)
}
