package stream

import "github.com/difykit/chatflow/internal/transport"

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
