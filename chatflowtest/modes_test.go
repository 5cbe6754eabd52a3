package chatflowtest_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/difykit/chatflow/chatflowtest"
)

// TestModeInfo: GET /info reports the mode; the default is advanced-chat.
func TestModeInfo(t *testing.T) {
	t.Parallel()
	if got := do(t, newServer(t), "GET", "/info", nil).json(t)["mode"]; got != "advanced-chat" {
		t.Errorf("default mode = %v", got)
	}
	for _, m := range chatflowtest.Modes() {
		s := newServer(t, chatflowtest.WithMode(m))
		if got := doUnchecked(t, s, "GET", "/info", nil, "Bearer "+s.APIKey, "").json(t)["mode"]; got != m {
			t.Errorf("WithMode(%q): /info mode = %v", m, got)
		}
	}
}

// TestUnknownMode: an unknown mode is a programming error for NewServer and
// an error from ListenAndServe.
func TestUnknownMode(t *testing.T) {
	t.Parallel()
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(error).Error(), "bogus") {
				t.Errorf("NewUnstartedServer(WithMode(bogus)): recovered %v, want a panic naming the mode", r)
			}
		}()
		chatflowtest.NewUnstartedServer(chatflowtest.WithMode("bogus"))
	}()
	err := chatflowtest.ListenAndServe(context.Background(), "127.0.0.1:0", "", io.Discard, chatflowtest.WithMode("advanced_chat"))
	if err == nil || !strings.Contains(err.Error(), "advanced_chat") {
		t.Errorf("ListenAndServe with an unknown mode = %v", err)
	}
}

