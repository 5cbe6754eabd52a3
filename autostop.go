package chatflow

import (
	"context"
	"errors"
	"time"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/transport"
)

// Stopping the runs a caller abandons. Closing a streaming connection does
// not stop a Dify run: it goes on in a worker and spends tokens until its
// end. POST /chat-messages/{task_id}/stop does, with the real task id (from
// a live event) and the user who started the run.

const (
	// autoStopTimeout bounds all the background work of one abandoned
	// stream: learning the task id and the stop request.
	autoStopTimeout = 10 * time.Second
	// readAheadTimeout bounds reading on for the task id after a stream
	// was abandoned before any event carried it.
	readAheadTimeout = 3 * time.Second
)

// errAbandoned ends a connection read ahead for the task id.
var errAbandoned = errors.New("chatflow: stream abandoned")

// abandon ends a stream that the caller gave up before the run's end, and
// stops the run on the server unless auto-stop is off, the run has reached
// a terminal event, or a stop request was sent already. owner reports that
// the calling goroutine holds readMu, which abandon then releases (or hands
// over to the background goroutine that reads ahead for the task id).
func (s *Stream) abandon(owner bool) {
	// A second abandon (the caller's loop ending while a cancelled
	// context's abandon runs) waits for the first to decide, so that when
	// Events returns, a background stop it started is already known.
	s.abandonMu.Lock()
	defer s.abandonMu.Unlock()
	if owner && s.handoff {
		// An earlier abandon took the connection from this reader, which
		// now hands it to the background read for the task id.
		s.handoff = false
		s.readOnForTask()
		return
	}
	wasEnded := s.ended.Swap(true)
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
	switch {
	case task != "":
		letGo()
		s.background(func(ctx context.Context) string { return task })
	case owner && !s.closedConn():
		// The connection is alive and this goroutine may read it: read on
		// briefly, in the background, until an event carries the task id.
		s.readOnForTask()
	case s.RunID() != "":
		letGo()
		s.background(s.liveTaskID)
	case s.hr.Load() != nil && !s.closedConn():
		if s.readMu.TryLock() { // nobody is reading
			s.readOnForTask()
			return
		}
		// The reader waits for the first events: take the connection
		// over without closing it. The reader's read returns at once,
		// and the reader then starts the background read (see above).
		s.scancel(errStreamClosed)
		s.handoff = true
		done := make(chan struct{})
		s.handDone = done
		s.bgDone.Store(&done) // WaitStop waits for the read to come
		s.hr.Load().interrupt()
	default:
		// Neither a task id nor a run id: nothing can be stopped.
		letGo()
	}
}

// readOnForTask reads the connection on, in the background, until an event
// carries the task id, then stops the run. The calling goroutine holds
// readMu, which the background read takes over.
func (s *Stream) readOnForTask() {
	s.background(func(ctx context.Context) string {
		defer s.readMu.Unlock()
		defer s.release(errStreamClosed)
		s.dec.Forget(errHandedOff)
		return s.readAheadForTask(ctx)
	})
}

// autoStopping reports whether an abandoned stream is to stop its run, and
// claims the one stop request of the stream.
func (s *Stream) autoStopping() bool {
	return s.autoStop && s.client != nil && !s.terminal.Load() && s.stopTaken.CompareAndSwap(false, true)
}

// background runs, in a goroutine of its own, taskID (which learns the
// task id) and then the stop request, all within autoStopTimeout and
// independent of the caller's context (which has often just ended). The
// caller holds abandonMu.
func (s *Stream) background(taskID func(context.Context) string) {
	done := s.handDone // made by a handoff, which this work ends
	s.handDone = nil
	if done == nil {
		done = make(chan struct{})
		s.bgDone.Store(&done)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.sctx), autoStopTimeout)
	go func() {
		defer close(done)
		defer cancel()
		if task := taskID(ctx); task != "" {
			_ = s.client.StopMessage(ctx, task, s.user)
		}
	}()
}

// readAheadForTask reads the current connection on until an event carries
// the task id, for at most readAheadTimeout; it returns "" when none came,
// or when the run reached its end.
func (s *Stream) readAheadForTask(ctx context.Context) string {
	stop := context.AfterFunc(ctx, func() { s.cancel(errAbandoned) })
	defer stop()
	t := time.AfterFunc(readAheadTimeout, func() { s.cancel(errAbandoned) })
	defer t.Stop()
	for {
		raw, err := s.dec.Next()
		if err != nil || s.closedConn() {
			return ""
		}
		if !raw.HasData {
			continue
		}
		data := jsonscan.TrimSpace(raw.Data)
		if data == "" || data[0] != '{' {
			continue
		}
		ev := Event{name: jsonscan.EventName(data, knownTypes), data: data}
		s.learnIDs(ev)
		switch ev.name {
		case EventMessageEnd, EventWorkflowFinished, EventWorkflowPaused, EventError:
			return "" // the run has ended: nothing to stop
		}
		if id := s.TaskID(); id != "" {
			return id
		}
	}
}

// closedConn reports whether the current connection was cancelled.
func (s *Stream) closedConn() bool { return context.Cause(s.ctx) != nil }

// liveTaskID learns the task id of the stream's run from a live event of
// the run (a reattach without snapshot sends only live events, which carry
// the real task id), for at most readAheadTimeout.
func (s *Stream) liveTaskID(ctx context.Context) string {
	run := s.RunID()
	if transport.CheckID("workflow run id", run) != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, readAheadTimeout)
	defer cancel()
	ls, err := s.client.openStream(ctx, s.user, streamOpts{}, s.client.workflowEventsRequest(run, s.user, workflowEventsConfig{noSnapshot: true}))
	if err != nil {
		return ""
	}
	defer ls.Close()
	for ev, err := range ls.Events() {
		if err != nil {
			return ""
		}
		if id := ls.TaskID(); id != "" {
			return id
		}
		switch ev.Name() {
		case EventMessageEnd, EventWorkflowFinished, EventWorkflowPaused:
			return ""
		}
	}
	return ""
}

// WaitStop waits until the background work that abandoning the stream
// started (learning the task id and sending the stop request, see
// WithAutoStop) has ended, or ctx is done. It returns at once when no such
// work is under way. A program about to exit calls it after Close so that
// the run it gave up on is stopped before the process ends.
func (s *Stream) WaitStop(ctx context.Context) error {
	s.abandonMu.Lock() // an abandon deciding right now has started its work after this
	p := s.bgDone.Load()
	s.abandonMu.Unlock()
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
