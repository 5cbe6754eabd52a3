package chatflowtest_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/difykit/chatflow/chatflowtest"
)

// streamBody is the body of a streaming chat request.
func streamBody(user, query string) map[string]any {
	return map[string]any{"inputs": map[string]any{}, "query": query, "user": user, "response_mode": "streaming"}
}

// TestRunGoesOnAfterDisconnect: the client leaves after the first token;
// the run is still going (the message is stored with an empty answer, the
// run detail says running), a reattach with the snapshot shows it, and a
// stop with the real task id ends it with the partial answer stored.
func TestRunGoesOnAfterDisconnect(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetEventDelay(time.Hour) // the run waits after its first token
	st := openStream(t, s, "POST", "/chat-messages", streamBody("ann", "one two three"))
	// Like Dify 1.16.1, no header names the run; the first event does.
	if h := st.resp.Header.Get("X-Workflow-Run-ID"); h != "" {
		t.Errorf("X-Workflow-Run-ID = %q, want none", h)
	}
	if h := st.resp.Header.Get("Access-Control-Expose-Headers"); h != "" {
		t.Errorf("Access-Control-Expose-Headers = %q, want none", h)
	}
	evs := st.until("message")
	first := evs[len(evs)-1].data
	runID, _ := evs[0].data["workflow_run_id"].(string)
	if evs[0].name != "workflow_started" || runID == "" || evs[0].data["data"].(map[string]any)["id"] != runID {
		t.Fatalf("first event %s %v: want workflow_started naming the run", evs[0].name, evs[0].data)
	}
	taskID := first["task_id"].(string)
	cid, mid := first["conversation_id"].(string), first["message_id"].(string)
	st.resp.Body.Close() // the client goes away

	// Stored at once with an empty answer; no run or task id in the item.
	msgs := do(t, s, "GET", "/messages?user=ann&conversation_id="+cid, nil).json(t)["data"].([]any)
	m := msgs[0].(map[string]any)
	if m["id"] != mid || m["answer"] != "" || m["status"] != "normal" {
		t.Errorf("message while running = %v", m)
	}
	for _, k := range []string{"workflow_run_id", "task_id"} {
		if _, ok := m[k]; ok {
			t.Errorf("message item has %s", k)
		}
	}
	if got := do(t, s, "GET", "/workflows/run/"+runID, nil).json(t)["status"]; got != "running" {
		t.Errorf("run status = %v, want running", got)
	}

	// Stops that do nothing, all answered with success: another user, the
	// run id instead of the task id, an unknown task.
	for _, stop := range []struct{ task, user string }{{taskID, "bob"}, {runID, "ann"}, {"no-such-task", "ann"}} {
		r := do(t, s, "POST", "/chat-messages/"+stop.task+"/stop", map[string]any{"user": stop.user})
		if wantStatus(t, r, 200); r.json(t)["result"] != "success" {
			t.Errorf("stop = %s", r.body)
		}
	}

	re := openStream(t, s, "GET", "/workflow/"+runID+"/events?user=ann&include_state_snapshot=TRUE", nil)
	snap := []event{re.must(), re.must(), re.must(), re.must(), re.must()}
	if got, want := names(snap), []string{"workflow_started", "message_replace", "node_started", "node_finished", "node_started"}; !slices.Equal(got, want) {
		t.Fatalf("snapshot = %v, want %v (the run must still be going)", got, want)
	}
	checkEvents(t, snap)
	for _, ev := range snap {
		if ev.data["task_id"] != runID || ev.data["conversation_id"] != cid || ev.data["message_id"] != mid {
			t.Errorf("snapshot event %s: task/conversation/message ids wrong", ev.raw)
		}
		if d, ok := ev.data["data"].(map[string]any); ok && strings.HasPrefix(ev.name, "node_") {
			for _, k := range []string{"inputs", "outputs", "process_data"} {
				if d[k] != nil {
					t.Errorf("snapshot %s has %s = %v", ev.name, k, d[k])
				}
			}
		}
	}
	if snap[1].data["answer"] != "" {
		t.Errorf("message_replace answer = %v, want the stored (empty) answer", snap[1].data["answer"])
	}
	if id := snap[4].data["data"].(map[string]any)["node_id"]; id != "llm" {
		t.Errorf("last node = %v", id)
	}

	// The stop with the right task and user ends the run.
	wantStatus(t, do(t, s, "POST", "/chat-messages/"+taskID+"/stop", map[string]any{"user": "ann"}), 200)
	live := re.rest()
	checkEvents(t, live)
	if got := names(live); !slices.Equal(got, []string{"message_end", "workflow_finished"}) {
		t.Fatalf("live events after stop = %v", got)
	}
	for _, ev := range live {
		if ev.data["task_id"] != taskID {
			t.Errorf("live %s task_id = %v, want the real task id", ev.name, ev.data["task_id"])
		}
	}
	wf := live[1].data["data"].(map[string]any)
	if wf["status"] != "stopped" || wf["error"] != "Stopped by user." {
		t.Errorf("workflow_finished = %v", wf)
	}
	m = do(t, s, "GET", "/messages?user=ann&conversation_id="+cid, nil).json(t)["data"].([]any)[0].(map[string]any)
	if m["answer"] != "You" || m["status"] != "normal" || m["error"] != nil {
		t.Errorf("stopped message = %v", m)
	}
	if got := do(t, s, "GET", "/workflows/run/"+runID, nil).json(t)["status"]; got != "stopped" {
		t.Errorf("run status = %v, want stopped", got)
	}
	// Stop requests are in the log with their task id.
	var stops []chatflowtest.Request
	for _, r := range s.Requests() {
		if r.Operation == "stopChatMessageGeneration" {
			stops = append(stops, r)
		}
	}
	if len(stops) != 4 || stops[3].Path != "/chat-messages/"+taskID+"/stop" || stops[3].User != "ann" || stops[3].Status != 200 {
		t.Errorf("stop requests = %+v", stops)
	}
	// A finished task: still success, nothing happens.
	wantStatus(t, do(t, s, "POST", "/chat-messages/"+taskID+"/stop", map[string]any{"user": "ann"}), 200)
}

