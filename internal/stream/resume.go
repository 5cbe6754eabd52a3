package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/difykit/chatflow/internal/sse"
	"github.com/difykit/chatflow/internal/transport"
)

// Resuming a stream after a dropped connection. The facts it rests on (see
// docs/streaming.md and the server's code):
//
//   - closing the connection does not stop a Dify run: it goes on in a
//     worker and stores the message with the whole answer at its end;
//   - reattaching (Server.Reattach) to a finished run gives one
//     workflow_finished (no conversation or message id, the answer only
//     in data.outputs); to a running one, a rebuilt workflow_started, a
//     message_replace with the stored answer (empty while the run goes
//     on), node events for the nodes so far, then live events. Answer
//     text sent while the client was away is lost;
//   - right after the drop, or on older servers, reattaching may answer
//     404: the run's state (Server.RunState) then tells when it has ended;
//   - the stored message (Server.StoredAnswer) has the whole answer once
//     the run has ended.

// Bounds of resuming one stream.
const (
	// MaxResumes is how many dropped connections one stream survives.
	MaxResumes = 5
	// MaxResumeFailures is how many failed attempts in a row (no reply,
	// 5xx, an unknown run) end one resume.
	MaxResumeFailures = 5
	// resumeBudget bounds the time from the first drop until the last
	// attempt to reattach or to read the run's state; Dify ends runs after
	// 1200 s by default.
	resumeBudget = 25 * time.Minute
	// resumeWaitMax caps the wait between two attempts.
	resumeWaitMax = 5 * time.Second
)

// ReasonResumed is the reason of the Replace event that a resumed stream
// yields to carry the answer the server stored, when the text yielded
// before was not the whole answer.
const ReasonResumed = "resumed"

// canResume reports whether the stream may resume after err.
func (s *Stream) canResume(err error) bool {
	if s.res == nil || s.RunID() == "" || s.abandonedBy() {
		return false
	}
	var ie *incompleteError
	return errors.As(err, &ie) && !errors.Is(err, sse.ErrEventTooLarge)
}

// resume reattaches to the run after the connection dropped with drop, or
// learns from the run's state that it has ended. It returns nil when the
// stream can go on (with a new connection, or with the run's final events
// queued), or the stream's error.
func (s *Stream) resume(drop error) error {
	r := s.res
	if r.deadline.IsZero() {
		r.deadline = time.Now().Add(resumeBudget)
	}
	fail := func(failed error, format string, args ...any) error {
		return &resumeError{drop: drop, failed: failed, detail: fmt.Sprintf(format, args...)}
	}
	if r.resumes >= MaxResumes {
		if errors.Is(drop, transport.ErrIdleTimeout) {
			return fail(nil, "the stream was cut %d times, the last time by a stall (the server went silent)", r.resumes+1)
		}
		return fail(nil, "the connection dropped %d times", r.resumes+1)
	}
	run := s.RunID()
	if err := transport.CheckID("workflow run id", run); err != nil {
		return fail(err, "no usable run id")
	}
	r.resumes++
	s.state.set(resumed)
	if !r.answerEnded {
		r.textLost = true
	}
	s.dropConn(drop)
	return s.reconnect(run, fail)
}

// reconnect tries, until one works or the bounds of a resume are reached,
// to reattach to run, or to learn from its state that it has ended (then
// the stream ends with the run's final event rebuilt). fail makes the
// stream's error.
func (s *Stream) reconnect(run string, fail func(failed error, format string, args ...any) error) error {
	r, ctx := s.res, s.life
	failures := 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			wait := min(250*time.Millisecond<<min(attempt-1, 8), resumeWaitMax)
			if time.Now().Add(wait).After(r.deadline) {
				return fail(nil, "gave up after %v", resumeBudget)
			}
			if err := s.sleep(ctx, wait); err != nil {
				return fail(endCause(ctx, err), "waiting to reattach")
			}
		}
		if !r.noReattach {
			err := s.reattach(ctx, run)
			if err == nil {
				r.reattached = true
				return nil
			}
			if ctx.Err() != nil {
				return fail(endCause(ctx, err), "reattaching")
			}
			switch {
			case errors.Is(err, transport.ErrNotFound), errors.Is(err, transport.ErrEndpointNotFound):
				// Not visible yet, or not served: ask the run's state.
			case reattachUnavailable(err):
				r.noReattach = true
			default:
				if failures++; failures >= MaxResumeFailures {
					return fail(err, "reattaching to run %s", run)
				}
				continue
			}
		}
		st, err := s.cfg.Server.RunState(ctx, run)
		if err != nil {
			if ctx.Err() != nil {
				return fail(endCause(ctx, err), "reading the run's state")
			}
			if failures++; failures >= MaxResumeFailures {
				return fail(err, "reading the state of run %s", run)
			}
			continue
		}
		switch st.Status {
		case "running":
			failures = 0
			continue
		case "":
			if failures++; failures >= MaxResumeFailures {
				return fail(nil, "the server does not tell the state of run %s", run)
			}
			continue
		}
		s.endFromState(st)
		return nil
	}
}

// endFromState ends a stream whose run has ended (or paused) while the
// connection was down, and cannot be reattached to, with the run's final
// event rebuilt from its state.
func (s *Stream) endFromState(st RunState) {
	s.state.set(runEnded)
	s.reader.timing.End = time.Now()
	s.reader.timing.RunElapsed = st.Elapsed
	s.res.heldTerminal = append(s.res.heldTerminal, s.runEndEvent(st))
	s.reconcile()
}

