package stream

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/transport"
)

// Stopping the runs a caller abandons. Closing a streaming connection does
// not stop a Dify run: it goes on in a worker and spends tokens until its
// end. Server.Stop does, with the real task id (from a live event).

const (
	// autoStopTimeout bounds all the background work of one abandoned
	// stream: learning the task id and the stop request.
	autoStopTimeout = 10 * time.Second
	// readAheadTimeout bounds reading on for the task id after a stream
	// was abandoned before any event carried it.
	readAheadTimeout = 3 * time.Second
)

// testHookHandover, set by a test only, runs just before abandon
// interrupts a reader to take its connection over: the moment at which
// the reader may learn the task id and go into a direct read.
var testHookHandover atomic.Pointer[func()]

// errAbandoned ends a connection read ahead for the task id.
var errAbandoned = errors.New("chatflow: stream abandoned")

// readEnded tells the stopper that reading ended the stream: a handover
// it was asked for will not happen.
func (st *stopper) readEnded() {
	st.decide.Lock()
	defer st.decide.Unlock()
	if st.handingOver {
		st.handingOver = false
		close(st.handoverDone)
	}
}

// abandon ends a stream that the caller gave up before the run's end, and
// stops the run on the server unless auto-stop is off, the run has reached
// a terminal event, or a stop request was sent already. owner reports that
// the calling goroutine holds readMu, which abandon then releases (or hands
// over to the background goroutine that reads ahead for the task id).
func (s *Stream) abandon(owner bool) {
	// A second abandon (the caller's loop ending while a cancelled
	// context's abandon runs) waits for the first to decide, so that when
	// Events returns, a background stop it started is already known.
	st := &s.stop
	st.decide.Lock()
	defer st.decide.Unlock()
	if owner && st.handingOver {
		// An earlier abandon took the connection from this reader, which
		// now hands it to the background read for the task id.
		st.handingOver = false
		s.readOnForTask()
		return
	}
	if !owner && (st.handingOver || st.readingAhead) {
		// A Close after the caller's context ended, say: the background
		// read for the task id owns the connection and ends it.
		return
	}
	wasEnded := s.state.set(readingOver)
	letGo := func() { // close the stream and give up readMu if held
		s.release(errStreamClosed)
		if owner {
			s.readMu.Unlock()
		}
	}
	if wasEnded || !s.autoStopping() {
		letGo()
		return
	}
	task := s.TaskID()
	c := s.conn.Load()
	switch {
	case task != "":
		letGo()
		s.background(func(ctx context.Context) string { return task })
	case owner && !c.cut():
		// The connection is alive and this goroutine may read it: read on
		// briefly, in the background, until an event carries the task id.
		s.readOnForTask()
	case s.RunID() != "":
		letGo()
		s.background(s.liveTaskID)
	case c.handoff != nil && !c.cut():
		if s.readMu.TryLock() { // nobody is reading
			s.readOnForTask()
			return
		}
		// The reader waits for the first events: take the connection
		// over without closing it. The reader's read returns at once,
		// and the reader then starts the background read (see above).
		s.endLife(errStreamClosed)
		st.handingOver = true
		done := make(chan struct{})
		st.handoverDone = done
		st.done.Store(&done) // WaitStop waits for the read to come
		if hook := testHookHandover.Load(); hook != nil {
			(*hook)()
		}
		c.handoff.interrupt()
		if s.TaskID() != "" {
			// The reader learnt the task id meanwhile, and may have gone
			// into a direct read, which no interrupt ends (it checks for
			// one first, and the interrupt came after): cut the
			// connection. The reader then hands over as above, and the
			// background read has the task id at once.
			c.close(errStreamClosed)
		}
	default:
		// Neither a task id nor a run id: nothing can be stopped.
		letGo()
	}
}

