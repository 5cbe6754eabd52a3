package stream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/transport"
)

// Stream is a run's reply read as events, across the connections that a
// resume opens. Read it once, with Events; it closes itself at its end.
//
// This file holds the stream's state and what every part of the engine
// asks of it (the ids, releasing the connection); the parts are above it:
// read.go reads, resume.go resumes, autostop.go abandons.
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

	stop   stopper  // auto-stop (its work is in autostop.go)
	res    *resumer // nil when the stream cannot resume (resumer.go, resume.go)
	reader reader   // used only by the goroutine holding readMu
}

// stopper is a stream's auto-stop.
type stopper struct {
	on bool // stop the run when the stream is abandoned
	// unwatchCaller unregisters the abandon that the caller's context
	// ending starts (guarded by the stream's connMu).
	unwatchCaller func() bool
	// done is closed when the background work of an abandon has ended.
	done atomic.Pointer[chan struct{}]

	// decide lets one abandon decide at a time. A reader interrupted
	// while it waits for the first event hands the connection over
	// (handingOver) to the background read that handoverDone will end.
	decide       sync.Mutex
	handingOver  bool
	handoverDone chan struct{}
	// readingAhead: a background read for the task id owns the
	// connection, and releases it when it ends (guarded by decide).
	readingAhead bool
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

// abandonedBy reports whether the stream ended because the caller gave it
// up (its context ended, or Close).
func (s *Stream) abandonedBy() bool {
	return context.Cause(s.life) != nil && !errors.Is(context.Cause(s.life), transport.ErrIdleTimeout)
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
	// The ids, from one pass over the event.
	var ids [len(idKeys)]string
	jsonscan.TopLevelStrings(data, idKeys[:], ids[:])
	run := s.RunID()
	if run == "" && !isText && ids[0] != "" {
		id := ids[0]
		s.runID.Store(&id)
		run = id
	}
	if !r.taskKnown && ids[1] != "" && ids[1] != run {
		id := ids[1]
		s.taskID.Store(&id)
		r.taskKnown = true
		if h := s.conn.Load().handoff; h != nil {
			h.direct.Store(true) // nothing to hand over any more
		}
	}
	if r.conversationID == "" {
		r.conversationID = ids[2]
	}
	if r.messageID == "" {
		r.messageID = ids[3]
	}
}

// idKeys are the keys learnIDs reads.
var idKeys = [...]string{"workflow_run_id", "task_id", "conversation_id", "message_id"}

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