// TestPlainReattach: without include_state_snapshot (and with a value
// other than "true"), a reattach to a running run is a ping, then only
// the events from now on.
func TestPlainReattach(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetEventDelay(time.Hour)
	st := openStream(t, s, "POST", "/chat-messages", streamBody("ben", "a b"))
	evs := st.until("message")
	runID := evs[0].data["workflow_run_id"].(string)
	taskID := evs[len(evs)-1].data["task_id"].(string)
	for _, q := range []string{"", "&include_state_snapshot=1", "&include_state_snapshot=yes"} {
		re := openStream(t, s, "GET", "/workflow/"+runID+"/events?user=ben"+q, nil)
		if ev := re.must(); !ev.ping {
			t.Fatalf("reattach%s: first event %s, want a ping", q, ev.name)
		}
		if q == "&include_state_snapshot=yes" {
			wantStatus(t, do(t, s, "POST", "/chat-messages/"+taskID+"/stop", map[string]any{"user": "ben"}), 200)
			live := re.rest()
			if got := names(live); !slices.Equal(got, []string{"message_end", "workflow_finished"}) {
				t.Errorf("live events = %v", got)
			}
		}
	}
	// The original stream saw the whole run.
	if got := names(st.rest()); !slices.Equal(got, []string{"message_end", "workflow_finished"}) {
		t.Errorf("rest of the chat stream = %v", got)
	}
}

// TestCutStreamThenRecover: a stream cut after some events leaves the run
// going; a reattach with the snapshot ends with workflow_finished, and the
// stored message holds the full answer.
func TestCutStreamThenRecover(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetEventDelay(time.Millisecond)
	s.CutStreamAfter(6)
	st := openStream(t, s, "POST", "/chat-messages", streamBody("cat", "alpha beta gamma delta"))
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
	if len(got) != 6 {
		t.Fatalf("events before the cut = %v", names(got))
	}
	cid := got[0].data["conversation_id"].(string)
	runID := got[0].data["workflow_run_id"].(string)
	re := openStream(t, s, "GET", "/workflow/"+runID+"/events?user=cat&include_state_snapshot=true", nil)
	all := re.rest()
	checkEvents(t, all)
	last := all[len(all)-1]
	if last.name != "workflow_finished" {
		t.Fatalf("reattach = %v", names(all))
	}
	data := last.data["data"].(map[string]any)
	if data["status"] != "succeeded" || data["outputs"].(map[string]any)["answer"] != "You said: alpha beta gamma delta" {
		t.Errorf("workflow_finished = %s", last.raw)
	}
	m := do(t, s, "GET", "/messages?user=cat&conversation_id="+cid, nil).json(t)["data"].([]any)[0].(map[string]any)
	if m["answer"] != "You said: alpha beta gamma delta" {
		t.Errorf("stored answer = %v", m["answer"])
	}
}

// TestReattachPausedRun: a paused run with the snapshot ends at
// workflow_paused, or with continue_on_pause=true goes on through the
// resumed run.
func TestReattachPausedRun(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.PauseNextRun()
	_, evs := stream(t, s, "dan", "", "approve me")
	runID := evs[0].data["workflow_run_id"].(string)
	token := evs[len(evs)-2].data["data"].(map[string]any)["form_token"].(string)
	cid := evs[0].data["conversation_id"].(string)
	m := do(t, s, "GET", "/messages?user=dan&conversation_id="+cid, nil).json(t)["data"].([]any)[0].(map[string]any)
	if m["status"] != "paused" {
		t.Errorf("paused message status = %v", m["status"])
	}

	r := do(t, s, "GET", "/workflow/"+runID+"/events?user=dan&include_state_snapshot=true", nil)
	snap := readEvents(t, r.body)
	checkEvents(t, snap)
	got := names(snap)
	if got[0] != "workflow_started" || got[1] != "message_replace" || got[len(got)-2] != "human_input_required" || got[len(got)-1] != "workflow_paused" {
		t.Fatalf("snapshot of a paused run = %v", got)
	}

	re := openStream(t, s, "GET", "/workflow/"+runID+"/events?user=dan&include_state_snapshot=true&continue_on_pause=True", nil)
	if names(re.until("workflow_paused"))[0] != "workflow_started" {
		t.Fatal("snapshot does not start with workflow_started")
	}
	wantStatus(t, do(t, s, "POST", "/form/human_input/"+token, `{"inputs":{"note":"ok"},"action":"approve","user":"dan"}`), 200)
	rest := re.rest()
	checkEvents(t, rest)
	got = names(rest)
	if got[0] != "workflow_started" || got[len(got)-1] != "workflow_finished" {
		t.Fatalf("after the pause = %v", got)
	}
	if rest[0].data["data"].(map[string]any)["reason"] != "resumption" {
		t.Errorf("resumed workflow_started = %s", rest[0].raw)
	}
}

// TestCloseEndsRuns: Close ends a run nobody follows and waits for it.
func TestCloseEndsRuns(t *testing.T) {
	t.Parallel()
	s := chatflowtest.NewServer()
	s.SetEventDelay(time.Hour)
	st := openStream(t, s, "POST", "/chat-messages", streamBody("eve", "x y z"))
	st.until("message")
	st.resp.Body.Close()
	// Close returns only when every run goroutine has ended.
	s.Close()
	s.Close() // idempotent
}
