package stream

import (
	"context"
	"net/http"
	"time"
)

// Server is what the engine asks of the server that runs a stream's run.
// An app package implements it with its own endpoints, for one stream: the
// requests are made for the user who started the run (Dify serves a run
// only to that user), with the flags of the stream's request.
//
// A Server whose app type lacks an endpoint says so: Reattach and RunState
// fail (a completion app cannot reattach; then give the stream no resume,
// see Config.Resume), StoredAnswer reports nothing found (a workflow app
// stores no message).
type Server interface {
	// Reattach sends the request that follows run runID's events again
	// (Dify's GET /workflow/{run_id}/events), and returns the reply as the
	// doer gave it; the engine checks that it is an event stream and
	// reads it. It fails with an error matching transport.ErrNotFound
	// when the run is not (yet) visible, and ErrEndpointNotFound, a 405,
	// 501 or not_workflow_app reply, or an ErrNotEventStream reply (which
	// the engine finds itself) when the server cannot reattach at all.
	Reattach(ctx context.Context, runID string, opts ReattachOptions) (*http.Response, error)
	// RunState reads the state of run runID (Dify's GET
	// /workflows/run/{id}).
	RunState(ctx context.Context, runID string) (RunState, error)
	// StoredAnswer returns the answer the server stored for message
	// messageID of conversation conversationID, and whether it found it.
	StoredAnswer(ctx context.Context, conversationID, messageID string) (answer string, found bool)
	// Stop stops the task taskID (the task_id of the run's live events).
	Stop(ctx context.Context, taskID string) error
}

// ReattachOptions are the flags of one reattach.
type ReattachOptions struct {
	// LastEventID is the SSE id of the last event that had one, to send
	// as Last-Event-ID ("" when none had).
	LastEventID string
	// LiveOnly asks for the run's live events only, without the state
	// snapshot (include_state_snapshot): the engine reads them for the
	// real task id of a run it has to stop.
	LiveOnly bool
}

// RunState is the state of a run, from which the engine rebuilds the
// run's final event when it cannot reattach to a run that ended while the
// connection was down.
type RunState struct {
	// Status is the run's status: "running", "paused", or how it ended
	// (succeeded, failed, stopped, ...); "" when the server does not say.
	Status string
	// Elapsed is how long the run took on the server (0 when unknown).
	Elapsed time.Duration
	// Data is the data object of the rebuilt final event
	// (Vocabulary.RunPaused for a paused run, RunFinished otherwise),
	// marshalled with encoding/json.
	Data any
}
