package chatflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var updateStreams = flag.Bool("update-streams", false, "rewrite testdata/streams/*.golden.json")

// streamResult is what the golden files hold for one stream.
type streamResult struct {
	Events  []string `json:"events"`
	TaskID  string   `json:"task_id"`
	Error   string   `json:"error,omitempty"`
	Matches []string `json:"error_matches,omitempty"`
	Reply   *Reply   `json:"reply"`
}

func errorMatches(err error) []string {
	var out []string
	for name, target := range map[string]error{
		"ErrIncompleteStream": ErrIncompleteStream,
		"io.ErrUnexpectedEOF": io.ErrUnexpectedEOF,
		"ErrIdleTimeout":      ErrIdleTimeout,
	} {
		if errors.Is(err, target) {
			out = append(out, name)
		}
	}
	var ae *APIError
	if errors.As(err, &ae) {
		out = append(out, "*APIError")
	}
	slices.Sort(out)
	return out
}

// TestGoldenStreams decodes each realistic chatflow run in
// testdata/streams twice, once listing its events and once with Collect,
// and compares the results with the golden file next to it. Run with
// -update-streams to rewrite the golden files after a deliberate change.
func TestGoldenStreams(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "streams", "*.sse"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no streams in testdata/streams: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var res streamResult
		s := streamFromBytes(b)
		var iterErr error
		for ev, err := range s.Events() {
			if err != nil {
				iterErr = err
				continue
			}
			res.Events = append(res.Events, ev.Name())
			if _, err := ev.Payload(); err != nil {
				t.Errorf("%s: %s: %v", f, ev.Name(), err)
			}
		}
		res.TaskID = s.TaskID()
		reply, err := streamFromBytes(b).Collect()
		if (err == nil) != (iterErr == nil) || err != nil && err.Error() != iterErr.Error() {
			t.Errorf("%s: Collect error %v, Events error %v", f, err, iterErr)
		}
		if err != nil {
			res.Error = err.Error()
			res.Matches = errorMatches(err)
		}
		if reply != nil {
			reply.Timing = Timing{} // the clock of this run
		}
		res.Reply = reply
		got, _ := json.MarshalIndent(res, "", "  ")
		got = append(got, '\n')
		golden := strings.TrimSuffix(f, ".sse") + ".golden.json"
		if *updateStreams {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGoldenStreams -update-streams)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: result differs from %s:\n%s", f, golden, got)
		}
	}
}