// TestModeRefusals: operations of another app type are refused the way
// Dify refuses them, after the key and the user were checked.
func TestModeRefusals(t *testing.T) {
	t.Parallel()
	const uuid = "00000000-0000-4000-8000-000000000001"
	chatBody := `{"inputs":{},"query":"hi","user":"u","response_mode":"streaming"}`
	runBody := `{"inputs":{},"user":"u","response_mode":"streaming"}`
	type req struct{ method, path, body string }
	chatOps := []req{
		{"POST", "/chat-messages", chatBody},
		{"POST", "/chat-messages/task-1/stop", `{"user":"u"}`},
		{"GET", "/conversations?user=u", ""},
		{"GET", "/messages?user=u&conversation_id=" + uuid, ""},
		{"GET", "/messages/" + uuid + "/suggested?user=u", ""},
		{"GET", "/conversations/" + uuid + "/variables?user=u", ""},
		{"POST", "/conversations/" + uuid + "/name", `{"name":"n","user":"u"}`},
		{"PUT", "/conversations/" + uuid + "/variables/" + uuid, `{"value":"v","user":"u"}`},
		{"DELETE", "/conversations/" + uuid, `{"user":"u"}`},
	}
	workflowOps := []req{
		{"POST", "/workflows/run", runBody},
		{"POST", "/workflows/" + uuid + "/run", runBody},
		{"POST", "/workflows/tasks/task-1/stop", `{"user":"u"}`},
	}
	runOps := []req{
		{"GET", "/workflows/run/" + uuid, ""},
		{"GET", "/workflow/" + uuid + "/events?user=u", ""},
	}
	completionOps := []req{
		{"POST", "/completion-messages", `{"inputs":{},"query":"hi","user":"u","response_mode":"streaming"}`},
		{"POST", "/completion-messages/task-1/stop", `{"user":"u"}`},
	}
	refused := map[string][]struct {
		ops  []req
		code string
	}{
		"advanced-chat": {{workflowOps, "not_workflow_app"}, {completionOps, "app_unavailable"}},
		"workflow":      {{chatOps, "not_chat_app"}, {completionOps, "app_unavailable"}},
		"completion":    {{chatOps, "not_chat_app"}, {workflowOps, "not_workflow_app"}, {runOps, "not_workflow_app"}},
		"chat":          {{workflowOps, "not_workflow_app"}, {runOps, "not_workflow_app"}, {completionOps, "app_unavailable"}},
		"agent-chat":    {{workflowOps, "not_workflow_app"}, {runOps, "not_workflow_app"}, {completionOps, "app_unavailable"}},
	}
	for mode, groups := range refused {
		s := newServer(t, chatflowtest.WithMode(mode))
		for _, g := range groups {
			for _, r := range g.ops {
				var body any
				ct := ""
				if r.body != "" {
					body, ct = r.body, "application/json"
				}
				wantErrorAt(t, mode+" "+r.method+" "+r.path,
					doUnchecked(t, s, r.method, r.path, body, "Bearer "+s.APIKey, ct), 400, g.code)
			}
		}
		// The key comes first, then the user.
		wantErrorAt(t, mode+" no key", doUnchecked(t, s, "POST", "/completion-messages", `{"inputs":{}}`, "", "application/json"), 401, "unauthorized")
		if mode != "completion" {
			e := wantErrorAt(t, mode+" no user", doUnchecked(t, s, "POST", "/completion-messages", `{"inputs":{}}`, "Bearer "+s.APIKey, "application/json"), 400, "invalid_param")
			if e["message"] != "Arg user must be provided." {
				t.Errorf("%s: no user: message %v", mode, e["message"])
			}
		}
	}
	// A route of another app type with the wrong method is 405, as any.
	s := newServer(t)
	wantErrorAt(t, "GET /completion-messages", doUnchecked(t, s, "GET", "/completion-messages", nil, "Bearer "+s.APIKey, ""), 405, "method_not_allowed")
	wantErrorAt(t, "GET /workflows/run", doUnchecked(t, s, "GET", "/workflows/run", nil, "Bearer "+s.APIKey, ""), 405, "method_not_allowed")
	// What every mode serves.
	for _, m := range chatflowtest.Modes() {
		s := newServer(t, chatflowtest.WithMode(m))
		for _, path := range []string{"/info", "/parameters", "/meta", "/app/feedbacks", "/workflows/logs"} {
			if r := doUnchecked(t, s, "GET", path, nil, "Bearer "+s.APIKey, ""); r.status != 200 {
				t.Errorf("%s: GET %s = %d %s", m, path, r.status, r.body)
			}
		}
	}
}

// wantErrorAt is wantError that names the request and does not stop the
// test.
func wantErrorAt(t *testing.T, what string, r reply, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d, want %d (%s)", what, r.status, status, r.body)
		return nil
	}
	v := r.json(t)
	if v["code"] != code || v["status"] != float64(status) {
		t.Errorf("%s: body %s, want code %s", what, r.body, code)
	}
	return v
}

// noChatIDs fails when an event of a workflow app names a conversation or
// a message.
func noChatIDs(t *testing.T, evs []event) {
	t.Helper()
	for _, ev := range evs {
		if _, ok := ev.data["conversation_id"]; ok {
			t.Errorf("%s names a conversation: %s", ev.name, ev.raw)
		}
		if _, ok := ev.data["message_id"]; ok {
			t.Errorf("%s names a message: %s", ev.name, ev.raw)
		}
	}
}

