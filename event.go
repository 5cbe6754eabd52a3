package chatflow

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/stream"
	"github.com/difykit/chatflow/internal/transport"
)

// The event constants (EventMessage, ...), the payload aliases
// (MessageEvent, NodeStartedEvent, ...), one accessor per event kind
// (Message, NodeStarted, ...) and Payload are generated from the API
// description into events_gen.go by internal/cmd/genevents.

// pingJSON is the payload of a ping event, which Dify sends without data.
const pingJSON = `{"event":"ping"}`

// Event is one event of a streamed reply. Its JSON payload is kept as it
// arrived and decoded on demand: Name is free, Text gives the answer text
// of a "message" event, and the accessor of the event's kind (Message,
// NodeStarted, WorkflowFinished, ...) returns its payload type
// (MessageEvent, NodeStartedEvent, ...), whose pointer fields to objects
// (Data, Metadata) are never nil. An event of a kind this library does not
// know is still yielded; read it with Raw.
//
// Events are small values; they stay valid after the stream has moved on
// and may be kept or passed to other goroutines.
type Event struct {
	name string
	data string // the event's JSON object
	// flat is the payload of a message or agent_message event that the
	// stream decoded already (to read its text for resume), valid when
	// hasFlat: the accessors share it instead of decoding data again.
	flat    gen.StreamEventChatMessage
	hasFlat bool
}

// Name returns the event's name, such as "message", "node_started" or
// "workflow_finished" (the constants EventMessage, ...): the "event" field of
// its JSON, or, when the JSON has none, the SSE event field. A JSON object
// that repeats the field is read as encoding/json reads it (and as the
// accessors do): the last one counts.
func (e Event) Name() string { return e.name }

// Raw returns a copy of the event's JSON object, as the server sent it.
// A ping, which Dify sends without data, is {"event":"ping"}.
func (e Event) Raw() json.RawMessage { return json.RawMessage(e.data) }

// String returns the event's name and the start of its JSON, for logs.
func (e Event) String() string {
	return e.name + " " + transport.Shorten(e.data, 120)
}

// Text returns the piece of answer text that a "message" (or, in agent
// apps, "agent_message") event carries, to be appended to what came
// before; for every other event, and for one whose JSON cannot be decoded,
// it returns "". It does not report "message_replace", whose answer
// replaces the text so far: use MessageReplace (or Collect) for that.
func (e Event) Text() string {
	switch e.name {
	case EventMessage:
		if m, err := e.Message(); err == nil {
			return m.Answer
		}
	case EventAgentMessage:
		if m, err := e.AgentMessage(); err == nil {
			return m.Answer
		}
	}
	return ""
}

// decodeAs decodes e's JSON into a T after checking that e is a want event.
func decodeAs[T any](e Event, want string) (T, error) {
	var v T
	if e.name != want {
		return v, &WrongEventError{Have: e.name, Want: want}
	}
	if err := json.Unmarshal([]byte(e.data), &v); err != nil {
		return v, fmt.Errorf("chatflow: decode %s event: %w", e.name, err)
	}
	return v, nil
}

// decodeFlatAs is decodeAs for the payloads shaped like a "message" event
// (one per token of the answer): jsonscan's fast path, with encoding/json's
// results, and encoding/json where it gives up.
func decodeFlatAs[T flatPayload](e Event, want string) (T, error) {
	if e.name != want {
		return T{}, &WrongEventError{Have: e.name, Want: want}
	}
	if e.hasFlat {
		return T(e.flat), nil
	}
	var m gen.StreamEventChatMessage
	if decodeFlatMessage(e.data, &m) {
		return T(m), nil
	}
	return decodeAs[T](e, want)
}

// decodedText is the engine's reader of answer text for one stream: it
// keeps the last message (or agent_message) event it decoded, so that the
// event the stream then yields carries the decoded payload (see
// Stream.Events) and each event's bytes are decoded once.
type decodedText struct {
	data string
	flat gen.StreamEventChatMessage
	ok   bool // flat is data's payload
}

