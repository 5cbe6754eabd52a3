package chatflow

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/difykit/chatflow/internal/spec"
)

// eventAccessor finds the method of Event that returns payload type t, by
// its signature: nothing in the tests lists the accessors by hand.
func eventAccessor(t *testing.T, payload reflect.Type) reflect.Method {
	t.Helper()
	errType := reflect.TypeFor[error]()
	var found []reflect.Method
	et := reflect.TypeFor[Event]()
	for i := range et.NumMethod() {
		m := et.Method(i)
		if m.Type.NumIn() == 1 && m.Type.NumOut() == 2 && m.Type.Out(0) == payload && m.Type.Out(1) == errType {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d accessors of Event return %v", len(found), payload)
	}
	return found[0]
}

// TestEventKindsFromSpec checks that the event plumbing is the API
// description's: the names are its EventName enum in its order, and each
// name's payload type is the Go type of the schema that the ChunkChatEvent
// discriminator maps it to.
func TestEventKindsFromSpec(t *testing.T) {
	t.Parallel()
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	var enum []string
	for _, v := range doc.Components.Schemas["EventName"].Value.Enum {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(allEventNames, enum) {
		t.Fatalf("allEventNames = %v\nthe description's EventName enum = %v", allEventNames, enum)
	}
	mapping := doc.Components.Schemas["ChunkChatEvent"].Value.Discriminator.Mapping
	for _, name := range enum {
		p, err := Event{name: name, data: `{"event":"` + name + `"}`}.Payload()
		if err != nil {
			t.Errorf("%s: Payload: %v", name, err)
			continue
		}
		pt := reflect.TypeOf(p)
		if pt.Kind() != reflect.Pointer {
			t.Errorf("%s: Payload returns %v, not a pointer", name, pt)
			continue
		}
		schema := strings.TrimPrefix(mapping[name].Ref, "#/components/schemas/")
		if pt.Elem().Name() != schema || pt.Elem().PkgPath() != "github.com/difykit/chatflow/gen" {
			t.Errorf("%s: payload type %v, the description maps it to schema %q", name, pt.Elem(), schema)
		}
		eventAccessor(t, pt.Elem())
	}
}

// TestEventAccessors decodes one event of every kind through its accessor
// and through Payload, and checks that an accessor of another kind fails.
func TestEventAccessors(t *testing.T) {
	t.Parallel()
	call := func(m reflect.Method, e Event) (any, error) {
		out := m.Func.Call([]reflect.Value{reflect.ValueOf(e)})
		err, _ := out[1].Interface().(error)
		return out[0].Interface(), err
	}
	accessorOf := func(name string) reflect.Method {
		p, err := Event{name: name, data: `{}`}.Payload()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return eventAccessor(t, reflect.TypeOf(p).Elem())
	}
	for _, name := range allEventNames {
		acc := accessorOf(name)
		data := `{"event":"` + name + `","task_id":"t1","conversation_id":"c1","message_id":"m1","created_at":1700000000,"workflow_run_id":"w1","data":{"id":"x","title":"T","status":"succeeded","node_id":"1775","form_token":"ft"}}`
		if name == EventTTSMessage {
			data = `{"event":"tts_message","task_id":"t1","audio":"SUQz"}`
		}
		ev := Event{name: name, data: data}
		v, err := call(acc, ev)
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
		if _, err := call(accessorOf(other), ev); !errors.As(err, &wrong) || wrong.Have != name || wrong.Want != other {
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

// TestAccessorPointersNeverNil: every accessor's pointer fields to objects
// (Data, Metadata) are set, for an event that lacks them, for data: null,
// and even for an event of another kind, so that code written like the
// README's (n, _ := ev.NodeStarted(); n.Data.Title) cannot panic.
func TestAccessorPointersNeverNil(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, name := range allEventNames {
		p, _ := Event{name: name, data: `{}`}.Payload()
		acc := eventAccessor(t, reflect.TypeOf(p).Elem())
		for _, data := range []string{`{"event":"` + name + `"}`, `{"event":"` + name + `","data":null,"metadata":null}`} {
			for _, ev := range []Event{{name: name, data: data}, {name: "some_other_event", data: data}} {
				v := acc.Func.Call([]reflect.Value{reflect.ValueOf(ev)})[0]
				for i := range v.NumField() {
					f := v.Field(i)
					if f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct {
						checked++
						if f.IsNil() {
							t.Errorf("%s of %s (event %q, %s) is nil", v.Type().Field(i).Name, name, ev.name, data)
						}
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no payload has a pointer field: the test checks nothing")
	}
	n, err := Event{name: EventNodeStarted, data: `{"event":"node_started"}`}.NodeStarted()
	if err != nil || n.Data.Title != "" {
		t.Errorf("NodeStarted without data = %+v, %v", n, err)
	}
}

func TestEventText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ev   Event
		want string
	}{
		{Event{name: EventMessage, data: `{"event":"message","answer":"Hel"}`}, "Hel"},
		{Event{name: EventMessage, data: `{"event":"message","answer":"l\u00f6 \"x\""}`}, `lö "x"`},
		{Event{name: EventMessage, data: `{"event":"message","Answer":"case"}`}, "case"}, // encoding/json's slow path
		{Event{name: EventAgentMessage, data: `{"event":"agent_message","answer":"agent"}`}, "agent"},
		{Event{name: EventMessage, data: `{"event":"message"}`}, ""},
		{Event{name: EventMessage, data: `{"event":"message","answer":5}`}, ""},
		{Event{name: EventMessageReplace, data: `{"event":"message_replace","answer":"whole"}`}, ""},
		{Event{name: EventTextChunk, data: `{"event":"text_chunk","data":{"text":"t"}}`}, ""},
		{Event{name: EventPing, data: pingJSON}, ""},
	} {
		if got := tt.ev.Text(); got != tt.want {
			t.Errorf("Text() of %s = %q, want %q", tt.ev.data, got, tt.want)
		}
	}
}

// The accessors of "message" events take the fast path: a flat event
// without escapes decodes without allocating.
func TestMessageAccessorFastPath(t *testing.T) {
	ev := Event{name: EventMessage, data: `{"event":"message","conversation_id":"c","message_id":"m","created_at":1775993023,"task_id":"t","id":"m","answer":"Hi"}`}
	agent := Event{name: EventAgentMessage, data: strings.Replace(ev.data, `"message"`, `"agent_message"`, 1)}
	if n := testing.AllocsPerRun(100, func() {
		if m, err := ev.Message(); err != nil || m.Answer != "Hi" {
			t.Fatalf("Message() = %+v, %v", m, err)
		}
		if m, err := agent.AgentMessage(); err != nil || m.Answer != "Hi" {
			t.Fatalf("AgentMessage() = %+v, %v", m, err)
		}
		if ev.Text() != "Hi" {
			t.Fatal("Text() lost the answer")
		}
	}); n != 0 {
		t.Errorf("message accessors allocate %v times per call; the fast path is not taken", n)
	}
}
