package chatflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
)

// Resuming a stream after a dropped connection. The facts it rests on (see
// docs/streaming.md and the server's code):
//
//   - closing the connection does not stop a Dify run: it goes on in a
//     worker and stores the message with the whole answer at its end;
//   - GET /workflow/{run_id}/events?include_state_snapshot=true reattaches:
//     a finished run gives one workflow_finished (no conversation or
//     message id, the answer only in data.outputs); a running one gives a
//     rebuilt workflow_started, a message_replace with the stored answer
//     (empty while the run goes on), node events for the nodes so far, then
//     live events. Answer text sent while the client was away is lost;
//   - right after the drop, or on older servers, reattaching may answer 404:
//     GET /workflows/run/{id} then tells when the run has ended;
//   - GET /messages lists the stored message (matched by id) with the whole
//     answer once the run has ended.

// Bounds of resuming one stream.
const (
	// maxResumes is how many dropped connections one stream survives.
	maxResumes = 5
	// maxResumeFailures is how many failed attempts in a row (no reply,
	// 5xx, an unknown run) end one resume.
	maxResumeFailures = 5
	// resumeBudget bounds the time from the first drop until the last
	// attempt to reattach or to read the run's state; Dify ends runs after
	// 1200 s by default.
	resumeBudget = 25 * time.Minute
	// resumeWaitMax caps the wait between two attempts.
	resumeWaitMax = 5 * time.Second
	// maxSeenEvents bounds the ids of events remembered for removing
	// duplicates.
	maxSeenEvents = 1 << 16
	// storedMessageScan is how many of the conversation's newest messages
	// are searched for the stream's message.
	storedMessageScan = 100
)

// ReasonResumed is the reason of the message_replace event that a resumed
// stream yields to carry the answer the server stored, when the text
// yielded before was not the whole answer.
const ReasonResumed = "resumed"

// resumeState is what a stream that can resume keeps. Used only by the
// reading goroutine.
type resumeState struct {
	seen       map[string]struct{} // events already yielded, by eventKey
	seenIDs    map[string]struct{} // ids (the SSE id field) of the events yielded
	lastID     string              // the id of the last event that had one
	resumes    int                 // connections dropped and resumed
	deadline   time.Time           // of resumeBudget, from the first drop
	reattached bool                // events come from a reattached run: drop the ones seen
	gap        bool                // answer text may be missing: a drop before message_end
	msgEnded   bool                // message_end was yielded
	settled    bool                // the stored answer was looked up
	fromStore  bool                // the answer yielded last is the stored one
	noReattach bool                // the reattach endpoint is not available: poll the run
	held       []Event             // terminal events held back until the answer is settled
	textHash   uint64              // FNV-1a of the answer text yielded so far
	textLen    int
	sawText    bool // an event carried answer text
}