// TestWorkflowRun: a workflow app's run streams workflow and node events
// and text_chunk events, ends with workflow_finished and its outputs, and
// is stored (run detail, logs); the workflow_id variant runs that version.
func TestWorkflowRun(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithMode("workflow"))
	st := openStream(t, s, "POST", "/workflows/run", `{"inputs":{"query":"one two"},"user":"wu","response_mode":"streaming"}`)
	evs := st.rest()
	noChatIDs(t, evs)
	got := strings.Join(names(evs), ",")
	want := "workflow_started,node_started,node_finished,node_started,text_chunk,text_chunk,text_chunk,text_chunk,node_finished,node_started,node_finished,workflow_finished"
	if got != want {
		t.Fatalf("events = %s\nwant     %s", got, want)
	}
	runID := evs[0].data["workflow_run_id"].(string)
	text := ""
	for _, ev := range evs {
		if ev.data["workflow_run_id"] != runID || ev.data["task_id"] == "" {
			t.Errorf("%s: run or task id missing: %s", ev.name, ev.raw)
		}
		if ev.name == "text_chunk" {
			text += ev.data["data"].(map[string]any)["text"].(string)
		}
	}
	fin := evs[len(evs)-1].data["data"].(map[string]any)
	if text != "You said: one two" || fin["status"] != "succeeded" || fin["outputs"].(map[string]any)["text"] != text {
		t.Errorf("text %q, workflow_finished data %v", text, fin)
	}
	if r := do(t, s, "GET", "/workflows/run/"+runID, nil).json(t); r["status"] != "succeeded" {
		t.Errorf("run detail = %v", r)
	}
	if logs := do(t, s, "GET", "/workflows/logs", nil).json(t); logs["total"] != float64(1) {
		t.Errorf("logs = %v", logs)
	}

	// A given workflow version, blocking: the run's end, and no answer text
	// outside data.outputs.
	const wf = "00000000-0000-4000-8000-0000000000aa"
	r := doUnchecked(t, s, "POST", "/workflows/"+wf+"/run", `{"inputs":{"n":1},"user":"wu"}`, "Bearer "+s.APIKey, "application/json")
	wantStatus(t, r, 200)
	v := r.json(t)
	data := v["data"].(map[string]any)
	if v["workflow_run_id"] == "" || v["task_id"] == "" || data["workflow_id"] != wf || data["status"] != "succeeded" ||
		data["outputs"].(map[string]any)["text"] != `You said: {"n":1}` {
		t.Errorf("blocking run = %s", r.body)
	}
	// Dify's body checks.
	for _, body := range []string{`{"user":"wu"}`, `{"inputs":null,"user":"wu"}`, `{"inputs":[],"user":"wu"}`, `{"inputs":{},"user":"wu","response_mode":"fast"}`} {
		wantErrorAt(t, body, doUnchecked(t, s, "POST", "/workflows/run", body, "Bearer "+s.APIKey, "application/json"), 400, "invalid_param")
	}
}

// TestWorkflowFailure: a failing workflow run streams workflow_finished
// (failed) then an error event; a blocking one answers the failed run.
func TestWorkflowFailure(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithMode("workflow"))
	s.FailNextRun("no model")
	evs := openStream(t, s, "POST", "/workflows/run", `{"inputs":{},"user":"wu","response_mode":"streaming"}`).rest()
	noChatIDs(t, evs)
	n := len(evs)
	if n < 2 || evs[n-2].name != "workflow_finished" || evs[n-1].name != "error" {
		t.Fatalf("events = %v", names(evs))
	}
	if d := evs[n-2].data["data"].(map[string]any); d["status"] != "failed" || d["error"] != "no model" {
		t.Errorf("workflow_finished = %s", evs[n-2].raw)
	}
	s.FailNextRun("still no model")
	r := doUnchecked(t, s, "POST", "/workflows/run", `{"inputs":{},"user":"wu"}`, "Bearer "+s.APIKey, "application/json")
	if d, _ := r.json(t)["data"].(map[string]any); r.status != 200 || d["status"] != "failed" || d["error"] != "still no model" {
		t.Errorf("blocking failed run = %d %s", r.status, r.body)
	}
}