// TestCollectSemantics checks the rules of Collect on the golden streams,
// independently of the golden files.
func TestCollectSemantics(t *testing.T) {
	t.Parallel()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "streams", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	r, err := streamFromBytes(read("success.sse")).Collect()
	if err != nil {
		t.Fatalf("success: %v", err)
	}
	if !strings.HasPrefix(r.Answer, "You can return items within **30 days** of delivery.\n\nRefunds") ||
		!strings.HasSuffix(r.Answer, " 💳 — \"no questions asked\". 退货很简单。") {
		t.Errorf("success: answer %q", r.Answer)
	}
	if r.ConversationID != "3f6a1c52-8e0b-4d7e-9a43-1b2c5d7e9f10" || r.MessageID != "b7d2e4a1-6c3f-4e88-9d01-2a4b6c8e0f12" ||
		r.TaskID != "e1c9a7b3-5d2f-4a60-8b14-7c3e9f1a2d45" || r.WorkflowRunID != "5a8c2e7f-1b3d-4f69-a0c2-9e4b6d8f1a23" {
		t.Errorf("success: ids %q %q %q %q", r.ConversationID, r.MessageID, r.TaskID, r.WorkflowRunID)
	}
	if r.Usage.TotalTokens != 1251 || r.Usage.Currency != "USD" || len(r.RetrieverResources) != 1 ||
		r.RetrieverResources[0].DocumentName != "returns-policy.md" || r.WorkflowStatus != "succeeded" ||
		!r.MessageEnded || !r.WorkflowFinished || r.Paused || r.Outputs["answer"] != r.Answer {
		t.Errorf("success: reply %+v", r)
	}

	r, err = streamFromBytes(read("failure.sse")).Collect()
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 400 || ae.Code != "invalid_param" || !strings.HasPrefix(ae.Message, "Run failed: [openai]") {
		t.Fatalf("failure: err = %#v", err)
	}
	if errors.Is(err, ErrIncompleteStream) {
		t.Error("failure: an error event is not an incomplete stream")
	}
	if r == nil || r.WorkflowStatus != "failed" || !strings.Contains(r.WorkflowError, "429") || r.MessageEnded {
		t.Errorf("failure: reply %+v", r)
	}

	r, err = streamFromBytes(read("paused.sse")).Collect()
	if err != nil {
		t.Fatalf("paused: %v", err)
	}
	if !r.Paused || r.FormToken != "hitl_7QmZ2xK9pL4wR8vN" || r.WorkflowStatus != "paused" || r.HumanInput == nil ||
		len(r.HumanInput.Actions) != 2 || r.Answer != "I can cancel order #1042. A colleague needs to approve it first." ||
		r.WorkflowRunID == "" || r.MessageEnded || r.WorkflowFinished {
		t.Errorf("paused: reply %+v", r)
	}

	r, err = streamFromBytes(read("resumed.sse")).Collect()
	if err != nil || r.Answer != " Approved: order #1042 is cancelled." || r.WorkflowStatus != "succeeded" || r.Usage.TotalTokens != 411 || r.Files != nil {
		t.Errorf("resumed (workflow_finished before message_end): %+v, %v", r, err)
	}

	r, err = streamFromBytes(read("iteration.sse")).Collect()
	if err != nil || r.Answer != "[Content removed by moderation]" || r.WorkflowStatus != "partial-succeeded" ||
		len(r.MessageFiles) != 1 || r.MessageFiles[0].Type != "image" || len(r.Files) != 1 {
		t.Errorf("iteration: %+v, %v", r, err)
	}

	r, err = streamFromBytes(read("cut.sse")).Collect()
	if !errors.Is(err, ErrIncompleteStream) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut: err = %v, want ErrIncompleteStream and io.ErrUnexpectedEOF", err)
	}
	if r == nil || r.Answer != "You can return items within **30 days**" || r.ConversationID == "" {
		t.Errorf("cut: reply %+v", r)
	}

	r, err = streamFromBytes(read("ended.sse")).Collect()
	if !errors.Is(err, ErrIncompleteStream) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ended: err = %v, want ErrIncompleteStream without io.ErrUnexpectedEOF", err)
	}
	if r == nil || r.Answer != "You can return items " {
		t.Errorf("ended: reply %+v", r)
	}
}

func TestCollectOrderAndReplace(t *testing.T) {
	t.Parallel()
	const head = `data: {"event":"workflow_started","task_id":"t1","workflow_run_id":"w1","conversation_id":"c1","message_id":"m1"}` + "\n\n"
	msg := func(a string) string {
		b, _ := json.Marshal(map[string]any{"event": "message", "task_id": "t1", "conversation_id": "c1", "message_id": "m1", "answer": a})
		return "data: " + string(b) + "\n\n"
	}
	end := `data: {"event":"message_end","id":"m1","metadata":{"usage":{"total_tokens":7}}}` + "\n\n"
	fin := `data: {"event":"workflow_finished","workflow_run_id":"w1","data":{"status":"succeeded"}}` + "\n\n"
	for name, tt := range map[string]struct {
		in     string
		answer string
		err    error
	}{
		"end then finished": {head + msg("a") + msg("b") + end + fin, "ab", nil},
		"finished then end": {head + msg("a") + fin + msg("b") + end, "ab", nil},
		"only end":          {head + msg("a") + end, "a", nil},
		"only finished":     {head + msg("a") + fin, "a", nil},
		"replace":           {head + msg("bad") + `data: {"event":"message_replace","answer":"ok"}` + "\n\n" + msg("!") + end, "ok!", nil},
		"unknown events":    {head + `data: {"event":"brand_new","x":{"y":[1]}}` + "\n\n" + msg("a") + end, "a", nil},
		"no terminal":       {head + msg("a"), "a", ErrIncompleteStream},
		"nothing":           {"", "", ErrIncompleteStream},
		"pings only":        {"event: ping\n\nevent: ping\n\n", "", ErrIncompleteStream},
		"bad json":          {head + `data: {"event":"message","answer":}` + "\n\n" + end, "", errors.New("decode message event")},
		"not an object":     {head + "data: hello\n\n" + end, "", ErrIncompleteStream},
		"done marker":       {head + msg("a") + end + "data: [DONE]\n\n", "a", nil},
	} {
		r, err := streamFromBytes([]byte(tt.in)).Collect()
		switch {
		case tt.err == nil && err != nil:
			t.Errorf("%s: %v", name, err)
		case tt.err == ErrIncompleteStream && !errors.Is(err, ErrIncompleteStream):
			t.Errorf("%s: err = %v, want ErrIncompleteStream", name, err)
		case tt.err != nil && tt.err != ErrIncompleteStream && (err == nil || !strings.Contains(err.Error(), tt.err.Error())):
			t.Errorf("%s: err = %v, want %v", name, err, tt.err)
		}
		if r == nil || r.Answer != tt.answer {
			t.Errorf("%s: reply %+v, want answer %q", name, r, tt.answer)
		}
	}
}

