package chatflow

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/difykit/chatflow/gen"
)

// Names of the events of a chatflow stream, as returned by Event.Name.
const (
	EventMessage                = string(gen.EventNameMessage)
	EventMessageEnd             = string(gen.EventNameMessageEnd)
	EventMessageReplace         = string(gen.EventNameMessageReplace)
	EventMessageFile            = string(gen.EventNameMessageFile)
	EventAgentMessage           = string(gen.EventNameAgentMessage)
	EventAgentThought           = string(gen.EventNameAgentThought)
	EventAgentLog               = string(gen.EventNameAgentLog)
	EventTTSMessage             = string(gen.EventNameTtsMessage)
	EventTTSMessageEnd          = string(gen.EventNameTtsMessageEnd)
	EventWorkflowStarted        = string(gen.EventNameWorkflowStarted)
	EventWorkflowFinished       = string(gen.EventNameWorkflowFinished)
	EventWorkflowPaused         = string(gen.EventNameWorkflowPaused)
	EventNodeStarted            = string(gen.EventNameNodeStarted)
	EventNodeFinished           = string(gen.EventNameNodeFinished)
	EventNodeRetry              = string(gen.EventNameNodeRetry)
	EventIterationStarted       = string(gen.EventNameIterationStarted)
	EventIterationNext          = string(gen.EventNameIterationNext)
	EventIterationCompleted     = string(gen.EventNameIterationCompleted)
	EventLoopStarted            = string(gen.EventNameLoopStarted)
	EventLoopNext               = string(gen.EventNameLoopNext)
	EventLoopCompleted          = string(gen.EventNameLoopCompleted)
	EventParallelBranchStarted  = string(gen.EventNameParallelBranchStarted)
	EventParallelBranchFinished = string(gen.EventNameParallelBranchFinished)
	EventHumanInputRequired     = string(gen.EventNameHumanInputRequired)
	EventHumanInputFormFilled   = string(gen.EventNameHumanInputFormFilled)
	EventHumanInputFormTimeout  = string(gen.EventNameHumanInputFormTimeout)
	EventReasoningChunk         = string(gen.EventNameReasoningChunk)
	EventTextChunk              = string(gen.EventNameTextChunk)
	EventError                  = string(gen.EventNameError)
	EventPing                   = string(gen.EventNamePing)
)

var allEventNames = []gen.EventName{
	gen.EventNameAgentLog, gen.EventNameAgentMessage, gen.EventNameAgentThought,
	gen.EventNameError, gen.EventNameHumanInputFormFilled, gen.EventNameHumanInputFormTimeout,
	gen.EventNameHumanInputRequired, gen.EventNameIterationCompleted, gen.EventNameIterationNext,
	gen.EventNameIterationStarted, gen.EventNameLoopCompleted, gen.EventNameLoopNext,
	gen.EventNameLoopStarted, gen.EventNameMessage, gen.EventNameMessageEnd,
	gen.EventNameMessageFile, gen.EventNameMessageReplace, gen.EventNameNodeFinished,
	gen.EventNameNodeRetry, gen.EventNameNodeStarted, gen.EventNameParallelBranchFinished,
	gen.EventNameParallelBranchStarted, gen.EventNamePing, gen.EventNameReasoningChunk,
	gen.EventNameTextChunk, gen.EventNameTtsMessage, gen.EventNameTtsMessageEnd,
	gen.EventNameWorkflowFinished, gen.EventNameWorkflowPaused, gen.EventNameWorkflowStarted,
}

// pingJSON is the payload of a ping event, which Dify sends without data.
const pingJSON = `{"event":"ping"}`

// Event is one event of a streamed reply. Its JSON payload is kept as it
// arrived and decoded on demand: Name is free, and the accessor of the
// event's kind (Message, NodeStarted, WorkflowFinished, ...) returns the
// generated payload type. An event of a kind this library does not know is
// still yielded; read it with Raw.
//
// Events are small values; they stay valid after the stream has moved on
// and may be kept or passed to other goroutines.
type Event struct {
	name string
	data string // the event's JSON object
}

// Name returns the event's name, such as "message", "node_started" or
// "workflow_finished" (the constants EventMessage, ...): the "event" field of
// its JSON, or, when the JSON has none, the SSE event field.
func (e Event) Name() string { return e.name }

