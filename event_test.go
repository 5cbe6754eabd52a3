package chatflow

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/difykit/chatflow/gen"
)

// checkMessageFastPath fails t when the fast decoder of "message" events
// accepts s but decodes it differently from encoding/json.
func checkMessageFastPath(t *testing.T, s string) {
	t.Helper()
	var fast gen.StreamEventChatMessage
	ok := decodeFlatMessage(s, &fast)
	var std gen.StreamEventChatMessage
	err := json.Unmarshal([]byte(s), &std)
	if ok && err != nil {
		t.Fatalf("fast path accepts %q, encoding/json fails: %v", s, err)
	}
	if ok && fast != std {
		t.Fatalf("fast path decodes %q as\n%+v\nencoding/json as\n%+v", s, fast, std)
	}
}

func TestMessageFastPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		fast bool // the fast path handles it
	}{
		{`{"event":"message","conversation_id":"c","message_id":"m","created_at":1775993023,"task_id":"t","id":"m","answer":"Hi"}`, true},
		{`{"event": "message", "answer": "a", "from_variable_selector": ["1775", "text"], "metadata": {"x": [1, 2.5e3, true, null, {"y": "z"}]}}`, true},
		{` { "answer" : "x" } `, true},
		{`{}`, true},
		{`{"answer":null,"created_at":null,"event":null}`, true},
		{`{"answer":"a","answer":"b"}`, true},
		{`{"answer":"a","answer":null}`, true},
		{`{"answer":"line\nbreak \"quoted\" back\\slash \/ \b\f\r\t"}`, true},
		{`{"answer":"\u00e9\u4e2d\uD83D\uDE00 \ud83d\ude00"}`, true},
		{`{"answer":"lone \ud83d high, lone \ude00 low, \ud83d\u0041 pair-less"}`, true},
		{`{"answer":"\ud83d\ud83d\ude00"}`, true},
		{`{"answer":"你好👋"}`, true},
		{`{"answer":"\u0000"}`, true},
		{`{"created_at":-12}`, true},
		{`{"created_at":0}`, true},
		// Left to encoding/json:
		{`{"Answer":"case"}`, false},
		{`{"ANSWER":"case"}`, false},
		{`{"anſwer":"unicode fold"}`, false},
		{`{"answer":"bad utf8 \xff"}`, false},
		{`{"answer":"esc bad utf8 \n \xff"}`, false},
		{`{"answer":1}`, false},
		{`{"created_at":1.5}`, false},
		{`{"created_at":1e3}`, false},
		{`{"created_at":"1"}`, false},
		{`{"created_at":99999999999999999999}`, false},
		{`{"answer":"a",}`, false},
		{`{"answer":"a"} x`, false},
		{`{"answer":"a\x01"}`, false},
		{`{"answer":"\x"}`, false},
		{`{"answer":"\u12"}`, false},
		{`{"a\u006e":"escaped key"}`, false},
		{`{"x":01}`, false},
		{`{"x":[1,]}`, false},
		{`{"x":tru}`, false},
		{`[]`, false},
		{``, false},
	}
	for _, tt := range tests {
		var m gen.StreamEventChatMessage
		if got := decodeFlatMessage(tt.in, &m); got != tt.fast {
			t.Errorf("decodeFlatMessage(%q) = %v, want %v", tt.in, got, tt.fast)
		}
		checkMessageFastPath(t, tt.in)

		// Through the accessor: the same result as encoding/json.
		ev := Event{name: EventMessage, data: tt.in}
		got, err := ev.Message()
		var want gen.StreamEventChatMessage
		wantErr := json.Unmarshal([]byte(tt.in), &want)
		if (err != nil) != (wantErr != nil) || err == nil && got != want {
			t.Errorf("Message() of %q = %+v, %v; encoding/json %+v, %v", tt.in, got, err, want, wantErr)
		}
	}
}