// TestCollectCaptures collects the real streams.
func TestCollectCaptures(t *testing.T) {
	t.Parallel()
	for name, b := range captures(t) {
		r, err := streamFromBytes(b).Collect()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if r.Answer == "" || r.ConversationID == "" || r.MessageID == "" || r.TaskID == "" || r.Usage.TotalTokens == 0 || !r.MessageEnded {
			t.Errorf("%s: reply %+v", name, r)
		}
	}
}

// TestCollectForms: a run that pauses with several pending forms keeps
// them all; forms that only workflow_paused lists are added.
func TestCollectForms(t *testing.T) {
	t.Parallel()
	form := func(token, node string, exp int) string {
		return `data: {"event":"human_input_required","task_id":"t1","workflow_run_id":"w1","conversation_id":"c1","message_id":"m1","data":{"form_token":"` + token +
			`","node_id":"` + node + `","node_title":"Ask ` + node + `","form_content":"Fill in","expiration_time":` + fmt.Sprint(exp) +
			`,"inputs":[{"output_variable_name":"reason","type":"paragraph"}],"actions":[{"id":"approve","title":"Approve"},{"id":"reject","title":"Reject"}]}}` + "\n\n"
	}
	in := form("tok-a", "n1", 1767427200) + form("tok-b", "n2", 0) +
		`data: {"event":"workflow_paused","task_id":"t1","workflow_run_id":"w1","data":{"workflow_run_id":"w1","status":"paused","elapsed_time":2.5,` +
		`"human_input_forms":[{"form_token":"tok-a","node_id":"n1"},{"form_token":"tok-c","node_id":"n3","node_title":"Mail","expiration_time":1767427300}]}}` + "\n\n"
	r, err := streamFromBytes([]byte(in)).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Forms) != 3 || r.FormToken != "tok-b" || !r.Paused || r.HumanInput.FormToken != "tok-b" {
		t.Fatalf("forms %+v, token %q", r.Forms, r.FormToken)
	}
	a, b, c := r.Forms[0], r.Forms[1], r.Forms[2]
	if a.Token != "tok-a" || a.NodeID != "n1" || a.NodeTitle != "Ask n1" || a.Content != "Fill in" || !a.ExpiresAt.Equal(time.Unix(1767427200, 0)) ||
		!slices.Equal(a.FieldNames(), []string{"reason"}) || !slices.Equal(a.ActionIDs(), []string{"approve", "reject"}) || a.Data == nil {
		t.Errorf("first form %+v", a)
	}
	if b.Token != "tok-b" || !b.ExpiresAt.IsZero() {
		t.Errorf("second form %+v", b)
	}
	if c.Token != "tok-c" || c.NodeTitle != "Mail" || c.Data != nil || c.FieldNames() != nil || c.ActionIDs() != nil {
		t.Errorf("third form %+v", c)
	}
	if r.Timing.RunElapsed != 2500*time.Millisecond {
		t.Errorf("run elapsed %v", r.Timing.RunElapsed)
	}
}