// Raw returns a copy of the event's JSON object, as the server sent it.
// A ping, which Dify sends without data, is {"event":"ping"}.
func (e Event) Raw() json.RawMessage { return json.RawMessage(e.data) }

// String returns the event's name and the start of its JSON, for logs.
func (e Event) String() string {
	return e.name + " " + shorten(e.data, 120)
}

// WrongEventError is returned by a typed accessor of Event called on an
// event of another kind, such as NodeStarted on a "message" event.
type WrongEventError struct {
	Have, Want string // the event's name, and the name the accessor decodes
}

// Error says which event was asked for and which one it is.
func (e *WrongEventError) Error() string {
	return fmt.Sprintf("chatflow: event is %q, not %q", e.Have, e.Want)
}

// decodeAs decodes e's JSON into a T after checking that e is a want event.
func decodeAs[T any](e Event, want gen.EventName) (T, error) {
	var v T
	if e.name != string(want) {
		return v, &WrongEventError{Have: e.name, Want: string(want)}
	}
	if err := json.Unmarshal([]byte(e.data), &v); err != nil {
		return v, fmt.Errorf("chatflow: decode %s event: %w", e.name, err)
	}
	return v, nil
}

// Message returns the payload of a "message" event: a piece of the answer
// (field Answer). It is decoded by a fast path written for this event, with
// encoding/json's results.
func (e Event) Message() (gen.StreamEventChatMessage, error) {
	if e.name != EventMessage {
		return gen.StreamEventChatMessage{}, &WrongEventError{Have: e.name, Want: EventMessage}
	}
	var m gen.StreamEventChatMessage
	if decodeFlatMessage(e.data, &m) {
		return m, nil
	}
	return decodeAs[gen.StreamEventChatMessage](e, gen.EventNameMessage) // not flat: encoding/json
}

// AgentMessage returns the payload of an "agent_message" event, the answer
// piece of agent apps.
func (e Event) AgentMessage() (gen.StreamEventChatAgentMessage, error) {
	if e.name != EventAgentMessage {
		return gen.StreamEventChatAgentMessage{}, &WrongEventError{Have: e.name, Want: EventAgentMessage}
	}
	var m gen.StreamEventChatMessage
	if decodeFlatMessage(e.data, &m) {
		return gen.StreamEventChatAgentMessage(m), nil
	}
	return decodeAs[gen.StreamEventChatAgentMessage](e, gen.EventNameAgentMessage)
}

// MessageEnd returns the payload of a "message_end" event: the message id,
// usage, retriever resources and files.
func (e Event) MessageEnd() (gen.StreamEventChatMessageEnd, error) {
	return decodeAs[gen.StreamEventChatMessageEnd](e, gen.EventNameMessageEnd)
}

// MessageReplace returns the payload of a "message_replace" event, whose
// Answer replaces the whole answer so far (content moderation).
func (e Event) MessageReplace() (gen.StreamEventChatMessageReplace, error) {
	return decodeAs[gen.StreamEventChatMessageReplace](e, gen.EventNameMessageReplace)
}

// MessageFile returns the payload of a "message_file" event.
func (e Event) MessageFile() (gen.StreamEventChatMessageFile, error) {
	return decodeAs[gen.StreamEventChatMessageFile](e, gen.EventNameMessageFile)
}

// AgentThought returns the payload of an "agent_thought" event.
func (e Event) AgentThought() (gen.StreamEventChatAgentThought, error) {
	return decodeAs[gen.StreamEventChatAgentThought](e, gen.EventNameAgentThought)
}

// AgentLog returns the payload of an "agent_log" event.
func (e Event) AgentLog() (gen.StreamEventAgentLog, error) {
	return decodeAs[gen.StreamEventAgentLog](e, gen.EventNameAgentLog)
}

// TTSMessage returns the payload of a "tts_message" event (base64 audio,
// decoded into Audio).
func (e Event) TTSMessage() (gen.StreamEventChatTtsMessage, error) {
	return decodeAs[gen.StreamEventChatTtsMessage](e, gen.EventNameTtsMessage)
}

// TTSMessageEnd returns the payload of a "tts_message_end" event.
func (e Event) TTSMessageEnd() (gen.StreamEventChatTtsMessageEnd, error) {
	return decodeAs[gen.StreamEventChatTtsMessageEnd](e, gen.EventNameTtsMessageEnd)
}

