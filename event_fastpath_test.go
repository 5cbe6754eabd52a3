package chatflow

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/jsonscan"
)

// The scanner's own tests are in internal/jsonscan; these check the
// accessors built on it.

// The accessor reads a "message" event as encoding/json does, through the
// fast path or around it.
func TestMessageAccessorLikeEncodingJSON(t *testing.T) {
	t.Parallel()
	// A few inputs of each kind: internal/jsonscan's tests hold the full
	// table of what the fast path takes and what it leaves to encoding/json.
	tests := []struct{ in string }{
		{`{"event":"message","conversation_id":"c","message_id":"m","created_at":1775993023,"task_id":"t","id":"m","answer":"Hi"}`},
		{`{"answer":null,"created_at":null,"event":null}`},
		{`{"answer":"\u00e9\u4e2d\uD83D\uDE00 \ud83d\ude00"}`},
		{`{"Answer":"case"}`},
		{`{"answer":"bad utf8 \xff"}`},
		{`{"created_at":1.5}`},
		{`{"answer":"a",}`},
		{``},
	}
	for _, tt := range tests {
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

// A repeated or differently spelled "event" key: Name and the decoders
// agree, the way encoding/json resolves it (the last match counts, keys
// match without regard to case, null changes nothing).
func TestEventNameLikeEncodingJSON(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"event":"message_end","event":"message"}`:            "message",
		`{"event":"message","event":"message_end"}`:            "message_end",
		`{"event":"message","EVENT":"message_end"}`:            "message_end",
		`{"event":"message","Event":null}`:                     "message",
		`{"event":"message","ev\u0065nt":"ping"}`:              "ping",
		`{"event":"message","answer":"an event\" here"}`:       "message",
		`{"event":"message","answer":"vent\"","x":1}`:          "message",
		`{"event":"message","data":{"event":"node_started"}}`:  "message",
		`{"event":"message","conversation_id":"c","ok":true}`:  "message",
		`{"task_id":"t","event":"ping","eVeNt":"message_end"}`: "message_end",
	} {
		if got := jsonscan.EventName(in, knownTypes); got != want {
			t.Errorf("EventName(%s) = %q, want %q", in, got, want)
		}
		// Name and the accessors see the same event.
		ev := Event{name: jsonscan.EventName(in, knownTypes), data: in}
		p, err := ev.Payload()
		if err != nil {
			t.Errorf("%s: Payload: %v", in, err)
			continue
		}
		var base gen.ChunkChatEvent
		b, _ := json.Marshal(p)
		if err := json.Unmarshal(b, &base); err != nil || string(base.Event) != want {
			t.Errorf("%s: payload's event = %q (%v), want %q", in, base.Event, err, want)
		}
	}
}

// The fast path fills every field of the "message" payload: a field that
// the description adds must be added to jsonscan.Message (and its
// decoder), or the fast path would drop it silently.
func TestFlatKeysCoverMessagePayload(t *testing.T) {
	t.Parallel()
	keys := func(rt reflect.Type) map[string]reflect.Type {
		m := map[string]reflect.Type{}
		for i := range rt.NumField() {
			key, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			m[key] = rt.Field(i).Type
		}
		return m
	}
	payload, scanned := keys(reflect.TypeFor[gen.StreamEventChatMessage]()), keys(reflect.TypeFor[jsonscan.Message]())
	if len(payload) != len(scanned) {
		t.Errorf("the message payload has %d fields, jsonscan.Message %d", len(payload), len(scanned))
	}
	for key, typ := range payload {
		if st, ok := scanned[key]; !ok || st.Kind() != typ.Kind() {
			t.Errorf("field %q (%v) of the message payload is not in jsonscan.Message", key, typ)
		}
	}
}

// With resume (the default), an event whose name the front of its data
// does not settle (an escape, a later key that also spells "event") is
// named from the decoded message, as jsonscan.EventName names it.
func TestStreamNamesFromDecodedMessage(t *testing.T) {
	t.Parallel()
	body := "data: {\"event\":\"message\",\"task_id\":\"t\",\"message_id\":\"m\",\"answer\":\"a \\\"b\\\"\\n\"}\n\n" +
		"data: {\"event\":\"message\",\"task_id\":\"t\",\"message_id\":\"m\",\"answer\":\"c\",\"Event\":\"agent_message\"}\n\n" +
		"data: {\"event\":\"message\",\"task_id\":\"t\",\"message_id\":\"m\",\"answer\":\"d\",\"x\":{\"event\":\"inner\"}}\n\n" +
		"data: {\"event\":\"message\",\"task_id\":\"t\",\"message_id\":\"m\",\"\\u0065vent\":\"message_end\",\"conversation_id\":\"c\",\"metadata\":{}}\n\n"
	c := defaultsClient(t, []byte(body))
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u1", Inputs: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	var names, texts []string
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Name())
		texts = append(texts, ev.Text())
	}
	want := []string{EventMessage, EventAgentMessage, EventMessage, EventMessageEnd}
	if !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	if wantText := []string{"a \"b\"\n", "c", "d", ""}; !slices.Equal(texts, wantText) {
		t.Fatalf("texts %q, want %q", texts, wantText)
	}
}