// readOnForTask reads the connection on, in the background, until an event
// carries the task id, then stops the run. The calling goroutine holds
// readMu, which the background read takes over.
func (s *Stream) readOnForTask() {
	s.stop.readingAhead = true
	s.background(func(ctx context.Context) string {
		defer s.readMu.Unlock()
		defer s.release(errStreamClosed)
		s.conn.Load().events.Forget(errHandedOff)
		return s.readAheadForTask(ctx)
	})
}

// autoStopping reports whether an abandoned stream is to stop its run, and
// claims the one stop request of the stream.
func (s *Stream) autoStopping() bool {
	return s.stop.on && !s.state.has(runEnded) && !s.state.set(stopClaimed)
}

// background runs, in a goroutine of its own, taskID (which learns the
// task id) and then the stop request, all within autoStopTimeout and
// independent of the caller's context (which has often just ended). The
// caller holds stop.decide.
func (s *Stream) background(taskID func(context.Context) string) {
	st := &s.stop
	done := st.handoverDone // made by a handover, which this work ends
	st.handoverDone = nil
	if done == nil {
		done = make(chan struct{})
		st.done.Store(&done)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.life), autoStopTimeout)
	go func() {
		defer close(done)
		defer cancel()
		if task := taskID(ctx); task != "" {
			_ = s.cfg.Server.Stop(ctx, task)
		}
	}()
}

// readAheadForTask reads the current connection on until an event carries
// the task id, for at most readAheadTimeout; it returns "" when none came,
// or when the run reached its end.
func (s *Stream) readAheadForTask(ctx context.Context) string {
	c, v := s.conn.Load(), s.cfg.Vocabulary
	stop := context.AfterFunc(ctx, func() { c.cancel(errAbandoned) })
	defer stop()
	t := time.AfterFunc(readAheadTimeout, func() { c.cancel(errAbandoned) })
	defer t.Stop()
	for {
		// The reader may have read the event with the task id while the
		// connection was being taken from it.
		if id := s.TaskID(); id != "" {
			return id
		}
		ev, _, ok, err := c.next(v)
		if c.cut() {
			return ""
		}
		if err != nil {
			if _, bad := err.(*incompleteError); bad {
				continue
			}
			return ""
		}
		if !ok || ev.Name == v.Ping {
			continue
		}
		_, isText := v.Text[ev.Name]
		s.learnIDs(ev, isText)
		if v.isTerminal(ev.Name) || ev.Name == v.Error {
			return "" // the run has ended: nothing to stop
		}
	}
}

// liveTaskID learns the task id of the stream's run from a live event of
// the run (a reattach without the state snapshot sends only live events,
// which carry the real task id), for at most readAheadTimeout.
func (s *Stream) liveTaskID(ctx context.Context) string {
	run, v := s.RunID(), s.cfg.Vocabulary
	if transport.CheckID("workflow run id", run) != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, readAheadTimeout)
	defer cancel()
	c, _, err := dial(ctx, false, &s.cfg, func(ctx context.Context) (*http.Response, error) {
		return s.cfg.Server.Reattach(ctx, run, ReattachOptions{LiveOnly: true})
	})
	if err != nil {
		return ""
	}
	defer c.close(errAbandoned)
	for {
		ev, _, ok, err := c.next(v)
		switch {
		case err != nil || ev.Name == v.Error:
			return ""
		case !ok:
			continue
		}
		if id := jsonscan.TopLevelString(ev.Data, "task_id"); id != "" && id != run {
			return id
		}
		if v.isTerminal(ev.Name) {
			return "" // the run has ended: nothing to stop
		}
	}
}

// WaitStop waits until the background work that abandoning the stream
// started (learning the task id and sending the stop request) has ended,
// or ctx is done. It returns at once when no such work is under way.
func (s *Stream) WaitStop(ctx context.Context) error {
	s.stop.decide.Lock() // an abandon deciding right now has started its work after this
	p := s.stop.done.Load()
	s.stop.decide.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-*p:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