// TestReplyTiming: the times of a streamed reply come in order.
func TestReplyTiming(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	next := make(chan struct{})
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(t, w)
		write(w, f, `data: {"event":"workflow_started","task_id":"t1","workflow_run_id":"`+testRunID+`","data":{"id":"`+testRunID+`"}}`+"\n\n")
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		write(w, f, streamMsg("hi")+streamEnd+
			`data: {"event":"workflow_finished","task_id":"t1","workflow_run_id":"`+testRunID+`","data":{"status":"succeeded","elapsed_time":0.25}}`+"\n\n")
	})
	s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	var r *Reply
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, err = s.Collect()
	}()
	close(next)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	tm := r.Timing
	if tm.Sent.IsZero() || tm.Headers.Before(tm.Sent) || tm.FirstEvent.Before(tm.Headers) || tm.FirstText.Before(tm.FirstEvent) || tm.End.Before(tm.FirstText) {
		t.Errorf("times out of order: %+v", tm)
	}
	if tm.RunElapsed != 250*time.Millisecond || tm.Total() < tm.ToFirstText() || tm.ToFirstText() < tm.ToFirstEvent() || tm.ToHeaders() < 0 {
		t.Errorf("durations: %+v", tm)
	}
	if s.Timing() != tm {
		t.Errorf("Stream.Timing %+v", s.Timing())
	}
	if (Timing{}).Total() != 0 {
		t.Error("zero Timing has a total")
	}
}

// TestCollectTaskIDNotRunID: events rebuilt from the server's record carry
// the run id as task_id: it never becomes the task id.
func TestCollectTaskIDNotRunID(t *testing.T) {
	t.Parallel()
	in := `data: {"event":"workflow_started","task_id":"w1","workflow_run_id":"w1","conversation_id":"c1","message_id":"m1","data":{"id":"w1"}}` + "\n\n" +
		`data: {"event":"message_replace","task_id":"w1","conversation_id":"c1","message_id":"m1","answer":""}` + "\n\n" +
		`data: {"event":"message","task_id":"t-real","conversation_id":"c1","message_id":"m1","answer":"ok"}` + "\n\n" +
		`data: {"event":"message_end","task_id":"t-real","id":"m1","conversation_id":"c1"}` + "\n\n"
	s := streamFromBytes([]byte(in))
	r, err := s.Collect()
	if err != nil || r.TaskID != "t-real" || s.TaskID() != "t-real" || r.WorkflowRunID != "w1" || s.RunID() != "w1" || r.Answer != "ok" {
		t.Errorf("reply %+v, %v; stream task %q", r, err, s.TaskID())
	}
}

// TestCollectBoundsOtherParts: the parts of the reply other than the
// answer count toward the limit too; node events, which the reply does
// not keep, do not.
func TestCollectBoundsOtherParts(t *testing.T) {
	t.Parallel()
	var files, nodes strings.Builder
	for i := range 200 {
		files.WriteString(`data: {"event":"message_file","id":"f` + fmt.Sprint(i) + `","type":"image","belongs_to":"assistant","url":"https://example.com/` + strings.Repeat("a", 100) + `"}` + "\n\n")
		nodes.WriteString(`data: {"event":"node_finished","task_id":"t1","data":{"id":"n` + fmt.Sprint(i) + `","outputs":{"text":"` + strings.Repeat("b", 100) + `"}}}` + "\n\n")
	}
	s := streamFromBytes([]byte(files.String()))
	s.maxReply = 4096
	if r, err := s.Collect(); !errors.Is(err, ErrReplyTooLarge) || r == nil || len(r.MessageFiles) > 40 {
		t.Errorf("message files: err = %v", err)
	}
	s = streamFromBytes([]byte(nodes.String() + streamMsg("ok") + streamEnd))
	s.maxReply = 4096
	if r, err := s.Collect(); err != nil || r.Answer != "ok" {
		t.Errorf("node events: %+v, %v", r, err)
	}
}