// vocabulary returns chatEvents with text readers that keep what they
// decode in d.
func (d *decodedText) vocabulary() *stream.Vocabulary {
	v := *chatEvents
	v.Text = map[string]func(string) string{EventMessage: d.reader(EventMessage), EventAgentMessage: d.reader(EventAgentMessage)}
	v.Name = d.name
	return &v
}

// name reads the name of the event data as jsonscan.EventName does. When
// its fast path is unsure (an escape in a message's answer, a later key
// that might also be "event") of an event whose front names a message,
// the message is decoded, which reads every key: its name comes from that
// decoding, which the text reader then reuses.
func (d *decodedText) name(data string) string {
	front, sure := jsonscan.FrontEventName(data, knownTypes)
	if sure || (front != EventMessage && front != EventAgentMessage) {
		if sure {
			return front
		}
		return jsonscan.EventName(data, knownTypes)
	}
	d.data, d.ok = data, decodeFlatMessage(data, &d.flat)
	if d.ok && d.flat.Event != "" && !strings.ContainsRune(string(d.flat.Event), utf8.RuneError) {
		return string(d.flat.Event)
	}
	return jsonscan.EventName(data, knownTypes)
}

func (d *decodedText) reader(name string) func(string) string {
	return func(data string) string {
		if !d.ok || d.data != data {
			d.data, d.ok = data, decodeFlatMessage(data, &d.flat)
		}
		if d.ok {
			return d.flat.Answer
		}
		return Event{name: name, data: data}.Text()
	}
}

// event returns the event the engine yields, with the payload d decoded
// if it is that event's.
func (d *decodedText) event(name, data string) Event {
	ev := Event{name: name, data: data}
	if d != nil && d.ok && d.data == data && (name == EventMessage || name == EventAgentMessage) {
		ev.flat, ev.hasFlat = d.flat, true
	}
	return ev
}

// payloadPtr returns a pointer to v, for Payload.
func payloadPtr[T any](v T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// knownTypes interns the event names of the API description: a known name
// read from a stream costs no allocation.
var knownTypes = func() map[string]string {
	m := make(map[string]string, len(allEventNames))
	for _, n := range allEventNames {
		m[string(n)] = string(n)
	}
	return m
}()

// chatEvents is what the stream engine knows of a chat app's events: a
// run ends at message_end, workflow_finished or workflow_paused; message
// and agent_message carry the answer text, message_replace replaces it.
var chatEvents = &stream.Vocabulary{
	Names:       knownTypes,
	Ping:        EventPing,
	PingData:    pingJSON,
	Error:       EventError,
	Terminal:    []string{EventMessageEnd, EventWorkflowFinished, EventWorkflowPaused},
	AnswerEnd:   EventMessageEnd,
	RunFinished: EventWorkflowFinished,
	RunPaused:   EventWorkflowPaused,
	Text: map[string]func(string) string{
		EventMessage:      func(data string) string { return Event{name: EventMessage, data: data}.Text() },
		EventAgentMessage: func(data string) string { return Event{name: EventAgentMessage, data: data}.Text() },
	},
	Replace: EventMessageReplace,
	ReplaceText: func(data string) (string, bool) {
		m, err := Event{name: EventMessageReplace, data: data}.MessageReplace()
		return m.Answer, err == nil
	},
}

// decodeFlatMessage decodes the "message" event s into m with jsonscan's
// fast path; it returns false, leaving m in any state, where that path
// gives up.
func decodeFlatMessage(s string, m *gen.StreamEventChatMessage) bool {
	var f jsonscan.Message
	if !jsonscan.DecodeMessage(s, &f, knownTypes) {
		return false
	}
	*m = gen.StreamEventChatMessage{
		Answer:         f.Answer,
		ConversationID: f.ConversationID,
		CreatedAt:      f.CreatedAt,
		Event:          gen.EventName(f.Event),
		MessageID:      f.MessageID,
		TaskID:         f.TaskID,
	}
	return true
}
