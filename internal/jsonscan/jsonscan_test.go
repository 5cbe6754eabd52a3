package jsonscan

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

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
		var m Message
		if got := DecodeMessage(tt.in, &m, nil); got != tt.fast {
			t.Errorf("DecodeMessage(%q) = %v, want %v", tt.in, got, tt.fast)
		}
		checkMessageFastPath(t, tt.in)
	}
}

func FuzzMessageJSON(f *testing.F) {
	f.Add(`{"event":"message","conversation_id":"c","message_id":"m","created_at":1,"task_id":"t","answer":"Hi \ud83d\ude00"}`)
	f.Add(`{"answer":"\ud83d\u0041","Task_ID":"x","created_at":-0}`)
	f.Add(`{"x":[{"y":[]},"z",1.5e-3,false],"answer":null}`)
	f.Add(`{"event":"message","answer":"\"ok\" \n","Event":"agent_message"}`)
	f.Add(`{"event":"message","answer":"x","\u0065vent":"message_end","task_id":"t"}`)
	f.Fuzz(func(t *testing.T, s string) {
		checkMessageFastPath(t, s)
		// The scanners must not panic on any input, and must read the
		// fields as encoding/json does whenever it decodes them.
		checkTopLevel(t, s)
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
		if got := EventName(in, nil); got != want {
			t.Errorf("EventName(%s) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`{"event":"message","task_id":"abc"}`:            "abc",
		`{"data":{"task_id":"inner"},"task_id":"outer"}`: "outer",
		`{"task_id":null}`:                               "",
		`{"task_id":"a\"b"}`:                             `a"b`,
		`{"x":[1,2}`:                                     "",
	} {
		if got := TopLevelString(in, "task_id"); got != want {
			t.Errorf("TopLevelString(%s) = %q, want %q", in, got, want)
		}
	}
}

// checkTopLevel fails t when eventName or topLevelString reads s otherwise
// than encoding/json, for input that encoding/json decodes without error
// into valid UTF-8.
func checkTopLevel(t *testing.T, s string) {
	t.Helper()
	task := TopLevelString(s, "task_id")
	name := ""
	if strings.HasPrefix(s, "{") {
		name = EventName(s, nil)
	}
	var v struct {
		Event  string `json:"event"`
		TaskID string `json:"task_id"`
	}
	if json.Unmarshal([]byte(s), &v) != nil || !strings.HasPrefix(s, "{") {
		return
	}
	if !strings.ContainsRune(v.Event, utf8.RuneError) && name != v.Event {
		t.Fatalf("EventName(%q) = %q, encoding/json reads %q", s, name, v.Event)
	}
	// A message decoded by DecodeMessage names its event as EventName
	// does (the root package reads the name from it when EventName's fast
	// path is unsure).
	var m Message
	if DecodeMessage(s, &m, nil) && m.Event != "" && !strings.ContainsRune(m.Event, utf8.RuneError) && m.Event != name {
		t.Fatalf("DecodeMessage(%q).Event = %q, EventName %q", s, m.Event, name)
	}
	if front, sure := FrontEventName(s, nil); sure && front != name {
		t.Fatalf("FrontEventName(%q) = %q (sure), EventName %q", s, front, name)
	}
	if !strings.ContainsRune(v.TaskID, utf8.RuneError) && task != v.TaskID {
		t.Fatalf("TopLevelString(%q, task_id) = %q, encoding/json reads %q", s, task, v.TaskID)
	}
}

// A repeated or differently spelled "event" key: Name and the decoders
// agree, the way encoding/json resolves it (the last match counts, keys
// match without regard to case, null changes nothing).
// A repeated or differently spelled "event" key: EventName reads it the
// way encoding/json resolves it (the last match counts, keys
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
		if got := EventName(in, nil); got != want {
			t.Errorf("EventName(%s) = %q, want %q", in, got, want)
		}
		checkTopLevel(t, in)
	}
	if got := TopLevelString(`{"task_id":"a","task_id":"b","TASK_ID":null}`, "task_id"); got != "b" {
		t.Errorf("topLevelString with repeated keys = %q, want b", got)
	}
}

// The fast path fills every field of Message: a field added to Message
// must be added to flatKeys and DecodeMessage, or the fast path would drop
// it silently.
func TestFlatKeysCoverMessage(t *testing.T) {
	t.Parallel()
	rt := reflect.TypeFor[Message]()
	for i := range rt.NumField() {
		key, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if !slices.Contains(flatKeys[:], key) {
			t.Errorf("field %s (%q) of Message is not one of flatKeys", rt.Field(i).Name, key)
		}
	}
	if rt.NumField() != len(flatKeys) {
		t.Errorf("Message has %d fields, flatKeys %d", rt.NumField(), len(flatKeys))
	}
}

// checkMessageFastPath fails t when DecodeMessage accepts s but decodes it
// differently from encoding/json.
func checkMessageFastPath(t *testing.T, s string) {
	t.Helper()
	var fast Message
	ok := DecodeMessage(s, &fast, nil)
	var std Message
	err := json.Unmarshal([]byte(s), &std)
	if ok && err != nil {
		t.Fatalf("fast path accepts %q, encoding/json fails: %v", s, err)
	}
	if ok && fast != std {
		t.Fatalf("fast path decodes %q as\n%+v\nencoding/json as\n%+v", s, fast, std)
	}
}

// idsStd is what DecodeIDs stands for.
type idsStd struct {
	ID   string `json:"id"`
	Data struct {
		ID         string          `json:"id"`
		FormToken  string          `json:"form_token"`
		Index      json.RawMessage `json:"index"`
		RetryIndex json.RawMessage `json:"retry_index"`
	} `json:"data"`
}

// checkIDs fails t when DecodeIDs accepts s but decodes it otherwise than
// encoding/json, or when TopLevelStrings differs from TopLevelString.
func checkIDs(t *testing.T, s string) {
	t.Helper()
	var fast IDs
	ok := DecodeIDs(s, &fast)
	var std idsStd
	err := json.Unmarshal([]byte(s), &std)
	if ok && err != nil {
		t.Fatalf("DecodeIDs accepts %q, encoding/json fails: %v", s, err)
	}
	want := IDs{ID: std.ID, DataID: std.Data.ID, FormToken: std.Data.FormToken, Index: string(std.Data.Index), RetryIndex: string(std.Data.RetryIndex)}
	if ok && fast != want {
		t.Fatalf("DecodeIDs decodes %q as\n%+v\nencoding/json as\n%+v", s, fast, want)
	}
	keys := []string{"conversation_id", "message_id", "workflow_run_id", "id"}
	out := make([]string, len(keys))
	TopLevelStrings(s, keys, out)
	for k, key := range keys {
		if one := TopLevelString(s, key); out[k] != one {
			t.Fatalf("TopLevelStrings(%q)[%s] = %q, TopLevelString %q", s, key, out[k], one)
		}
	}
}

func TestDecodeIDs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		fast bool
		want IDs
	}{
		{`{"event":"node_started","task_id":"t","workflow_run_id":"r","data":{"id":"e1","node_id":"n","inputs":{"x":[1,{"id":"no"}]},"index":3}}`, true,
			IDs{DataID: "e1", Index: "3"}},
		{`{"event":"message_file","id":"f1","type":"image"}`, true, IDs{ID: "f1"}},
		{`{"event":"human_input_required","data":{"form_token":"tok","id":null}}`, true, IDs{FormToken: "tok"}},
		{`{"event":"iteration_next","data":{"id":"e","index": {"a" : 1} ,"retry_index":null}}`, true, IDs{DataID: "e", Index: `{"a" : 1}`, RetryIndex: "null"}},
		{`{"data":{"id":"a"},"data":{"index":1}}`, true, IDs{DataID: "a", Index: "1"}},
		{`{"data":null,"id":"x","id":null}`, true, IDs{ID: "x"}},
		{` {} `, true, IDs{}},
		{`{"ID":"x"}`, false, IDs{}},
		{`{"data":{"Index":1}}`, false, IDs{}},
		{`{"i\u0064":"x"}`, false, IDs{}},
		{`{"id":1}`, false, IDs{}},
		{`{"data":[]}`, false, IDs{}},
		{`{"data":{"id":"x"}} x`, false, IDs{}},
		{`null`, false, IDs{}},
		{`{"id":"bad \xff"}`, false, IDs{}},
	} {
		var got IDs
		if ok := DecodeIDs(tt.in, &got); ok != tt.fast || ok && got != tt.want {
			t.Errorf("DecodeIDs(%s) = %v, %+v; want %v, %+v", tt.in, ok, got, tt.fast, tt.want)
		}
		checkIDs(t, tt.in)
	}
	for _, s := range []string{
		`{"conversation_id":"c","message_id":1,"message_id":"m"}`,
		`{"Conversation_ID":"c","conversation_id":null,"workflow_run_id":"r","x":[}`,
		`{"id":"a","ID":"b"}`,
	} {
		checkIDs(t, s)
	}
}