func newResumeState() *resumeState {
	return &resumeState{seen: make(map[string]struct{}), textHash: fnvOffset}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func (rs *resumeState) addText(t string) {
	rs.textHash = fnvAdd(rs.textHash, t)
	rs.textLen += len(t)
	if t != "" {
		rs.sawText = true
	}
}

func (rs *resumeState) setText(t string) {
	rs.textHash, rs.textLen = fnvOffset, 0
	rs.addText(t)
}

func (rs *resumeState) sameText(t string) bool {
	return len(t) == rs.textLen && fnvAdd(fnvOffset, t) == rs.textHash
}

// holdTerminal reports whether terminal events are held back: after a drop
// that may have lost answer text, until the stored answer is known.
func (rs *resumeState) holdTerminal() bool { return rs.gap && !rs.settled }

func (rs *resumeState) takeHeld() []Event {
	h := rs.held
	rs.held = nil
	return h
}

// replayed reports whether an event with SSE id id was yielded before (a
// server that keeps a run's events replays them on reattach, with ids),
// and records id otherwise.
func (rs *resumeState) replayed(id string) bool {
	if id == "" {
		return false
	}
	if _, dup := rs.seenIDs[id]; dup {
		return true
	}
	if rs.seenIDs == nil {
		rs.seenIDs = make(map[string]struct{})
	}
	if len(rs.seenIDs) < maxSeenEvents {
		rs.seenIDs[id] = struct{}{}
	}
	if transport.CheckHeaderValue("Last-Event-ID", id) == nil {
		rs.lastID = id // sent back as Last-Event-ID
	}
	return false
}

// admit follows the answer text and the events yielded, and reports
// whether ev is to be yielded: an event of a reattached run that was seen
// before the drop is not, nor is the snapshot's message_replace when it
// brings nothing new (its answer is empty while the run goes on).
func (rs *resumeState) admit(ev Event) bool {
	switch ev.name {
	case EventMessage, EventAgentMessage:
		rs.addText(ev.Text())
		return true
	case EventMessageReplace:
		m, err := ev.MessageReplace()
		if err != nil {
			return true
		}
		if rs.reattached && (m.Answer == "" || rs.sameText(m.Answer)) {
			return false
		}
		rs.setText(m.Answer)
		rs.fromStore = false
		return true
	case EventPing, EventError, EventTTSMessage, EventTextChunk, EventReasoningChunk, EventAgentThought, EventAgentLog:
		return true
	}
	key := eventKey(ev.name, ev.data)
	if key != "" {
		if _, dup := rs.seen[key]; dup && rs.reattached {
			return false
		}
		if len(rs.seen) < maxSeenEvents {
			rs.seen[key] = struct{}{}
		}
	}
	if ev.name == EventMessageEnd {
		rs.msgEnded = true
	}
	return true
}

// eventKey identifies an event for removing duplicates: its name and the
// execution id of its data (node events are identified by data.id), or
// the form token, or the id of a message_file; "" for an event that has
// none.
func eventKey(name, data string) string {
	if name == EventMessageEnd || name == EventTTSMessageEnd {
		return name
	}
	var v struct {
		ID   string `json:"id"`
		Data struct {
			ID         string          `json:"id"`
			FormToken  string          `json:"form_token"`
			Index      json.RawMessage `json:"index"`
			RetryIndex json.RawMessage `json:"retry_index"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(data), &v) != nil {
		return ""
	}
	id := v.Data.ID
	if name == EventHumanInputRequired && v.Data.FormToken != "" {
		id = v.Data.FormToken
	}
	if id == "" {
		id = v.ID
	}
	if id == "" {
		return ""
	}
	key := name + "\x00" + id
	switch name {
	case EventIterationNext, EventLoopNext:
		key += "\x00" + string(v.Data.Index)
	case EventNodeRetry:
		key += "\x00" + string(v.Data.RetryIndex)
	}
	return key
}

// canResume reports whether the stream may resume after err.
func (s *Stream) canResume(err error) bool {
	if s.rs == nil || s.client == nil || s.RunID() == "" || s.abandonedBy(err) {
		return false
	}
	var ie *incompleteError
	return errors.As(err, &ie) && !errors.Is(err, ErrEventTooLarge)
}

// resumeError is the error of a stream that could not be resumed: it
// matches ErrIncompleteStream, the cause of the drop, and why resuming
// failed.
type resumeError struct {
	drop   error // the incompleteError of the drop
	failed error // why resuming failed; may be nil
	detail string
}

func (e *resumeError) Error() string {
	msg := e.drop.Error() + "; resuming failed: " + e.detail
	if e.failed != nil {
		msg += ": " + e.failed.Error()
	}
	return msg
}

func (e *resumeError) Unwrap() []error {
	if e.failed == nil {
		return []error{e.drop}
	}
	return []error{e.drop, e.failed}
}

// resume reattaches to the run after the connection dropped with drop, or
// learns from the run's state that it has ended. It returns nil when the
// stream can go on (with a new connection, or with the run's final events
// queued), or the stream's error.
func (s *Stream) resume(drop error) error {
	rs := s.rs
	if rs.deadline.IsZero() {
		rs.deadline = time.Now().Add(resumeBudget)
	}
	fail := func(failed error, format string, args ...any) error {
		return &resumeError{drop: drop, failed: failed, detail: fmt.Sprintf(format, args...)}
	}
	if rs.resumes >= maxResumes {
		if errors.Is(drop, ErrIdleTimeout) {
			return fail(nil, "the stream was cut %d times, the last time by a stall (the server went silent)", rs.resumes+1)
		}
		return fail(nil, "the connection dropped %d times", rs.resumes+1)
	}
	run := s.RunID()
	if err := transport.CheckID("workflow run id", run); err != nil {
		return fail(err, "no usable run id")
	}
	rs.resumes++
	s.resumed.Store(true)
	if !rs.msgEnded {
		rs.gap = true
	}
	s.dropConn(drop)
	ctx := s.sctx
	failures := 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			wait := min(250*time.Millisecond<<min(attempt-1, 8), resumeWaitMax)
			if time.Now().Add(wait).After(rs.deadline) {
				return fail(nil, "gave up after %v", resumeBudget)
			}
			if err := s.client.tr.Sleep(ctx, wait); err != nil {
				return fail(endCause(ctx, err), "waiting to reattach")
			}
		}
		if !rs.noReattach {
			ns, err := s.client.openStream(ctx, s.user, streamOpts{}, s.client.workflowEventsRequest(run, s.user, workflowEventsConfig{
				continueOnPause: s.reattachCfg.continueOnPause,
				lastEventID:     rs.lastID,
			}))
			if err == nil {
				if err := s.adopt(ns); err != nil {
					return fail(err, "reattaching")
				}
				rs.reattached = true
				return nil
			}
			if ctx.Err() != nil {
				return fail(endCause(ctx, err), "reattaching")
			}
			switch {
			case errors.Is(err, ErrNotFound), errors.Is(err, ErrEndpointNotFound):
				// Not visible yet, or not served: ask the run's state.
			case reattachUnavailable(err):
				rs.noReattach = true
			default:
				if failures++; failures >= maxResumeFailures {
					return fail(err, "reattaching to run %s", run)
				}
				continue
			}
		}
		wr, err := s.client.WorkflowRun(ctx, run)
		if err != nil {
			if ctx.Err() != nil {
				return fail(endCause(ctx, err), "reading the run's state")
			}
			if failures++; failures >= maxResumeFailures {
				return fail(err, "reading the state of run %s", run)
			}
			continue
		}
		switch wr.Status {
		case "running":
			failures = 0
			continue
		case "":
			if failures++; failures >= maxResumeFailures {
				return fail(nil, "the server does not tell the state of run %s", run)
			}
			continue
		}
		// The run has ended (or paused) while the connection was down,
		// and it cannot be reattached to: end with events rebuilt from
		// its state.
		s.terminal.Store(true)
		s.timing.End = time.Now()
		s.timing.RunElapsed = time.Duration(float64(wr.ElapsedTime) * float64(time.Second))
		rs.held = append(rs.held, s.runEndEvent(wr))
		s.settle()
		return nil
	}
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
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.StatusCode == http.StatusMethodNotAllowed || ae.StatusCode == http.StatusNotImplemented ||
		ae.Code == "not_workflow_app"
}

// adopt makes the connection of ns the stream's own.
func (s *Stream) adopt(ns *Stream) error {
	s.segMu.Lock()
	defer s.segMu.Unlock()
	if cause := context.Cause(s.sctx); cause != nil {
		ns.release(cause)
		return cause
	}
	s.body, s.dec, s.ctx, s.cancel = ns.body, ns.dec, ns.ctx, ns.cancel
	s.hr.Store(nil)
	return nil
}

// runEndEvent rebuilds the final event of a run from its state:
// workflow_paused for a paused run, workflow_finished otherwise.
func (s *Stream) runEndEvent(wr *WorkflowRun) Event {
	head := struct {
		Event          string `json:"event"`
		TaskID         string `json:"task_id,omitempty"`
		WorkflowRunID  string `json:"workflow_run_id"`
		ConversationID string `json:"conversation_id,omitempty"`
		MessageID      string `json:"message_id,omitempty"`
		CreatedAt      int64  `json:"created_at"`
		Data           any    `json:"data"`
	}{TaskID: s.TaskID(), WorkflowRunID: s.RunID(), ConversationID: s.conversationID, MessageID: s.messageID, CreatedAt: time.Now().Unix()}
	if wr.Status == "paused" {
		head.Event = EventWorkflowPaused
		head.Data = gen.WorkflowPausedEventData{WorkflowRunID: s.RunID(), Status: wr.Status, Outputs: wr.Outputs,
			CreatedAt: wr.CreatedAt, ElapsedTime: wr.ElapsedTime, TotalSteps: wr.TotalSteps, TotalTokens: wr.TotalTokens}
	} else {
		head.Event = EventWorkflowFinished
		head.Data = gen.WorkflowFinishedEventData{ID: wr.ID, Status: wr.Status, Outputs: wr.Outputs, Error: wr.Error,
			ElapsedTime: wr.ElapsedTime, TotalSteps: wr.TotalSteps, TotalTokens: wr.TotalTokens,
			CreatedAt: wr.CreatedAt, FinishedAt: wr.FinishedAt}
	}
	b, _ := json.Marshal(head)
	return Event{name: head.Event, data: string(b)}
}

// settle ends a stream whose run has ended: when answer text may have been
// lost, it reads the answer the server stored and, if the text yielded
// differs, queues a message_replace carrying it; then it queues the held
// terminal events. Nothing is read from the connection after it.
func (s *Stream) settle() {
	rs := s.rs
	if rs.gap && !rs.settled {
		rs.settled = true
		if m := s.storedMessage(); m != nil && (m.Answer != "" || rs.textLen == 0) {
			rs.fromStore = true
			if !rs.sameText(m.Answer) {
				s.pending = append(s.pending, s.replaceEvent(m.Answer))
				rs.setText(m.Answer)
				s.resumed.Store(true) // the answer comes from the server's record
			}
		}
	}
	rs.settled = true
	s.pending = append(s.pending, rs.takeHeld()...)
	s.finished = true
}

// replaceEvent builds the message_replace that carries the stored answer.
func (s *Stream) replaceEvent(answer string) Event {
	b, _ := json.Marshal(struct {
		Event          string `json:"event"`
		TaskID         string `json:"task_id,omitempty"`
		ConversationID string `json:"conversation_id,omitempty"`
		MessageID      string `json:"message_id,omitempty"`
		CreatedAt      int64  `json:"created_at"`
		Answer         string `json:"answer"`
		Reason         string `json:"reason"`
	}{EventMessageReplace, s.TaskID(), s.conversationID, s.messageID, time.Now().Unix(), answer, ReasonResumed})
	return Event{name: EventMessageReplace, data: string(b)}
}

// storedMessage finds the stream's message among the newest messages of
// its conversation (GET /messages), or returns nil.
func (s *Stream) storedMessage() *Message {
	if s.conversationID == "" || s.messageID == "" || transport.CheckID("conversation id", s.conversationID) != nil {
		return nil
	}
	n := 0
	for m, err := range s.client.Messages(s.sctx, s.conversationID, s.user, WithPageSize(20)) {
		if err != nil {
			return nil
		}
		if m.ID == s.messageID {
			return &m
		}
		if n++; n >= storedMessageScan {
			return nil
		}
	}
	return nil
}