func FuzzMessageJSON(f *testing.F) {
	f.Add(`{"event":"message","conversation_id":"c","message_id":"m","created_at":1,"task_id":"t","answer":"Hi \ud83d\ude00"}`)
	f.Add(`{"answer":"\ud83d\u0041","Task_ID":"x","created_at":-0}`)
	f.Add(`{"x":[{"y":[]},"z",1.5e-3,false],"answer":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		checkMessageFastPath(t, s)
		// The scanners must not panic on any input.
		_ = topLevelString(s, "task_id")
		if strings.HasPrefix(s, "{") {
			_ = eventName(s)
		}
	})
}

func TestEventName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"event":"message","answer":"x"}`:           "message",
		`{"event": "node_started"}`:                  "node_started",
		`{ "event" : "new_kind" }`:                   "new_kind",
		`{"task_id":"t","event":"message_end"}`:      "message_end",
		`{"data":{"event":"inner"},"event":"outer"}`: "outer",
		`{"event":"mess\u0061ge"}`:                   "message",
		`{"answer":"x"}`:                             "",
		`{"event":1}`:                                "",
	} {
		if got := eventName(in); got != want {
			t.Errorf("eventName(%s) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`{"event":"message","task_id":"abc"}`:            "abc",
		`{"data":{"task_id":"inner"},"task_id":"outer"}`: "outer",
		`{"task_id":null}`:                               "",
		`{"task_id":"a\"b"}`:                             `a"b`,
		`{"x":[1,2}`:                                     "",
	} {
		if got := topLevelString(in, "task_id"); got != want {
			t.Errorf("topLevelString(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestEventAccessors decodes one event of every kind through its accessor
// and through Payload, and checks that an accessor of another kind fails.
func TestEventAccessors(t *testing.T) {
	t.Parallel()
	accessors := map[string]func(Event) (any, error){
		EventMessage:                func(e Event) (any, error) { return e.Message() },
		EventAgentMessage:           func(e Event) (any, error) { return e.AgentMessage() },
		EventMessageEnd:             func(e Event) (any, error) { return e.MessageEnd() },
		EventMessageReplace:         func(e Event) (any, error) { return e.MessageReplace() },
		EventMessageFile:            func(e Event) (any, error) { return e.MessageFile() },
		EventAgentThought:           func(e Event) (any, error) { return e.AgentThought() },
		EventAgentLog:               func(e Event) (any, error) { return e.AgentLog() },
		EventTTSMessage:             func(e Event) (any, error) { return e.TTSMessage() },
		EventTTSMessageEnd:          func(e Event) (any, error) { return e.TTSMessageEnd() },
		EventWorkflowStarted:        func(e Event) (any, error) { return e.WorkflowStarted() },
		EventWorkflowFinished:       func(e Event) (any, error) { return e.WorkflowFinished() },
		EventWorkflowPaused:         func(e Event) (any, error) { return e.WorkflowPaused() },
		EventNodeStarted:            func(e Event) (any, error) { return e.NodeStarted() },
		EventNodeFinished:           func(e Event) (any, error) { return e.NodeFinished() },
		EventNodeRetry:              func(e Event) (any, error) { return e.NodeRetry() },
		EventIterationStarted:       func(e Event) (any, error) { return e.IterationStarted() },
		EventIterationNext:          func(e Event) (any, error) { return e.IterationNext() },
		EventIterationCompleted:     func(e Event) (any, error) { return e.IterationCompleted() },
		EventLoopStarted:            func(e Event) (any, error) { return e.LoopStarted() },
		EventLoopNext:               func(e Event) (any, error) { return e.LoopNext() },
		EventLoopCompleted:          func(e Event) (any, error) { return e.LoopCompleted() },
		EventParallelBranchStarted:  func(e Event) (any, error) { return e.ParallelBranchStarted() },
		EventParallelBranchFinished: func(e Event) (any, error) { return e.ParallelBranchFinished() },
		EventHumanInputRequired:     func(e Event) (any, error) { return e.HumanInputRequired() },
		EventHumanInputFormFilled:   func(e Event) (any, error) { return e.HumanInputFormFilled() },
		EventHumanInputFormTimeout:  func(e Event) (any, error) { return e.HumanInputFormTimeout() },
		EventReasoningChunk:         func(e Event) (any, error) { return e.ReasoningChunk() },
		EventTextChunk:              func(e Event) (any, error) { return e.TextChunk() },
		EventPing:                   func(e Event) (any, error) { return e.Ping() },
		EventError:                  func(e Event) (any, error) { return e.ErrorEvent() },
	}
	if len(accessors) != len(allEventNames) {
		t.Fatalf("%d accessors for %d event names", len(accessors), len(allEventNames))
	}
	for _, n := range allEventNames {
		name := string(n)
		acc, ok := accessors[name]
		if !ok {
			t.Errorf("no accessor for %q", name)
			continue
		}
		data := `{"event":"` + name + `","task_id":"t1","conversation_id":"c1","message_id":"m1","created_at":1700000000,"workflow_run_id":"w1","data":{"id":"x","title":"T","status":"succeeded","node_id":"1775","form_token":"ft"}}`
		if name == EventTTSMessage {
			data = `{"event":"tts_message","task_id":"t1","audio":"SUQz"}`
		}
		ev := Event{name: name, data: data}
		v, err := acc(ev)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		p, err := ev.Payload()
		if err != nil {
			t.Errorf("%s: Payload: %v", name, err)
			continue
		}
		pv := reflect.ValueOf(p)
		if pv.Kind() != reflect.Pointer || !reflect.DeepEqual(pv.Elem().Interface(), v) {
			t.Errorf("%s: Payload() = %#v, accessor %#v", name, p, v)
		}
		if f := pv.Elem().FieldByName("Event"); f.IsValid() && f.String() != name {
			t.Errorf("%s: Event field = %q", name, f.String())
		}
		// Another kind's accessor refuses it.
		other := EventNodeStarted
		if name == other {
			other = EventMessage
		}
		var wrong *WrongEventError
		if _, err := accessors[other](ev); !errors.As(err, &wrong) || wrong.Have != name || wrong.Want != other {
			t.Errorf("%s: accessor of %s: err = %v, want *WrongEventError", name, other, err)
		}
	}

	unknown := Event{name: "brand_new", data: `{"event":"brand_new","x":1}`}
	p, err := unknown.Payload()
	if raw, ok := p.(json.RawMessage); err != nil || !ok || string(raw) != unknown.data {
		t.Errorf("Payload of an unknown event = %#v, %v; want its raw JSON", p, err)
	}
	bad := Event{name: EventNodeStarted, data: `{"event":"node_started","data":5}`}
	if _, err := bad.NodeStarted(); err == nil || !strings.Contains(err.Error(), "node_started") {
		t.Errorf("mistyped payload: err = %v", err)
	}
	// Raw returns a copy.
	ev := Event{name: EventMessage, data: `{"event":"message"}`}
	raw := ev.Raw()
	raw[2] = 'X'
	if string(ev.Raw()) != `{"event":"message"}` {
		t.Error("changing the result of Raw changed the event")
	}
}
