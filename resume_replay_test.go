package chatflow

// A server that keeps a run's events and replays them on reattach, with
// id: lines (later Dify source; 1.16.1 never replays): the stream must not
// yield anything twice, and it sends Last-Event-ID when it reattaches
// after an event that had an id.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// replayServer serves one run whose events all carry ids. The chat stream
// is cut after cutAfter events; a reattach replays from the event after
// Last-Event-ID (from the start when honourLastID is false or no id came).
type replayServer struct {
	t            *testing.T
	events       []string
	cutAfter     int
	honourLastID bool
	mu           sync.Mutex
	lastIDs      []string // Last-Event-ID of each reattach
}

func newReplayServer(t *testing.T, honour bool) *replayServer {
	ev := func(name, extra string) string {
		return `{"event":"` + name + `","task_id":"` + testTaskID + `","workflow_run_id":"` + testRunID + `","conversation_id":"c1","message_id":"m1","created_at":1` + extra + `}`
	}
	rs := &replayServer{t: t, honourLastID: honour, cutAfter: 4}
	rs.events = []string{
		ev(EventWorkflowStarted, `,"data":{"id":"`+testRunID+`"}`),
		ev(EventNodeStarted, `,"data":{"id":"n1"}`),
		ev(EventMessage, `,"answer":"one "`),
		ev(EventMessage, `,"answer":"two "`),
		ev(EventMessage, `,"answer":"three"`),
		ev(EventNodeFinished, `,"data":{"id":"n1"}`),
		ev(EventMessageEnd, `,"id":"m1"`),
		ev(EventWorkflowFinished, `,"data":{"id":"`+testRunID+`","status":"succeeded","outputs":{"answer":"one two three"}}`),
	}
	return rs
}

func (rs *replayServer) frame(i int) string {
	return "id: 1767340000000-" + strconv.Itoa(i) + "\ndata: " + rs.events[i] + "\n\n"
}

func (rs *replayServer) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
		f := sseHeader(rs.t, w)
		for i := range rs.cutAfter {
			write(w, f, rs.frame(i))
		}
		cut(rs.t, w)
	})
	mux.HandleFunc("GET /workflow/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		last := r.Header.Get("Last-Event-ID")
		rs.mu.Lock()
		rs.lastIDs = append(rs.lastIDs, last)
		rs.mu.Unlock()
		from := 0
		if rs.honourLastID && last != "" {
			_, n, _ := strings.Cut(last, "-")
			i, err := strconv.Atoi(n)
			if err != nil {
				rs.t.Errorf("Last-Event-ID %q", last)
			}
			from = i + 1
		}
		f := sseHeader(rs.t, w)
		for i := from; i < len(rs.events); i++ {
			write(w, f, rs.frame(i))
		}
	})
}

func TestResumeReplayedEventsYieldedOnce(t *testing.T) {
	for _, honour := range []bool{true, false} {
		t.Run(fmt.Sprintf("honours Last-Event-ID %v", honour), func(t *testing.T) {
			leakCheck(t)
			rs := newReplayServer(t, honour)
			c, mux, _ := setup(t)
			rs.register(mux)
			s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			var names []string
			for ev, err := range s.Events() {
				if err != nil {
					t.Fatalf("after %v: %v", names, err)
				}
				names = append(names, ev.Name())
				switch ev.Name() {
				case EventMessage:
					text.WriteString(ev.Text())
				case EventMessageReplace:
					text.Reset()
					text.WriteString(ev.Text())
				}
			}
			if text.String() != "one two three" {
				t.Errorf("answer %q, want each piece once", text.String())
			}
			want := "workflow_started node_started message message message node_finished message_end workflow_finished"
			if got := strings.Join(names, " "); got != want {
				t.Errorf("events %s\nwant   %s", got, want)
			}
			if !s.Resumed() {
				t.Error("not resumed")
			}
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if len(rs.lastIDs) != 1 || rs.lastIDs[0] != "1767340000000-3" {
				t.Errorf("Last-Event-ID of the reattaches %q, want the id of the last event read", rs.lastIDs)
			}
		})
	}
}