// TestWorkflowStop: a stop with the run's task id ends a workflow run with
// workflow_finished (stopped) and no message_end. Unlike a chat stop, the
// user need not be the one that started the run.
func TestWorkflowStop(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithMode("workflow"))
	s.SetEventDelay(time.Hour)
	st := openStream(t, s, "POST", "/workflows/run", `{"inputs":{"query":"a b c"},"user":"wu","response_mode":"streaming"}`)
	first := st.until("text_chunk") // the first token; the run then waits
	task := first[len(first)-1].data["task_id"].(string)
	stop := func(user string) {
		r := doUnchecked(t, s, "POST", "/workflows/tasks/"+task+"/stop", `{"user":"`+user+`"}`, "Bearer "+s.APIKey, "application/json")
		if r.status != 200 || r.json(t)["result"] != "success" {
			t.Fatalf("stop as %s = %d %s", user, r.status, r.body)
		}
	}
	stop("someone-else")
	rest := st.rest()
	noChatIDs(t, rest)
	last := rest[len(rest)-1]
	if last.name != "workflow_finished" {
		t.Fatalf("after the stop = %v", names(rest))
	}
	for _, ev := range rest {
		if ev.name == "message_end" || ev.name == "text_chunk" {
			t.Errorf("after the stop: %s", ev.name)
		}
	}
	if d := last.data["data"].(map[string]any); d["status"] != "stopped" || d["outputs"].(map[string]any)["text"] != "You" {
		t.Errorf("workflow_finished = %s", last.raw)
	}
}

// TestWorkflowPauseAndResume: a workflow run pauses at a human input form;
// submitting it resumes the run, which a reattach follows to its end.
func TestWorkflowPauseAndResume(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithMode("workflow"))
	s.PauseNextRun()
	evs := openStream(t, s, "POST", "/workflows/run", `{"inputs":{"query":"ship it"},"user":"wu","response_mode":"streaming"}`).rest()
	noChatIDs(t, evs)
	n := len(evs)
	if n < 2 || evs[n-2].name != "human_input_required" || evs[n-1].name != "workflow_paused" {
		t.Fatalf("events = %v", names(evs))
	}
	runID := evs[0].data["workflow_run_id"].(string)
	token := evs[n-2].data["data"].(map[string]any)["form_token"].(string)
	if r := do(t, s, "GET", "/workflows/run/"+runID, nil).json(t); r["status"] != "paused" {
		t.Errorf("paused run detail = %v", r)
	}
	// The snapshot of the paused run names no conversation or message.
	snap := readEvents(t, do(t, s, "GET", "/workflow/"+runID+"/events?user=wu&include_state_snapshot=true", nil).body)
	noChatIDs(t, snap)
	if got := names(snap); got[0] != "workflow_started" || got[len(got)-1] != "workflow_paused" {
		t.Errorf("snapshot = %v", got)
	}
	follow := openStream(t, s, "GET", "/workflow/"+runID+"/events?user=wu", nil)
	if ev := follow.must(); !ev.ping {
		t.Fatalf("first event of a plain reattach = %s, want a ping", ev.name)
	}
	wantStatus(t, do(t, s, "POST", "/form/human_input/"+token, `{"inputs":{"note":"ok"},"action":"approve","user":"wu"}`), 200)
	rest := follow.rest()
	noChatIDs(t, rest)
	got := names(rest)
	if got[0] != "workflow_started" || got[1] != "human_input_form_filled" || got[len(got)-1] != "workflow_finished" {
		t.Fatalf("resumed events = %v", got)
	}
	if d := rest[len(rest)-1].data["data"].(map[string]any); d["status"] != "succeeded" || d["outputs"].(map[string]any)["text"] != "You said: ship it" {
		t.Errorf("workflow_finished = %s", rest[len(rest)-1].raw)
	}
	// A finished run: one workflow_finished built from the stored run.
	fin := readEvents(t, do(t, s, "GET", "/workflow/"+runID+"/events?user=wu", nil).body)
	if len(fin) != 1 || fin[0].name != "workflow_finished" {
		t.Errorf("reattach to the finished run = %v", names(fin))
	}
}

