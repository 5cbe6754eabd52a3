package chatflow

import "time"

// Timing records when the parts of a streamed reply arrived, to tell a
// slow model from a buffering proxy: with a live stream the headers and
// the first event (Dify sends workflow_started at once) come quickly and
// the answer text follows as the model writes it; behind a proxy that
// buffers, the first event, the first text and the end all arrive at
// about the same late moment. Times are the client's clock; a zero time
// means "did not happen" (or a stream not made by this package's client).
type Timing struct {
	// Sent is when the request was sent.
	Sent time.Time `json:"sent,omitzero"`
	// Headers is when the reply's headers arrived.
	Headers time.Time `json:"headers,omitzero"`
	// FirstEvent is when the first event arrived (a ping counts).
	FirstEvent time.Time `json:"first_event,omitzero"`
	// FirstText is when the first piece of answer text arrived.
	FirstText time.Time `json:"first_text,omitzero"`
	// End is when the last terminal event (message_end,
	// workflow_finished, workflow_paused or error) arrived.
	End time.Time `json:"end,omitzero"`
	// RunElapsed is how long the run took on the server (elapsed_time of
	// workflow_finished or workflow_paused); 0 when unknown.
	RunElapsed time.Duration `json:"run_elapsed,omitzero"`
}

// ToHeaders returns how long the reply's headers took to arrive.
func (t Timing) ToHeaders() time.Duration { return since(t.Sent, t.Headers) }

// ToFirstEvent returns how long the first event took to arrive.
func (t Timing) ToFirstEvent() time.Duration { return since(t.Sent, t.FirstEvent) }

// ToFirstText returns how long the first answer text took to arrive.
func (t Timing) ToFirstText() time.Duration { return since(t.Sent, t.FirstText) }

// Total returns how long the whole reply took, from the request to the
// last terminal event.
func (t Timing) Total() time.Duration { return since(t.Sent, t.End) }

// since returns b-a, or 0 when either is unknown.
func since(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return b.Sub(a)
}
