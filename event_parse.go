package chatflow

import "github.com/difykit/chatflow/internal/jsonscan"

// ParseEvent returns the Event whose JSON object is data, named by its
// "event" field: the events of the other app types' streams (packages
// workflow and completion) are Events too, with the same accessors.
func ParseEvent(data []byte) Event {
	s := string(data)
	return Event{name: jsonscan.EventName(s, knownTypes), data: s}
}
