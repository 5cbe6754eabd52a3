package chatflowtest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/difykit/chatflow/chatflowtest"
)

// Facts of ../shared/upstream/SERVER_FACTS.md, one test each.

func TestVariablesFilterAndPaging(t *testing.T) {
	t.Parallel()
	clock := time.Unix(1_800_000_000, 0)
	s := newServer(t, chatflowtest.WithClock(func() time.Time { return clock }), chatflowtest.WithVariables(
		chatflowtest.Variable{Name: "name", ValueType: "string", Value: "a"},
		chatflowtest.Variable{Name: "user_name", ValueType: "string", Value: "b"},
		chatflowtest.Variable{Name: "Name", ValueType: "string", Value: "c"},
		chatflowtest.Variable{Name: "topic", ValueType: "string", Value: "d"},
	))
	cid := chat(t, s, "vic", "", "hi")["conversation_id"].(string)
	base := "/conversations/" + cid + "/variables?user=vic"
	var got []string
	for _, v := range do(t, s, "GET", base+"&variable_name=NAME", nil).json(t)["data"].([]any) {
		got = append(got, v.(map[string]any)["name"].(string))
	}
	if strings.Join(got, ",") != "name,user_name,Name" {
		t.Errorf("variable_name=NAME gives %v, want the three names containing it", got)
	}
	// All four were created in the same second: the page after the first
	// skips them all, although has_more was true.
	p1 := do(t, s, "GET", base+"&limit=1", nil).json(t)
	if p1["has_more"] != true || len(p1["data"].([]any)) != 1 {
		t.Fatalf("first page = %v", p1)
	}
	last := p1["data"].([]any)[0].(map[string]any)["id"].(string)
	p2 := do(t, s, "GET", base+"&limit=1&last_id="+last, nil).json(t)
	if len(p2["data"].([]any)) != 0 || p2["has_more"] != false {
		t.Errorf("second page = %v, want empty (same created_at)", p2)
	}

	// last_id is looked up among the variables the filter selects: an
	// unknown id, or one the filter leaves out, is 400 invalid_param with
	// an empty message (Dify 1.16.1), not 404.
	ids := map[string]string{}
	for _, v := range do(t, s, "GET", base+"&limit=100", nil).json(t)["data"].([]any) {
		m := v.(map[string]any)
		ids[m["name"].(string)] = m["id"].(string)
	}
	for _, path := range []string{
		base + "&last_id=00000000-0000-4000-8000-00000000beef",
		base + "&variable_name=name&last_id=" + ids["topic"],
		base + "&variable_name=TOPIC&last_id=" + ids["user_name"],
	} {
		e := wantError(t, do(t, s, "GET", path, nil), 400, "invalid_param")
		if e["message"] != "" {
			t.Errorf("%s: message %q, want empty", path, e["message"])
		}
	}
	for _, path := range []string{
		base + "&variable_name=name&last_id=" + ids["user_name"],
		base + "&variable_name=TOPIC&last_id=" + ids["topic"],
		base + "&last_id=" + ids["topic"],
	} {
		wantStatus(t, do(t, s, "GET", path, nil), 200)
	}
}

// TestValidationStatus: by default (Dify 1.16.1) every failed validation is
// 400 invalid_param with a readable message; WithValidationStatus(422)
// makes exactly the endpoints later source validates with a decorator
// answer 422 unprocessable_entity with a JSON array of field errors.
func TestValidationStatus(t *testing.T) {
	t.Parallel()
	const ann = "/apps/annotations/00000000-0000-4000-8000-000000000001"
	type bad struct{ method, path, body string }
	// One invalid request for each endpoint that later source validates
	// with a decorator.
	decorated := []bad{
		{"GET", "/messages?user=wes&conversation_id={conv}&limit=0", ""},
		{"GET", "/messages?user=wes", ""},
		{"POST", "/messages/{msg}/feedbacks", `{"rating":"great","user":"wes"}`},
		{"GET", "/app/feedbacks?limit=1000", ""},
		{"GET", "/apps/annotations?limit=abc", ""},
		{"POST", "/apps/annotations", `{"question":"q"}`},
		{"PUT", ann, `{"question":1,"answer":"a"}`},
		{"POST", "/apps/annotation-reply/enable", `{"embedding_provider_name":"p"}`},
		{"POST", "/apps/annotation-reply/sideways", `{"embedding_provider_name":"p","embedding_model_name":"m"}`},
		{"GET", "/apps/annotation-reply/sideways/status/00000000-0000-4000-8000-000000000002", ""},
	}
	// Elsewhere it is 400 invalid_param in both modes.
	others := []bad{
		{"GET", "/conversations?user=wes&limit=0", ""},
		{"GET", "/conversations/{conv}/variables?user=wes&limit=0", ""},
		{"GET", "/workflows/logs?status=running", ""},
		{"GET", "/workflows/logs?status=nope", ""},
		{"POST", "/conversations/{conv}/name", `{"user":"wes","name":5}`},
	}
	for _, mode := range []int{0, 400, 422} {
		var opts []chatflowtest.Option
		if mode != 0 {
			opts = append(opts, chatflowtest.WithValidationStatus(mode))
		}
		s := newServer(t, opts...)
		v := chat(t, s, "wes", "", "hi")
		fill := strings.NewReplacer("{conv}", v["conversation_id"].(string), "{msg}", v["message_id"].(string))
		check := func(b bad, want int) {
			t.Helper()
			ct := ""
			var body any
			if b.body != "" {
				ct, body = "application/json", b.body
			}
			r := doUnchecked(t, s, b.method, fill.Replace(b.path), body, "Bearer "+s.APIKey, ct)
			if want == 422 {
				e := wantError(t, r, 422, "unprocessable_entity")
				var fe []map[string]any
				if err := json.Unmarshal([]byte(e["message"].(string)), &fe); err != nil || len(fe) == 0 || fe[0]["loc"] == nil || fe[0]["msg"] == nil {
					t.Errorf("mode %d, %s %s: message %q is not a JSON array of field errors", mode, b.method, b.path, e["message"])
				}
				return
			}
			e := wantError(t, r, 400, "invalid_param")
			if msg, _ := e["message"].(string); msg == "" || strings.HasPrefix(msg, "[") {
				t.Errorf("mode %d, %s %s: message %q, want a readable message", mode, b.method, b.path, msg)
			}
		}
		for _, b := range decorated {
			want := 400
			if mode == 422 {
				want = 422
			}
			check(b, want)
		}
		for _, b := range others {
			check(b, 400)
		}
		for _, st := range []string{"succeeded", "failed", "stopped"} {
			wantStatus(t, do(t, s, "GET", "/workflows/logs?status="+st, nil), 200)
		}
	}
}

