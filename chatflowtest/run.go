package chatflowtest

import (
	"time"
)

// A chat run executes in a goroutine of its own, independently of the HTTP
// request that started it, the way Dify runs it in a background worker: the
// run appends its events to a runLog, and every stream that follows the run
// (the chat request itself, and GET /workflow/{id}/events) reads that log.
// A client that goes away therefore does not end the run; a stop request,
// the run time limit or closing the Server does.

// runLog is the live event log of a run. Its fields are guarded by
// Server.mu; the events it holds are never changed once added.
type runLog struct {
	events []map[string]any
	ended  bool          // the current part of the run ended (finished or paused)
	wake   chan struct{} // closed and replaced whenever events or ended change
}

func newRunLog() *runLog { return &runLog{wake: make(chan struct{})} }

func (l *runLog) notify() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// add appends events; s.mu must be held.
func (l *runLog) add(evs ...map[string]any) {
	l.events = append(l.events, evs...)
	l.notify()
}

// end marks the current part of the run as ended; s.mu must be held.
func (l *runLog) end() {
	l.ended = true
	l.notify()
}

// nodeExec is one node execution of a run, remembered for the state
// snapshot of a reattached stream.
type nodeExec struct {
	id       string
	n        node
	index    int
	pred     string
	created  int64
	finished bool
	status   string
}

// waitResult says why runState.wait returned.
type waitResult int

const (
	waitDone    waitResult = iota // the delay passed
	waitStopped                   // a stop request for the task
	waitTimeout                   // the run reached its time limit
	waitQuit                      // the Server is closing
)

// start runs body in a goroutine of its own, unless the Server is closing.
// s.mu must not be held.
func (rs *runState) start(body func()) {
	s := rs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rs.startLocked(body)
}

// startLocked is start with s.mu held.
func (rs *runState) startLocked(body func()) {
	s := rs.s
	if s.closed {
		return
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		body()
	}()
}

// wait pauses for d between two events of the run.
func (rs *runState) wait(d time.Duration) waitResult {
	select {
	case <-rs.task.stop:
		return waitStopped
	case <-rs.s.quit:
		return waitQuit
	default:
	}
	if !rs.deadline.IsZero() && !time.Now().Before(rs.deadline) {
		return waitTimeout
	}
	if d <= 0 {
		return waitDone
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	var limit <-chan time.Time
	if !rs.deadline.IsZero() {
		lt := time.NewTimer(time.Until(rs.deadline))
		defer lt.Stop()
		limit = lt.C
	}
	select {
	case <-timer.C:
		return waitDone
	case <-rs.task.stop:
		return waitStopped
	case <-limit:
		return waitTimeout
	case <-rs.s.quit:
		return waitQuit
	}
}

// emit adds events to the run's log and remembers node executions.
func (rs *runState) emit(evs ...map[string]any) {
	s := rs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rs.emitLocked(evs...)
}

// emitLocked is emit with s.mu held.
func (rs *runState) emitLocked(evs ...map[string]any) {
	rn := rs.run
	for _, ev := range evs {
		data, _ := ev["data"].(map[string]any)
		switch ev["event"] {
		case "node_started":
			rn.nodes = append(rn.nodes, &nodeExec{
				id: data["id"].(string), n: nodeByID(data["node_id"].(string)), index: data["index"].(int),
				pred: strOrEmpty(data["predecessor_node_id"]), created: data["created_at"].(int64),
			})
		case "node_finished":
			for _, ne := range rn.nodes {
				if ne.id == data["id"] {
					ne.finished, ne.status = true, data["status"].(string)
				}
			}
		}
	}
	rn.log.add(evs...)
}

func strOrEmpty(v any) string {
	s, _ := v.(string)
	return s
}

func nodeByID(id string) node {
	for _, n := range []node{startNode, llmNode, answerNode, humanNode, endNode} {
		if n.id == id {
			return n
		}
	}
	return node{id: id, typ: id, title: id}
}

// runEnded reports whether a run status is final.
func runEnded(status string) bool {
	switch status {
	case "succeeded", "failed", "stopped", "partial-succeeded":
		return true
	}
	return false
}

// relay writes the events of a run's log, from index next on, to a stream
// until the current part of the run ends (a pause it did not see, or any
// pause with continueOnPause, is waited through), the client goes away, the stream is cut, idle passes
// without an event (0: no limit) or the Server closes. While it waits it
// sends pings at the configured interval.
func (s *Server) relay(em *emitter, lg *runLog, next int, continueOnPause bool, idle time.Duration) {
	ping := time.NewTicker(s.cfg.pingInterval)
	defer ping.Stop()
	var idleTimer *time.Timer
	var idleC <-chan time.Time
	if idle > 0 {
		idleTimer = time.NewTimer(idle)
		defer idleTimer.Stop()
		idleC = idleTimer.C
	}
	lastSent := "" // the name of the last event this relay sent
	for {
		s.mu.Lock()
		evs := lg.events[next:len(lg.events):len(lg.events)]
		next = len(lg.events)
		ended, wake := lg.ended, lg.wake
		last := "" // the name of the log's last event
		if next > 0 {
			last, _ = lg.events[next-1]["event"].(string)
		}
		s.mu.Unlock()
		for _, ev := range evs {
			em.send(ev)
			if em.gone() {
				return
			}
			lastSent, _ = ev["event"].(string)
		}
		em.flushPending()
		if len(evs) > 0 && idleTimer != nil {
			idleTimer.Reset(idle)
		}
		if ended {
			// A run that paused before this stream began is waited for.
			if last != "workflow_paused" || (!continueOnPause && lastSent == "workflow_paused") {
				return
			}
		}
		select {
		case <-wake:
		case <-ping.C:
			em.ping()
			if em.gone() {
				return
			}
		case <-idleC:
			return
		case <-em.ctx.Done():
			return
		case <-s.quit:
			return
		}
	}
}

// awaitEnd waits until the current part of the run has ended; false when
// ctx ended or the Server closed first.
func (s *Server) awaitEnd(em *emitter, lg *runLog) bool {
	for {
		s.mu.Lock()
		ended, wake := lg.ended, lg.wake
		s.mu.Unlock()
		if ended {
			return true
		}
		select {
		case <-wake:
		case <-em.ctx.Done():
			return false
		case <-s.quit:
			return false
		}
	}
}