// TestCompletion: a completion app streams message events and message_end
// (no conversation id), answers blocking requests with mode completion,
// and stops a run with message_end.
func TestCompletion(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithMode("completion"))
	evs := openStream(t, s, "POST", "/completion-messages", `{"inputs":{"query":"write"},"user":"cu","response_mode":"streaming"}`).rest()
	got := strings.Join(names(evs), ",")
	if got != "message,message,message,message_end" {
		t.Fatalf("events = %s", got)
	}
	answer := ""
	for _, ev := range evs {
		if _, ok := ev.data["conversation_id"]; ok {
			t.Errorf("%s names a conversation: %s", ev.name, ev.raw)
		}
		if ev.data["message_id"] == nil || ev.data["task_id"] == nil {
			t.Errorf("%s lacks message or task id: %s", ev.name, ev.raw)
		}
		if ev.name == "message" {
			answer += ev.data["answer"].(string)
		}
	}
	if answer != "You said: write" {
		t.Errorf("answer = %q", answer)
	}
	// The message takes feedback.
	mid := evs[0].data["message_id"].(string)
	wantStatus(t, doUnchecked(t, s, "POST", "/messages/"+mid+"/feedbacks", `{"rating":"like","user":"cu"}`, "Bearer "+s.APIKey, "application/json"), 200)

	r := doUnchecked(t, s, "POST", "/completion-messages", `{"inputs":{},"query":"plain","user":"cu"}`, "Bearer "+s.APIKey, "application/json")
	v := r.json(t)
	if r.status != 200 || v["mode"] != "completion" || v["answer"] != "You said: plain" || v["message_id"] == nil {
		t.Errorf("blocking completion = %d %s", r.status, r.body)
	}
	if _, ok := v["conversation_id"]; ok {
		t.Errorf("blocking completion names a conversation: %s", r.body)
	}

	s.SetEventDelay(time.Hour)
	st := openStream(t, s, "POST", "/completion-messages", `{"inputs":{},"query":"a b c","user":"cu","response_mode":"streaming"}`)
	task := st.must().data["task_id"].(string)
	wantStatus(t, doUnchecked(t, s, "POST", "/completion-messages/"+task+"/stop", `{"user":"cu"}`, "Bearer "+s.APIKey, "application/json"), 200)
	if rest := names(st.rest()); len(rest) == 0 || rest[len(rest)-1] != "message_end" {
		t.Errorf("after the stop = %v", rest)
	}
}

// TestChatAndAgentStreams: chat apps stream message events and message_end,
// agent apps agent_thought, agent_message events, agent_thought and
// message_end; neither has workflow events, and an agent app refuses a
// blocking request.
func TestChatAndAgentStreams(t *testing.T) {
	t.Parallel()
	for mode, want := range map[string]string{
		"chat":       "message,message,message,message_end",
		"agent-chat": "agent_thought,agent_message,agent_message,agent_message,agent_thought,message_end",
	} {
		s := newServer(t, chatflowtest.WithMode(mode))
		evs := openStream(t, s, "POST", "/chat-messages", `{"inputs":{},"query":"hey","user":"au","response_mode":"streaming"}`).rest()
		// No workflow runs to log in an app without a workflow.
		if l := doUnchecked(t, s, "GET", "/workflows/logs", nil, "Bearer "+s.APIKey, "").json(t); l["total"] != float64(0) {
			t.Errorf("%s: workflow logs = %v", mode, l)
		}
		if got := strings.Join(names(evs), ","); got != want {
			t.Errorf("%s: events = %s, want %s", mode, got, want)
			continue
		}
		answer := ""
		for _, ev := range evs {
			if ev.data["conversation_id"] == nil || ev.data["message_id"] == nil {
				t.Errorf("%s: %s lacks conversation or message id: %s", mode, ev.name, ev.raw)
			}
			if ev.name == "message" || ev.name == "agent_message" {
				answer += ev.data["answer"].(string)
			}
		}
		if answer != "You said: hey" {
			t.Errorf("%s: answer = %q", mode, answer)
		}
		if mode == "agent-chat" && evs[len(evs)-2].data["thought"] != answer {
			t.Errorf("final agent_thought = %s", evs[len(evs)-2].raw)
		}
		// The conversation goes on and is listed.
		cid := evs[0].data["conversation_id"].(string)
		if l := doUnchecked(t, s, "GET", "/messages?user=au&conversation_id="+cid, nil, "Bearer "+s.APIKey, "").json(t); len(l["data"].([]any)) != 1 {
			t.Errorf("%s: messages = %v", mode, l)
		}
		r := doUnchecked(t, s, "POST", "/chat-messages", `{"inputs":{},"query":"hey","user":"au"}`, "Bearer "+s.APIKey, "application/json")
		if mode == "agent-chat" {
			wantErrorAt(t, "agent blocking", r, 400, "invalid_param")
		} else if v := r.json(t); r.status != 200 || v["mode"] != "chat" || v["answer"] != "You said: hey" {
			t.Errorf("chat blocking = %d %s", r.status, r.body)
		}
	}
}