// sleep waits d between two attempts, or less if ctx ends first.
func (s *Stream) sleep(ctx context.Context, d time.Duration) error {
	if s.cfg.Doer != nil {
		return s.cfg.Doer.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reattach opens a connection to run's events and makes it the stream's.
func (s *Stream) reattach(ctx context.Context, run string) error {
	opts := ReattachOptions{LastEventID: s.res.seen.lastID}
	c, _, err := dial(ctx, false, &s.cfg, func(ctx context.Context) (*http.Response, error) {
		return s.cfg.Server.Reattach(ctx, run, opts)
	})
	if err != nil {
		return err
	}
	return s.switchConn(c)
}

// endCause returns why ctx ended, or err.
func endCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		return c
	}
	return err
}

// reattachUnavailable reports whether err says that the server does not
// offer reattaching to runs at all.
func reattachUnavailable(err error) bool {
	if errors.Is(err, ErrNotEventStream) {
		return true
	}
	var ae *transport.APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.StatusCode == http.StatusMethodNotAllowed || ae.StatusCode == http.StatusNotImplemented ||
		ae.Code == "not_workflow_app"
}

// dropConn closes the connection that dropped; the stream goes on.
func (s *Stream) dropConn(cause error) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	s.conn.Load().close(cause)
}

// switchConn makes c the stream's connection, unless the stream has
// ended meanwhile (c is then closed).
func (s *Stream) switchConn(c *conn) error {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if cause := context.Cause(s.life); cause != nil {
		c.close(cause)
		return cause
	}
	s.conn.Store(c)
	return nil
}

// runEndEvent rebuilds the final event of a run from its state:
// Vocabulary.RunPaused for a paused run, RunFinished otherwise.
func (s *Stream) runEndEvent(st RunState) Event {
	v := s.cfg.Vocabulary
	head := struct {
		Event          string `json:"event"`
		TaskID         string `json:"task_id,omitempty"`
		WorkflowRunID  string `json:"workflow_run_id"`
		ConversationID string `json:"conversation_id,omitempty"`
		MessageID      string `json:"message_id,omitempty"`
		CreatedAt      int64  `json:"created_at"`
		Data           any    `json:"data"`
	}{Event: v.RunFinished, TaskID: s.TaskID(), WorkflowRunID: s.RunID(), ConversationID: s.reader.conversationID,
		MessageID: s.reader.messageID, CreatedAt: time.Now().Unix(), Data: st.Data}
	if st.Status == "paused" {
		head.Event = v.RunPaused
	}
	b, _ := json.Marshal(head)
	return Event{Name: head.Event, Data: string(b)}
}

// reconcile ends a stream whose run has ended: when answer text may have
// been lost, it reads the answer the server stored and, if the text
// yielded differs, queues a Replace event carrying it; then it queues the
// held terminal events. Nothing is read from the connection after it.
func (s *Stream) reconcile() {
	r := s.res
	if r.textLost && !r.reconciled {
		r.reconciled = true
		if answer, ok := s.storedAnswer(); ok && (answer != "" || r.answer.n == 0) {
			r.fromStore = true
			if !r.answer.same(answer) {
				s.reader.queue = append(s.reader.queue, s.replaceEvent(answer))
				r.answer.set(answer)
				s.state.set(resumed) // the answer comes from the server's record
			}
		}
	}
	r.reconciled = true
	s.reader.queue = append(s.reader.queue, r.takeHeldTerminal()...)
	s.reader.finished = true
}

// storedAnswer asks the server for the answer it stored for the stream's
// message.
func (s *Stream) storedAnswer() (string, bool) {
	conv, msg := s.reader.conversationID, s.reader.messageID
	if s.cfg.Vocabulary.Replace == "" || conv == "" || msg == "" || transport.CheckID("conversation id", conv) != nil {
		return "", false
	}
	return s.cfg.Server.StoredAnswer(s.life, conv, msg)
}

// replaceEvent builds the Replace event that carries the stored answer.
func (s *Stream) replaceEvent(answer string) Event {
	b, _ := json.Marshal(struct {
		Event          string `json:"event"`
		TaskID         string `json:"task_id,omitempty"`
		ConversationID string `json:"conversation_id,omitempty"`
		MessageID      string `json:"message_id,omitempty"`
		CreatedAt      int64  `json:"created_at"`
		Answer         string `json:"answer"`
		Reason         string `json:"reason"`
	}{s.cfg.Vocabulary.Replace, s.TaskID(), s.reader.conversationID, s.reader.messageID, time.Now().Unix(), answer, ReasonResumed})
	return Event{Name: s.cfg.Vocabulary.Replace, Data: string(b)}
}

// Recovery tells how a stream's answer came through its resumes, for
// gathering a reply.
type Recovery struct {
	// Resumes is how many dropped connections the stream resumed.
	Resumes int
	// Reattached reports that events came from a reattached run.
	Reattached bool
	// SawText reports that an event carried answer text.
	SawText bool
	// TextGap reports that answer text may be missing from the events
	// and the stored answer did not fill the gap.
	TextGap bool
}

// Recovery returns how the stream's answer came through its resumes (the
// zero Recovery for a stream that cannot resume). Call it after reading.
func (s *Stream) Recovery() Recovery {
	r := s.res
	if r == nil {
		return Recovery{}
	}
	return Recovery{Resumes: r.resumes, Reattached: r.reattached, SawText: r.answer.sawText, TextGap: r.textLost && !r.fromStore}
}