func FuzzIDs(f *testing.F) {
	f.Add(`{"event":"node_finished","id":"x","data":{"id":"e","form_token":"t","index":1,"retry_index":[2],"outputs":{"id":"no"}}}`)
	f.Add(`{"conversation_id":"c","Message_Id":"m","workflow_run_id":null,"data":{"Id":"x"}}`)
	f.Add(`{"data":{"id":"\u00e9"},"data":null,"id":"\ud83d"}`)
	// Invalid UTF-8 in a value, which encoding/json replaces (and a later
	// duplicate then wins): TopLevelStrings used to give "" for both.
	f.Add("{\"message_id\":\"a\xffb\"}")
	f.Add("{\"id\":\"a\xffb\",\"id\":\"c\",\"conversation_id\":7}")
	f.Fuzz(func(t *testing.T, s string) {
		checkIDs(t, s)
	})
}

// TestPlainWord checks the eight-byte test of scanString against the
// byte table: every byte value at every position, and random words.
func TestPlainWord(t *testing.T) {
	allPlain := func(w []byte) bool {
		for _, c := range w {
			if !plainByte[c] {
				return false
			}
		}
		return true
	}
	for pos := range 8 {
		for c := range 256 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			if got, want := plainWord(string(w), 0), allPlain(w); got != want {
				t.Fatalf("plainWord(%q) = %v, want %v", w, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		w := make([]byte, 8)
		for i := range w {
			// Mostly plain bytes, with the borders of the special ranges.
			switch rng.IntN(4) {
			case 0:
				w[i] = byte(rng.IntN(256))
			case 1:
				w[i] = []byte{0x1f, 0x20, 0x21, '"', '\\', 0x7f, 0x80, 0xff, 0x00, 0x01}[rng.IntN(10)]
			default:
				w[i] = byte(0x20 + rng.IntN(0x60))
			}
		}
		if got, want := plainWord(string(w), 0), allPlain(w); got != want {
			t.Fatalf("plainWord(%q) = %v, want %v", w, got, want)
		}
	}
}