// WorkflowStarted returns the payload of a "workflow_started" event.
func (e Event) WorkflowStarted() (gen.StreamEventWorkflowStarted, error) {
	return decodeAs[gen.StreamEventWorkflowStarted](e, gen.EventNameWorkflowStarted)
}

// WorkflowFinished returns the payload of a "workflow_finished" event: the
// run's status, outputs, error and totals.
func (e Event) WorkflowFinished() (gen.StreamEventWorkflowFinished, error) {
	return decodeAs[gen.StreamEventWorkflowFinished](e, gen.EventNameWorkflowFinished)
}

// WorkflowPaused returns the payload of a "workflow_paused" event.
func (e Event) WorkflowPaused() (gen.StreamEventWorkflowPaused, error) {
	return decodeAs[gen.StreamEventWorkflowPaused](e, gen.EventNameWorkflowPaused)
}

// NodeStarted returns the payload of a "node_started" event.
func (e Event) NodeStarted() (gen.StreamEventNodeStarted, error) {
	return decodeAs[gen.StreamEventNodeStarted](e, gen.EventNameNodeStarted)
}

// NodeFinished returns the payload of a "node_finished" event.
func (e Event) NodeFinished() (gen.StreamEventNodeFinished, error) {
	return decodeAs[gen.StreamEventNodeFinished](e, gen.EventNameNodeFinished)
}

// NodeRetry returns the payload of a "node_retry" event.
func (e Event) NodeRetry() (gen.StreamEventNodeRetry, error) {
	return decodeAs[gen.StreamEventNodeRetry](e, gen.EventNameNodeRetry)
}

// IterationStarted returns the payload of an "iteration_started" event.
func (e Event) IterationStarted() (gen.StreamEventIterationStarted, error) {
	return decodeAs[gen.StreamEventIterationStarted](e, gen.EventNameIterationStarted)
}

// IterationNext returns the payload of an "iteration_next" event.
func (e Event) IterationNext() (gen.StreamEventIterationNext, error) {
	return decodeAs[gen.StreamEventIterationNext](e, gen.EventNameIterationNext)
}

// IterationCompleted returns the payload of an "iteration_completed" event.
func (e Event) IterationCompleted() (gen.StreamEventIterationCompleted, error) {
	return decodeAs[gen.StreamEventIterationCompleted](e, gen.EventNameIterationCompleted)
}

// LoopStarted returns the payload of a "loop_started" event.
func (e Event) LoopStarted() (gen.StreamEventLoopStarted, error) {
	return decodeAs[gen.StreamEventLoopStarted](e, gen.EventNameLoopStarted)
}

// LoopNext returns the payload of a "loop_next" event.
func (e Event) LoopNext() (gen.StreamEventLoopNext, error) {
	return decodeAs[gen.StreamEventLoopNext](e, gen.EventNameLoopNext)
}

// LoopCompleted returns the payload of a "loop_completed" event.
func (e Event) LoopCompleted() (gen.StreamEventLoopCompleted, error) {
	return decodeAs[gen.StreamEventLoopCompleted](e, gen.EventNameLoopCompleted)
}

// HumanInputRequired returns the payload of a "human_input_required" event:
// the form to fill in and its token.
func (e Event) HumanInputRequired() (gen.StreamEventHumanInputRequired, error) {
	return decodeAs[gen.StreamEventHumanInputRequired](e, gen.EventNameHumanInputRequired)
}

// HumanInputFormFilled returns the payload of a "human_input_form_filled" event.
func (e Event) HumanInputFormFilled() (gen.StreamEventHumanInputFormFilled, error) {
	return decodeAs[gen.StreamEventHumanInputFormFilled](e, gen.EventNameHumanInputFormFilled)
}

// HumanInputFormTimeout returns the payload of a "human_input_form_timeout" event.
func (e Event) HumanInputFormTimeout() (gen.StreamEventHumanInputFormTimeout, error) {
	return decodeAs[gen.StreamEventHumanInputFormTimeout](e, gen.EventNameHumanInputFormTimeout)
}

// ReasoningChunk returns the payload of a "reasoning_chunk" event.
func (e Event) ReasoningChunk() (gen.StreamEventChatReasoningChunk, error) {
	return decodeAs[gen.StreamEventChatReasoningChunk](e, gen.EventNameReasoningChunk)
}

