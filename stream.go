package chatflow

import (
	"context"
	"iter"

	"github.com/difykit/chatflow/internal/stream"
)

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
	run      *stream.Stream // the engine: reading, resume, auto-stop
	maxReply int64          // bound of Collect; 0 means DefaultMaxReplyBytes
	text     *decodedText   // the payloads the engine decoded; nil: none
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
		for ev, err := range s.run.Events() {
			if !yield(s.text.event(ev.Name, ev.Data), err) {
				return
			}
		}
	}
}

// Close ends the stream and releases its connection. It may be called more
// than once, and from another goroutine while Events is running (which
// then ends with an error matching ErrIncompleteStream).
//
// Closing a stream before the run's end stops the run on the server (see
// WithAutoStop). A stream closed before any event carried the task id
// that the stop request needs goes on reading briefly, in the background,
// to learn it.
func (s *Stream) Close() error { return s.run.Close() }

// TaskID returns the id of the server task that produces the stream (the
// one Stop needs), known from the first event that carries one ("" before).
// It is never the workflow run id, which events rebuilt from the server's
// record of a run may carry as their task_id.
func (s *Stream) TaskID() string { return s.run.TaskID() }

// RunID returns the id of the workflow run behind the stream: for a chat
// message, the workflow_run_id of the first workflow event (or an
// X-Workflow-Run-ID header, on a server that sends one: Dify does not);
// for WorkflowEvents, the run asked for. It is "" while unknown. Pass it
// to Client.WorkflowEvents or Client.WorkflowRun.
func (s *Stream) RunID() string { return s.run.RunID() }

// Resumed reports whether the stream's connection dropped and the stream
// resumed from the server's record of the run (see WithResume), or its
// answer was completed from the answer the server stored (see
// Client.WorkflowEvents).
func (s *Stream) Resumed() bool { return s.run.Resumed() }

// Timing returns when the parts of the reply arrived so far. Call it from
// the goroutine that reads the stream, or after reading has ended.
func (s *Stream) Timing() Timing { return Timing(s.run.Timing()) }

// Stop asks the server to stop the generation (POST
// /chat-messages/{task_id}/stop, with the user of the request). The
// stream then ends with the run's final events. It fails if no event has
// carried a task id yet. After Stop, abandoning the stream sends no second
// stop request.
func (s *Stream) Stop(ctx context.Context) error { return s.run.Stop(ctx) }

// WaitStop waits until the background work that abandoning the stream
// started (learning the task id and sending the stop request, see
// WithAutoStop) has ended, or ctx is done. It returns at once when no such
// work is under way. A program about to exit calls it after Close so that
// the run it gave up on is stopped before the process ends.
func (s *Stream) WaitStop(ctx context.Context) error { return s.run.WaitStop(ctx) }
