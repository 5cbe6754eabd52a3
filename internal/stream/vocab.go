package stream

// Vocabulary is what the engine knows of an app type's events. Dify's
// app types share event names but not their meaning: a chat run ends at
// message_end and workflow_finished and carries its answer in message
// events; a completion ends at message_end; a workflow run ends at
// workflow_finished or workflow_paused and carries text in text_chunk.
type Vocabulary struct {
	// Names interns the event names of the app's API description: a
	// known name read from a stream costs no allocation.
	Names map[string]string
	// Ping names the keep-alive event that Dify sends without data; the
	// engine yields it with PingData as its data.
	Ping, PingData string
	// Error names the event that reports a failed run.
	Error string
	// Terminal lists the events that end a run's stream (besides Error),
	// in the order an error message names them.
	Terminal []string
	// AnswerEnd is the event after which the answer is whole: a
	// connection that drops after it has lost no answer text ("": none).
	AnswerEnd string
	// RunFinished and RunPaused are the events of a run that finished or
	// paused: the run's elapsed time is read from them (data.elapsed_time),
	// and they are rebuilt from the run's state when a stream cannot
	// reattach to a run that ended while its connection was down.
	RunFinished, RunPaused string
	// Text reads, for each event that carries answer text, the piece of
	// text it appends to the answer.
	Text map[string]func(data string) string
	// Replace names the event whose answer replaces the text so far
	// (message_replace; "" when the app has none), and ReplaceText reads
	// that answer (false when the event cannot be decoded). A resumed
	// stream yields a Replace event (reason ReasonResumed) to carry the
	// answer the server stored.
	Replace     string
	ReplaceText func(data string) (answer string, ok bool)
	// Name reads the name of an event from its data, a JSON object, as
	// jsonscan.EventName with Names does; nil means jsonscan.EventName.
	// An app may set it to read a name its text reader can decode along
	// the way.
	Name func(data string) string
	// Key identifies an event for dropping the ones a reattached run
	// sends again ("" for an event that is never dropped: chunks of text
	// or logs); nil means DifyEventKey.
	Key func(name, data string) string
}

// isTerminal reports whether name is one of v's terminal events.
func (v *Vocabulary) isTerminal(name string) bool {
	for _, t := range v.Terminal {
		if name == t {
			return true
		}
	}
	return false
}

func (v *Vocabulary) key(name, data string) string {
	if v.Key != nil {
		return v.Key(name, data)
	}
	return DifyEventKey(name, data)
}