// TextChunk returns the payload of a "text_chunk" event.
func (e Event) TextChunk() (gen.StreamEventChatTextChunk, error) {
	return decodeAs[gen.StreamEventChatTextChunk](e, gen.EventNameTextChunk)
}

// Ping returns the payload of a "ping" event (only its name).
func (e Event) Ping() (gen.StreamEventChatPing, error) {
	return decodeAs[gen.StreamEventChatPing](e, gen.EventNamePing)
}

// ErrorEvent returns the payload of an "error" event. Events never yields
// one: an error event ends the stream with an *APIError made from it.
func (e Event) ErrorEvent() (gen.StreamEventChatError, error) {
	return decodeAs[gen.StreamEventChatError](e, gen.EventNameError)
}

// ParallelBranchStarted returns the payload of a "parallel_branch_started"
// event (sent by older servers).
func (e Event) ParallelBranchStarted() (gen.StreamEventParallelBranchStarted, error) {
	return decodeAs[gen.StreamEventParallelBranchStarted](e, gen.EventNameParallelBranchStarted)
}

// ParallelBranchFinished returns the payload of a "parallel_branch_finished"
// event (sent by older servers).
func (e Event) ParallelBranchFinished() (gen.StreamEventParallelBranchFinished, error) {
	return decodeAs[gen.StreamEventParallelBranchFinished](e, gen.EventNameParallelBranchFinished)
}

// Payload decodes the event into the payload type of its kind and returns a
// pointer to it, such as *gen.StreamEventNodeStarted for "node_started"; for
// an event of a kind this library does not know it returns the raw JSON
// (json.RawMessage).
func (e Event) Payload() (any, error) {
	switch e.name {
	case EventMessage:
		return payloadPtr(e.Message())
	case EventAgentMessage:
		return payloadPtr(e.AgentMessage())
	case EventMessageEnd:
		return payloadPtr(e.MessageEnd())
	case EventMessageReplace:
		return payloadPtr(e.MessageReplace())
	case EventMessageFile:
		return payloadPtr(e.MessageFile())
	case EventAgentThought:
		return payloadPtr(e.AgentThought())
	case EventAgentLog:
		return payloadPtr(e.AgentLog())
	case EventTTSMessage:
		return payloadPtr(e.TTSMessage())
	case EventTTSMessageEnd:
		return payloadPtr(e.TTSMessageEnd())
	case EventWorkflowStarted:
		return payloadPtr(e.WorkflowStarted())
	case EventWorkflowFinished:
		return payloadPtr(e.WorkflowFinished())
	case EventWorkflowPaused:
		return payloadPtr(e.WorkflowPaused())
	case EventNodeStarted:
		return payloadPtr(e.NodeStarted())
	case EventNodeFinished:
		return payloadPtr(e.NodeFinished())
	case EventNodeRetry:
		return payloadPtr(e.NodeRetry())
	case EventIterationStarted:
		return payloadPtr(e.IterationStarted())
	case EventIterationNext:
		return payloadPtr(e.IterationNext())
	case EventIterationCompleted:
		return payloadPtr(e.IterationCompleted())
	case EventLoopStarted:
		return payloadPtr(e.LoopStarted())
	case EventLoopNext:
		return payloadPtr(e.LoopNext())
	case EventLoopCompleted:
		return payloadPtr(e.LoopCompleted())
	case EventParallelBranchStarted:
		return payloadPtr(e.ParallelBranchStarted())
	case EventParallelBranchFinished:
		return payloadPtr(e.ParallelBranchFinished())
	case EventHumanInputRequired:
		return payloadPtr(e.HumanInputRequired())
	case EventHumanInputFormFilled:
		return payloadPtr(e.HumanInputFormFilled())
	case EventHumanInputFormTimeout:
		return payloadPtr(e.HumanInputFormTimeout())
	case EventReasoningChunk:
		return payloadPtr(e.ReasoningChunk())
	case EventTextChunk:
		return payloadPtr(e.TextChunk())
	case EventPing:
		return payloadPtr(e.Ping())
	case EventError:
		return payloadPtr(e.ErrorEvent())
	}
	return e.Raw(), nil
}