func TestHugePageNumbers(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	do(t, s, "POST", "/apps/annotations", `{"question":"q","answer":"a"}`)
	for _, path := range []string{
		"/apps/annotations?page=4611686018427387904&limit=100",
		"/app/feedbacks?page=4611686018427387904&limit=100",
		"/workflows/logs?page=4611686018427387904&limit=100",
		"/apps/annotations?page=9223372036854775807&limit=100",
	} {
		r := doUnchecked(t, s, "GET", path, nil, "Bearer "+s.APIKey, "")
		if r.status == 200 {
			if data := r.json(t)["data"].([]any); len(data) != 0 {
				t.Errorf("%s: %d items", path, len(data))
			}
		} else if r.status != 422 && r.status != 400 {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	wantStatus(t, do(t, s, "GET", "/apps/annotations?page=1&limit=100", nil), 200)
}

func TestChatBodyRules(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	v := wantError(t, do(t, s, "POST", "/chat-messages", `{"inputs":{},"query":"q","user":"u","conversation_id":"not-a-uuid"}`), 400, "invalid_param")
	if !strings.Contains(v["message"].(string), "not-a-uuid") {
		t.Errorf("message = %v", v["message"])
	}
	// user comes from the JSON body only.
	wantError(t, do(t, s, "POST", "/chat-messages?user=alice", `{"inputs":{},"query":"q"}`), 400, "invalid_param")
	cid := chat(t, s, "alice", "", "hi")["conversation_id"].(string)
	wantError(t, do(t, s, "DELETE", "/conversations/"+cid+"?user=alice", `{}`), 404, "not_found")
	wantError(t, do(t, s, "POST", "/conversations/"+cid+"/name?user=alice", `{"name":"x"}`), 404, "not_found")
	wantStatus(t, do(t, s, "DELETE", "/conversations/"+cid, `{"user":"alice"}`), 204)
	// Deleting an unknown conversation stays a strict 404.
	wantError(t, do(t, s, "DELETE", "/conversations/"+cid, `{"user":"alice"}`), 404, "not_found")
}

func TestUploadRules(t *testing.T) {
	t.Parallel()
	s := newServer(t,
		chatflowtest.WithUploadLimits(chatflowtest.UploadLimits{Image: 100, Document: 1000, Audio: 10, Video: 10}),
		chatflowtest.WithBlockedExtensions(".EXE", "sh"))
	v := wantError(t, upload(t, s, "u", "big.png", "image/png", make([]byte, 101)), 413, "file_too_large")
	if !strings.HasPrefix(v["message"].(string), "File size exceeded.") {
		t.Errorf("message = %v", v["message"])
	}
	wantStatus(t, upload(t, s, "u", "ok.png", "image/png", make([]byte, 100)), 201)
	wantStatus(t, upload(t, s, "u", "doc.txt", "text/plain", make([]byte, 101)), 201)
	wantError(t, upload(t, s, "u", "clip.mp4", "video/mp4", make([]byte, 11)), 413, "file_too_large")
	for _, name := range []string{"tool.exe", "run.SH"} {
		wantError(t, upload(t, s, "u", name, "application/octet-stream", []byte("x")), 400, "invalid_param")
	}
	// The name is quoted in the part header: \ and " go escaped.
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	for _, c := range []string{"/", `\`, ":", "*", "?", `"`, "<", ">", "|"} {
		r := upload(t, s, "u", quote.Replace("a"+c+"b.txt"), "text/plain", []byte("hello"))
		wantError(t, r, 400, "invalid_param")
	}
	// Without options nothing is blocked.
	d := newServer(t)
	wantStatus(t, upload(t, d, "u", "tool.exe", "application/octet-stream", []byte("x")), 201)
}

func TestAudioRules(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	for ct, want := range map[string]int{
		"audio/wav": 200, "audio/mpeg": 200, "audio/webm": 200, "audio/amr": 200,
		"audio/x-wav": 415, "audio/ogg": 415, "video/mp4": 415, "application/octet-stream": 415,
	} {
		body, typ := multipartBody(t, "file", "voice.wav", ct, []byte("RIFF"), map[string]string{"user": "u"})
		r := doWith(t, s, "POST", "/audio-to-text", body, "Bearer "+s.APIKey, typ)
		if r.status != want {
			t.Errorf("%s: %d %s, want %d", ct, r.status, r.body, want)
		}
	}
	off := newServer(t, chatflowtest.WithSpeechToText(false))
	body, typ := multipartBody(t, "file", "voice.wav", "audio/wav", []byte("RIFF"), map[string]string{"user": "u"})
	v := wantError(t, doWith(t, off, "POST", "/audio-to-text", body, "Bearer "+off.APIKey, typ), 400, "invalid_param")
	if v["message"] != "Speech to text is not enabled" {
		t.Errorf("message = %v", v["message"])
	}
	p := do(t, off, "GET", "/parameters", nil).json(t)
	if p["speech_to_text"].(map[string]any)["enabled"] != false {
		t.Errorf("parameters speech_to_text = %v", p["speech_to_text"])
	}
}

func TestSiteSwitchedOff(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithSiteEnabled(false))
	wantError(t, do(t, s, "GET", "/site", nil), 403, "forbidden")
	wantStatus(t, do(t, s, "GET", "/info", nil), 200)
}

// TestVariableValuesArePythonStrings: the list and the PUT reply carry the
// value as Python's str() of the stored value, null as null.
func TestVariableValuesArePythonStrings(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithVariables(
		chatflowtest.Variable{Name: "n", ValueType: "number", Value: 42},
		chatflowtest.Variable{Name: "f", ValueType: "number", Value: 4.5},
		chatflowtest.Variable{Name: "b", ValueType: "boolean", Value: true},
		chatflowtest.Variable{Name: "o", ValueType: "object", Value: map[string]any{"a": 1}},
		chatflowtest.Variable{Name: "a", ValueType: "array[any]", Value: []any{"x", 1}},
		chatflowtest.Variable{Name: "s", ValueType: "string", Value: "it's"},
		chatflowtest.Variable{Name: "z", ValueType: "string", Value: nil},
	))
	cid := chat(t, s, "pat", "", "hi")["conversation_id"].(string)
	// Unchecked: the description does not allow a null value yet.
	list := doUnchecked(t, s, "GET", "/conversations/"+cid+"/variables?user=pat&limit=100", nil, "Bearer "+s.APIKey, "").json(t)
	want := map[string]any{"n": "42", "f": "4.5", "b": "True", "o": "{'a': 1}", "a": "['x', 1]", "s": "it's", "z": nil}
	ids := map[string]string{}
	for _, d := range list["data"].([]any) {
		m := d.(map[string]any)
		name := m["name"].(string)
		ids[name] = m["id"].(string)
		if m["value"] != want[name] {
			t.Errorf("list: %s = %#v, want %#v", name, m["value"], want[name])
		}
	}
	if len(ids) != len(want) {
		t.Fatalf("list = %v", list)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"n", "7", "7"},
		{"n", "1.0", "1.0"},
		{"n", "-2.25", "-2.25"},
		{"b", "false", "False"},
		{"o", `{"k": "v", "q": null, "l": [true, 1e16], "s": "a'b"}`, `{'k': 'v', 'q': None, 'l': [True, 1e+16], 's': "a'b"}`},
		{"a", `["it's", "x\"y'z", 3]`, `["it's", 'x"y\'z', 3]`},
		{"s", `"plain"`, "plain"},
	} {
		r := do(t, s, "PUT", "/conversations/"+cid+"/variables/"+ids[tc.name], `{"user":"pat","value":`+tc.value+`}`)
		wantStatus(t, r, 200)
		if got := r.json(t)["value"]; got != tc.want {
			t.Errorf("PUT %s = %s: reply value %#v, want %q", tc.name, tc.value, got, tc.want)
		}
		l := doUnchecked(t, s, "GET", "/conversations/"+cid+"/variables?user=pat&variable_name="+tc.name+"&limit=100", nil, "Bearer "+s.APIKey, "").json(t)
		found := false
		for _, d := range l["data"].([]any) {
			if m := d.(map[string]any); m["id"] == ids[tc.name] {
				found = true
				if m["value"] != tc.want {
					t.Errorf("list after PUT %s = %s: value %#v, want %q", tc.name, tc.value, m["value"], tc.want)
				}
			}
		}
		if !found {
			t.Errorf("variable %s not listed after PUT", tc.name)
		}
	}
}