// TestWorkflowCutThenReattach: a workflow stream cut mid-run leaves the run
// going; a reattach with the snapshot follows it to workflow_finished.
func TestWorkflowCutThenReattach(t *testing.T) {
	t.Parallel()
	s := newServer(t, chatflowtest.WithMode("workflow"))
	s.SetEventDelay(time.Millisecond)
	s.CutStreamAfter(5)
	st := openStream(t, s, "POST", "/workflows/run", `{"inputs":{"query":"a b c d"},"user":"wu","response_mode":"streaming"}`)
	var got []event
	for {
		ev, ok, err := st.next()
		if !ok {
			if err == nil {
				t.Fatal("the cut stream ended cleanly")
			}
			break
		}
		got = append(got, ev)
	}
	if len(got) != 5 {
		t.Fatalf("events before the cut = %v", names(got))
	}
	runID := got[0].data["workflow_run_id"].(string)
	rest := openStream(t, s, "GET", "/workflow/"+runID+"/events?user=wu&include_state_snapshot=true", nil).rest()
	noChatIDs(t, rest)
	last := rest[len(rest)-1]
	if last.name != "workflow_finished" || last.data["data"].(map[string]any)["outputs"].(map[string]any)["text"] != "You said: a b c d" {
		t.Errorf("reattach = %v, last %s", names(rest), last.raw)
	}
}

// TestFailureWithoutWorkflow: in apps without a workflow a failing run is
// the model's failure: an error event ends the stream (no message_end), a
// blocking request is 400; both completion_request_error.
func TestFailureWithoutWorkflow(t *testing.T) {
	t.Parallel()
	for mode, path := range map[string]string{"chat": "/chat-messages", "agent-chat": "/chat-messages", "completion": "/completion-messages"} {
		s := newServer(t, chatflowtest.WithMode(mode))
		s.FailNextRun("model down")
		evs := openStream(t, s, "POST", path, `{"inputs":{},"query":"q","user":"fu","response_mode":"streaming"}`).rest()
		last := evs[len(evs)-1]
		if last.name != "error" || last.data["code"] != "completion_request_error" || last.data["message"] != "model down" {
			t.Errorf("%s: events %v, last %s", mode, names(evs), last.raw)
		}
		for _, ev := range evs {
			if ev.name == "message_end" || strings.HasPrefix(ev.name, "workflow_") {
				t.Errorf("%s: unexpected %s", mode, ev.name)
			}
		}
		if mode == "agent-chat" {
			continue // no blocking requests
		}
		s.FailNextRun("model down")
		wantErrorAt(t, mode+" blocking", doUnchecked(t, s, "POST", path, `{"inputs":{},"query":"q","user":"fu"}`, "Bearer "+s.APIKey, "application/json"), 400, "completion_request_error")
	}
}