func payloadPtr[T any](v T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// ---- JSON scanning -------------------------------------------------------
//
// A small strict JSON scanner over strings: enough to find top-level keys
// without decoding the whole object, and to decode the flat "message"
// event. Whenever it meets something it does not handle exactly as
// encoding/json would, it gives up and the caller falls back to
// encoding/json.

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isJSONSpace(s[i]) {
		i++
	}
	return i
}

// trimJSONSpace removes JSON white space around s.
func trimJSONSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isJSONSpace(s[i]) {
		i++
	}
	for j > i && isJSONSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// scanString checks the JSON string starting at s[i] == '"' and returns
// the index after its closing quote, whether it holds escapes, and whether
// it holds bytes outside ASCII.
func scanString(s string, i int) (end int, esc, nonASCII, ok bool) {
	i++
	for i < len(s) {
		c := s[i]
		if plainByte[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, esc, nonASCII, true
		case c == '\\':
			esc = true
			if i+1 >= len(s) {
				return 0, false, false, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return 0, false, false, false
				}
				i += 6
			default:
				return 0, false, false, false
			}
		case c < 0x20:
			return 0, false, false, false
		default: // outside ASCII
			nonASCII = true
			i++
		}
	}
	return 0, false, false, false
}

// plainByte tells the bytes of a JSON string that need no attention: ASCII,
// not a control character, not a quote or a backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanNumber checks the JSON number starting at s[i] and returns the index
// after it and whether it is an integer (no fraction, no exponent).
func scanNumber(s string, i int) (end int, integer, ok bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return 0, false, false
	}
	switch {
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return 0, false, false
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		integer = false
		i++
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false, false
		}
	}
	return i, integer, true
}

const maxScanDepth = 64

// skipValue checks the JSON value starting at s[i] (no leading space) and
// returns the index after it.
func skipValue(s string, i, depth int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c == '"':
		end, _, _, ok := scanString(s, i)
		return end, ok
	case c == '{' || c == '[':
		if depth >= maxScanDepth {
			return 0, false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == closing {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return 0, false
				}
				end, _, _, ok := scanString(s, i)
				if !ok {
					return 0, false
				}
				i = skipSpace(s, end)
				if i >= len(s) || s[i] != ':' {
					return 0, false
				}
				i = skipSpace(s, i+1)
			}
			var ok bool
			if i, ok = skipValue(s, i, depth+1); !ok {
				return 0, false
			}
			i = skipSpace(s, i)
			if i >= len(s) {
				return 0, false
			}
			if s[i] == closing {
				return i + 1, true
			}
			if s[i] != ',' {
				return 0, false
			}
			i = skipSpace(s, i+1)
		}
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == 'n':
		return literal(s, i, "null")
	default:
		end, _, ok := scanNumber(s, i)
		return end, ok
	}
}

func literal(s string, i int, lit string) (int, bool) {
	if strings.HasPrefix(s[i:], lit) {
		return i + len(lit), true
	}
	return 0, false
}

// unquote decodes the JSON string s[i:end] (quotes included) as
// encoding/json does. It reports false for invalid UTF-8, which
// encoding/json replaces byte by byte; the caller then falls back.
func unquote(s string, i, end int, esc, nonASCII bool) (string, bool) {
	raw := s[i+1 : end-1]
	if !esc {
		if nonASCII && !utf8.ValidString(raw) {
			return "", false
		}
		return raw, true
	}
	b := make([]byte, 0, len(raw))
	for k := 0; k < len(raw); {
		c := raw[k]
		if c != '\\' {
			if c < utf8.RuneSelf {
				b = append(b, c)
				k++
				continue
			}
			r, size := utf8.DecodeRuneInString(raw[k:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			b = append(b, raw[k:k+size]...)
			k += size
			continue
		}
		switch raw[k+1] {
		case '"', '\\', '/':
			b = append(b, raw[k+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[k+2 : k+6])
			k += 6
			if utf16.IsSurrogate(r) {
				if k+6 <= len(raw) && raw[k] == '\\' && raw[k+1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(raw[k+2:k+6])); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						k += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		}
		k += 2
	}
	return string(b), true
}

func hex4(h string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := h[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// topLevelString returns the string value of key in the JSON object s, or
// "" if s has no such key, its value is not a string, or s is not valid
// as far as it was read.
func topLevelString(s, key string) string {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return ""
	}
	i = skipSpace(s, i+1)
	for i < len(s) && s[i] == '"' {
		end, esc, _, ok := scanString(s, i)
		if !ok {
			return ""
		}
		k := s[i+1 : end-1]
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return ""
		}
		i = skipSpace(s, i+1)
		if !esc && k == key {
			if i < len(s) && s[i] == '"' {
				end, esc, nonASCII, ok := scanString(s, i)
				if !ok {
					return ""
				}
				v, _ := unquote(s, i, end, esc, nonASCII)
				return v
			}
			return ""
		}
		if i, ok = skipValue(s, i, 0); !ok {
			return ""
		}
		i = skipSpace(s, i)
		if i >= len(s) || s[i] != ',' {
			return ""
		}
		i = skipSpace(s, i+1)
	}
	return ""
}

// eventName finds the "event" field of the JSON object s, looking first
// where Dify puts it (the first key).
func eventName(s string) string {
	const prefix = `"event"`
	i := skipSpace(s, 1) // s[0] == '{'
	if strings.HasPrefix(s[i:], prefix) {
		i = skipSpace(s, i+len(prefix))
		if i < len(s) && s[i] == ':' {
			i = skipSpace(s, i+1)
			if i < len(s) && s[i] == '"' {
				j := strings.IndexByte(s[i+1:], '"')
				if j >= 0 {
					name := s[i+1 : i+1+j]
					if strings.IndexByte(name, '\\') < 0 {
						if n, ok := knownTypes[name]; ok {
							return n
						}
						return name
					}
				}
			}
		}
	}
	return topLevelString(s, "event")
}

// flatKeys are the keys of a "message" event that decodeFlatMessage fills.
var flatKeys = [...]string{"answer", "conversation_id", "created_at", "event", "message_id", "task_id"}

// foldsToFlatKey reports whether key is not one of flatKeys but
// encoding/json would still match it to one (it matches keys without
// regard to case), or might (keys outside ASCII).
func foldsToFlatKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, k := range flatKeys {
		if len(k) == len(key) && strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// decodeFlatMessage decodes the JSON object s into m, the hot path of a
// stream (one "message" event per token of the answer). Strings without
// escapes are taken from s without copying. It returns false, leaving m in
// any state, for input it does not decode exactly as encoding/json would
// (including every invalid input).
func decodeFlatMessage(s string, m *gen.StreamEventChatMessage) bool {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return skipSpace(s, i+1) == len(s)
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return false
		}
		end, esc, _, ok := scanString(s, i)
		if !ok || esc {
			return false
		}
		key := s[i+1 : end-1]
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipSpace(s, i+1)
		if i >= len(s) {
			return false
		}
		var dst *string
		switch key {
		case "answer":
			dst = &m.Answer
		case "conversation_id":
			dst = &m.ConversationID
		case "message_id":
			dst = &m.MessageID
		case "task_id":
			dst = &m.TaskID
		case "event":
			v, null, end, ok := flatString(s, i)
			if !ok {
				return false
			}
			if !null {
				if n, known := knownTypes[v]; known {
					v = n
				}
				m.Event = gen.EventName(v)
			}
			i = end
		case "created_at":
			if s[i] == 'n' {
				if i, ok = literal(s, i, "null"); !ok {
					return false
				}
				break
			}
			end, integer, ok := scanNumber(s, i)
			if !ok || !integer {
				return false
			}
			n, err := strconv.ParseInt(s[i:end], 10, 64)
			if err != nil {
				return false
			}
			m.CreatedAt, i = n, end
		default:
			if foldsToFlatKey(key) {
				return false
			}
			if i, ok = skipValue(s, i, 0); !ok {
				return false
			}
		}
		if dst != nil {
			v, null, end, ok := flatString(s, i)
			if !ok {
				return false
			}
			if !null {
				*dst = v
			}
			i = end
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return skipSpace(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// flatString decodes the string or null at s[i] (encoding/json leaves a
// field unchanged for null).
func flatString(s string, i int) (v string, null bool, end int, ok bool) {
	if s[i] == 'n' {
		end, ok = literal(s, i, "null")
		return "", true, end, ok
	}
	if s[i] != '"' {
		return "", false, 0, false
	}
	end, esc, nonASCII, ok := scanString(s, i)
	if !ok {
		return "", false, 0, false
	}
	v, ok = unquote(s, i, end, esc, nonASCII)
	return v, false, end, ok
}
