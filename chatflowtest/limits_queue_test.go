package chatflowtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// evictor is one implementation of the state's storing functions, so that
// the queue-based eviction can be run side by side with the former scans.
type evictor struct {
	user            func(st *state, session string) *endUser
	addConversation func(st *state, u *endUser, cv *conversation, l *Limits)
	addMessage      func(st *state, cv *conversation, m *message, rn *run, l *Limits)
	addUpload       func(st *state, u *endUser, f *upload, l *Limits)
	addAnnotation   func(st *state, a *annotation, l *Limits)
	addJob          func(st *state, j *job)
}

// queued is the eviction under test.
var queued = evictor{
	user: func(st *state, session string) *endUser { return st.user(session, time.Unix(0, 0)) },
	addConversation: func(st *state, u *endUser, cv *conversation, l *Limits) {
		st.addConversation(u, cv, l)
	},
	addMessage: func(st *state, cv *conversation, m *message, rn *run, l *Limits) {
		st.addMessage(cv, m, rn, l)
	},
	addUpload:     func(st *state, u *endUser, f *upload, l *Limits) { st.addUpload(u, f, l) },
	addAnnotation: func(st *state, a *annotation, l *Limits) { st.addAnnotation(a, l) },
	addJob:        func(st *state, j *job) { st.addJob(j) },
}

// scanned is the eviction as it was before the queues: the oldest item is
// found by a scan of the whole map.
var scanned = evictor{
	user: func(st *state, session string) *endUser {
		u := st.users[session]
		if u == nil {
			u = &endUser{id: st.newID(), session: session, created: time.Unix(0, 0)}
			u.seq = st.next()
			st.users[session] = u
			st.usersByID[u.id] = u
			if st.limits != nil && len(st.users) > st.limits.Users {
				var oldest *endUser
				for _, x := range st.users {
					if x != u && (oldest == nil || x.seq < oldest.seq) {
						oldest = x
					}
				}
				if oldest != nil {
					st.forgetUser(oldest)
				}
			}
		}
		return u
	},
	addConversation: func(st *state, u *endUser, cv *conversation, l *Limits) {
		st.convs[cv.id] = cv
		u.convs = append(u.convs, cv)
		for len(u.convs) > l.ConversationsPerUser {
			st.dropConversation(u.convs[0])
		}
		for len(st.convs) > l.Conversations {
			old, _ := scanOldest(st.convs, func(c *conversation) uint64 { return c.cseq })
			st.dropConversation(old)
		}
	},
	addMessage: func(st *state, cv *conversation, m *message, rn *run, l *Limits) {
		cv.messages = append(cv.messages, m)
		st.msgs[m.id] = m
		st.runs[rn.id] = rn
		for len(cv.messages) > l.MessagesPerConversation {
			st.forgetMessage(cv.messages[0])
			cv.messages = cv.messages[1:]
		}
		for len(st.msgs) > l.Messages {
			var oldest *conversation
			for _, c := range st.convs {
				if len(c.messages) > 0 && (oldest == nil || c.messages[0].seq < oldest.messages[0].seq) {
					oldest = c
				}
			}
			if oldest == nil {
				break
			}
			st.forgetMessage(oldest.messages[0])
			oldest.messages = oldest.messages[1:]
		}
	},
	addUpload: func(st *state, u *endUser, f *upload, l *Limits) {
		st.files[f.id] = f
		st.fileBytes += int64(len(f.data))
		u.files = append(u.files, f)
		for len(u.files) > l.FilesPerUser {
			st.dropUpload(u.files[0])
		}
		for len(st.files) > l.Files || st.fileBytes > l.FileBytes {
			old, ok := scanOldest(st.files, func(f *upload) uint64 { return f.seq })
			if !ok {
				break
			}
			st.dropUpload(old)
		}
	},
	addAnnotation: func(st *state, a *annotation, l *Limits) {
		st.annotations[a.id] = a
		for len(st.annotations) > l.Annotations {
			old, _ := scanOldest(st.annotations, func(a *annotation) uint64 { return a.seq })
			delete(st.annotations, old.id)
		}
	},
	addJob: func(st *state, j *job) {
		st.jobs[j.id] = j
		for len(st.jobs) > maxJobs {
			old, _ := scanOldest(st.jobs, func(j *job) uint64 { return j.seq })
			delete(st.jobs, old.id)
		}
	},
}

// scanOldest is the item of m with the lowest sequence number.
func scanOldest[V any](m map[string]V, seq func(V) uint64) (V, bool) {
	var o V
	found := false
	for _, x := range m {
		if !found || seq(x) < seq(o) {
			o, found = x, true
		}
	}
	return o, found
}

// newTestState is an empty state with limits l (defaults filled in).
func newTestState(l Limits) *state {
	st := &state{}
	st.init()
	l = l.withDefaults()
	st.limits = &l
	return st
}

// newConv stores a new conversation of u the way a chat message does.
func (e evictor) newConv(st *state, u *endUser) *conversation {
	cv := &conversation{id: st.newID(), owner: u.session, cseq: st.next()}
	cv.useq = cv.cseq
	e.addConversation(st, u, cv, st.limits)
	return cv
}

// newMessage stores a new message with its run in cv the way a chat
// message does.
func (e evictor) newMessage(st *state, cv *conversation) *message {
	m := &message{id: st.newID(), conv: cv.id, owner: cv.owner, seq: st.next()}
	rn := &run{id: st.newID(), conv: cv.id, message: m.id, owner: cv.owner, seq: st.next()}
	m.runID = rn.id
	cv.useq = st.next()
	e.addMessage(st, cv, m, rn, st.limits)
	return m
}

// newUpload stores a new file of u with size bytes.
func (e evictor) newUpload(st *state, u *endUser, size int) *upload {
	f := &upload{id: st.newID(), owner: u.session, createdBy: u.id, data: make([]byte, size), seq: st.next()}
	e.addUpload(st, u, f, st.limits)
	return f
}

// newAnnotation stores a new annotation.
func (e evictor) newAnnotation(st *state) *annotation {
	a := &annotation{id: st.newID(), seq: st.next()}
	e.addAnnotation(st, a, st.limits)
	return a
}

// newJob stores a new annotation reply job.
func (e evictor) newJob(st *state) *job {
	j := &job{id: st.newID(), seq: st.next()}
	e.addJob(st, j)
	return j
}

// keys are the sorted keys of m.
func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// snapshot describes everything eviction may change in st.
func snapshot(st *state) string {
	var b strings.Builder
	for _, s := range keys(st.users) {
		u := st.users[s]
		fmt.Fprintf(&b, "user %s %s convs", s, u.id)
		for _, c := range u.convs {
			fmt.Fprintf(&b, " %s", c.id)
		}
		b.WriteString(" files")
		for _, f := range u.files {
			fmt.Fprintf(&b, " %s", f.id)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "usersByID %v\n", keys(st.usersByID))
	for _, id := range keys(st.convs) {
		fmt.Fprintf(&b, "conv %s owner %s messages", id, st.convs[id].owner)
		for _, m := range st.convs[id].messages {
			fmt.Fprintf(&b, " %s", m.id)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "msgs %v\nruns %v\nfiles %v %d\nannotations %v\njobs %v\n",
		keys(st.msgs), keys(st.runs), keys(st.files), st.fileBytes, keys(st.annotations), keys(st.jobs))
	return b.String()
}

// checkQueue fails unless q holds at most twice maxLive items plus
// fifoSlack and one, with a backing array of proportionate size; maxLive is
// the most items its map holds at once (when one is stored, before any
// eviction).
func checkQueue[T comparable](t *testing.T, name string, q *fifo[T], maxLive int) {
	t.Helper()
	bound := 2*maxLive + fifoSlack + 1
	if q.len() > bound || len(q.items) > 2*bound+fifoSlack || cap(q.items) > 4*bound+4*fifoSlack {
		t.Fatalf("%s queue: %d queued (head %d, len %d, cap %d), want at most %d queued",
			name, q.len(), q.head, len(q.items), cap(q.items), bound)
	}
}

// checkQueues checks every queue of st with checkQueue, for the limits of
// st.
func checkQueues(t *testing.T, st *state) {
	t.Helper()
	l := st.limits
	checkQueue(t, "conversation", &st.convQ, l.Conversations+1)
	checkQueue(t, "message", &st.msgQ, l.Messages+1)
	checkQueue(t, "file", &st.fileQ, l.Files+1)
	checkQueue(t, "user", &st.userQ, l.Users+1)
	checkQueue(t, "annotation", &st.annotationQ, l.Annotations+1)
	checkQueue(t, "job", &st.jobQ, maxJobs+1)
}

// TestEvictionOrder checks by hand that the oldest live items are the
// ones evicted, items removed by other paths in between being skipped.
func TestEvictionOrder(t *testing.T) {
	t.Parallel()
	st := newTestState(Limits{
		Users: 3, ConversationsPerUser: 3, Conversations: 4, MessagesPerConversation: 3, Messages: 5,
		FilesPerUser: 2, Files: 3, FileBytes: 100, Annotations: 3,
	})
	e := queued
	alice, bob := e.user(st, "alice"), e.user(st, "bob")

	// Conversations: c1 is deleted, so c2 is the oldest live one when
	// the total passes 4.
	c1, c2, c3 := e.newConv(st, alice), e.newConv(st, alice), e.newConv(st, bob)
	st.dropConversation(c1)
	c4, c5 := e.newConv(st, alice), e.newConv(st, bob)
	c6 := e.newConv(st, bob)
	wantIDs(t, "conversations", keys(st.convs), c3, c4, c5, c6)
	// bob's own cap of 3 drops c3 (his oldest); the total is then 4.
	c7 := e.newConv(st, bob)
	wantIDs(t, "conversations", keys(st.convs), c4, c5, c6, c7)

	// Messages: the total of 5 evicts the globally oldest message,
	// the first of its conversation.
	m1, m2 := e.newMessage(st, c4), e.newMessage(st, c5)
	m3, m4 := e.newMessage(st, c4), e.newMessage(st, c6)
	st.dropConversation(c5) // m2 goes with it
	m5, m6 := e.newMessage(st, c7), e.newMessage(st, c6)
	wantIDs(t, "messages", keys(st.msgs), m1, m3, m4, m5, m6)
	m7 := e.newMessage(st, c7)
	wantIDs(t, "messages", keys(st.msgs), m3, m4, m5, m6, m7)
	if len(c4.messages) != 1 || c4.messages[0] != m3 {
		t.Errorf("c4 keeps %d messages, want only m3", len(c4.messages))
	}
	m8 := e.newMessage(st, c6)
	wantIDs(t, "messages", keys(st.msgs), m4, m5, m6, m7, m8)
	if len(c4.messages) != 0 {
		t.Errorf("c4 keeps %d messages, want none", len(c4.messages))
	}
	wantIDs(t, "runs", runsOf(st), m4, m5, m6, m7, m8)
	_, _ = m2, c2

	// Files: alice's own cap drops her oldest (f1); then the total of 3
	// evicts the oldest live one (f2, not f1), then bytes evict more.
	f1, f2 := e.newUpload(st, alice, 1), e.newUpload(st, alice, 1)
	f3 := e.newUpload(st, alice, 1)
	wantIDs(t, "files", keys(st.files), f2, f3)
	f4, f5 := e.newUpload(st, bob, 1), e.newUpload(st, bob, 1)
	wantIDs(t, "files", keys(st.files), f3, f4, f5)
	f6 := e.newUpload(st, bob, 98) // 1+1+98 fits 100, but bob's cap drops f4
	wantIDs(t, "files", keys(st.files), f3, f5, f6)
	f7 := e.newUpload(st, alice, 50) // total of 3: f3 goes; bytes 1+98+50: f5, then f6 go
	wantIDs(t, "files", keys(st.files), f7)
	_ = f1

	// Users: carol and dave pass the cap of 3; the oldest other users go
	// with their conversations and files, and a returning session is a
	// new user, younger than the others.
	e.newConv(st, alice)
	carol := e.user(st, "carol")
	c8 := e.newConv(st, carol)
	wantUsers(t, st, "alice", "bob", "carol")
	e.user(st, "dave")
	wantUsers(t, st, "bob", "carol", "dave")
	if st.fileBytes != 0 || len(st.files) != 0 {
		t.Errorf("files after alice's eviction = %v (%d bytes), want none", keys(st.files), st.fileBytes)
	}
	alice2 := e.user(st, "alice") // bob goes
	if alice2 == alice {
		t.Fatal("alice was not evicted")
	}
	wantUsers(t, st, "carol", "dave", "alice")
	wantIDs(t, "conversations", keys(st.convs), c8)
	e.user(st, "erin") // carol goes, not the new alice
	wantUsers(t, st, "dave", "alice", "erin")
	if len(st.convs) != 0 || len(st.msgs) != 0 || len(st.runs) != 0 {
		t.Errorf("conversations %v, messages %v, runs %v left, want none", keys(st.convs), keys(st.msgs), keys(st.runs))
	}

	// Annotations: a2 is deleted (as DELETE /apps/annotations does).
	a1, a2, a3 := e.newAnnotation(st), e.newAnnotation(st), e.newAnnotation(st)
	delete(st.annotations, a2.id)
	a4 := e.newAnnotation(st)
	wantIDs(t, "annotations", keys(st.annotations), a1, a3, a4)
	a5 := e.newAnnotation(st)
	wantIDs(t, "annotations", keys(st.annotations), a3, a4, a5)

	// Jobs: the first of maxJobs+2 are forgotten.
	var jobs []*job
	for range maxJobs + 2 {
		jobs = append(jobs, e.newJob(st))
	}
	if len(st.jobs) != maxJobs || st.jobs[jobs[0].id] != nil || st.jobs[jobs[1].id] != nil || st.jobs[jobs[2].id] == nil {
		t.Errorf("%d jobs kept, want the newest %d", len(st.jobs), maxJobs)
	}
	checkQueues(t, st)
}

// wantIDs fails unless got are the ids of want (got sorted; ids sort in
// order of creation).
func wantIDs[T interface {
	*conversation | *message | *upload | *annotation
}](t *testing.T, what string, got []string, want ...T) {
	t.Helper()
	var ids []string
	for _, x := range want {
		switch x := any(x).(type) {
		case *conversation:
			ids = append(ids, x.id)
		case *message:
			ids = append(ids, x.id)
		case *upload:
			ids = append(ids, x.id)
		case *annotation:
			ids = append(ids, x.id)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Errorf("%s = %v, want %v", what, got, ids)
	}
}

// runsOf are the sorted message ids of the stored runs.
func runsOf(st *state) []string {
	var ids []string
	for _, rn := range st.runs {
		ids = append(ids, rn.message)
	}
	slices.Sort(ids)
	return ids
}

// wantUsers fails unless the remembered users are sessions, oldest first.
func wantUsers(t *testing.T, st *state, sessions ...string) {
	t.Helper()
	var us []*endUser
	for _, u := range st.users {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b *endUser) int { return int(a.seq) - int(b.seq) })
	var got []string
	for _, u := range us {
		got = append(got, u.session)
	}
	if !slices.Equal(got, sessions) || len(st.usersByID) != len(st.users) {
		t.Errorf("users = %v (%d by id), want %v", got, len(st.usersByID), sessions)
	}
}

// TestEvictionMatchesScan runs the same random operations on a state with
// the queues and on one with the former whole-map scans, and checks that
// after every step both keep exactly the same items.
func TestEvictionMatchesScan(t *testing.T) {
	t.Parallel()
	limits := []Limits{
		{Users: 4, ConversationsPerUser: 3, Conversations: 6, MessagesPerConversation: 4, Messages: 9,
			FilesPerUser: 3, Files: 5, FileBytes: 40, Annotations: 5},
		{Users: 2, ConversationsPerUser: 1, Conversations: 2, MessagesPerConversation: 1, Messages: 2,
			FilesPerUser: 1, Files: 1, FileBytes: 8, Annotations: 1},
		{Users: 50, ConversationsPerUser: 20, Conversations: 40, MessagesPerConversation: 10, Messages: 60,
			FilesPerUser: 10, Files: 30, FileBytes: 1000, Annotations: 30},
	}
	for i, l := range limits {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("limits%d/seed%d", i, seed), func(t *testing.T) {
				t.Parallel()
				a, b := newTestState(l), newTestState(l)
				ra, rb := rand.New(rand.NewPCG(seed, 7)), rand.New(rand.NewPCG(seed, 7))
				steps := 3000
				if l.Users > 10 {
					steps = 1000 // its snapshots are bigger; the caps are passed early still
				}
				for step := range steps {
					opa := randomOp(queued, a, ra)
					opb := randomOp(scanned, b, rb)
					if sa, sb := snapshot(a), snapshot(b); opa != opb || sa != sb {
						t.Fatalf("step %d (%s): queues keep\n%s\nscans keep\n%s", step, opa, sa, sb)
					}
					checkQueues(t, a)
				}
			})
		}
	}
}

// randomOp does one random operation on st, as the server's endpoints
// would, and names it.
func randomOp(e evictor, st *state, r *rand.Rand) string {
	sessions := []string{"ann", "ben", "cat", "dan", "eve", "fay", "gus"}
	session := sessions[r.IntN(len(sessions))]
	switch op := r.IntN(100); {
	case op < 35: // chat message, in a new or an existing conversation
		u := e.user(st, session)
		var cv *conversation
		if len(u.convs) > 0 && r.IntN(3) > 0 {
			cv = u.convs[r.IntN(len(u.convs))]
		} else {
			cv = e.newConv(st, u)
		}
		e.newMessage(st, cv)
		return "chat " + session
	case op < 45: // DELETE /conversations/{id}
		u := st.users[session]
		if u == nil || len(u.convs) == 0 {
			return "no delete " + session
		}
		st.dropConversation(u.convs[r.IntN(len(u.convs))])
		return "delete conversation " + session
	case op < 65: // POST /files/upload
		e.newUpload(st, e.user(st, session), r.IntN(12))
		return "upload " + session
	case op < 85: // POST /apps/annotations
		e.newAnnotation(st)
		return "annotation"
	case op < 90: // DELETE /apps/annotations/{id}
		ks := keys(st.annotations)
		if len(ks) == 0 {
			return "no annotation"
		}
		delete(st.annotations, ks[r.IntN(len(ks))])
		return "delete annotation"
	case op < 95:
		e.newJob(st)
		return "job"
	default: // any other call that names a user
		e.user(st, session)
		return "user " + session
	}
}

// TestQueueBounded creates and deletes items many times without reaching
// the limits, and checks that the dead items do not pile up in the
// queues; and that a queue of a map at its limit stays bounded too.
func TestQueueBounded(t *testing.T) {
	t.Parallel()
	st := newTestState(Limits{})
	e := queued
	u := e.user(st, "u")
	const window = 50 // items alive at once
	var convs []*conversation
	var files []*upload
	var anns []*annotation
	for i := range 10000 {
		cv := e.newConv(st, u)
		e.newMessage(st, cv)
		e.newMessage(st, cv)
		convs = append(convs, cv)
		files = append(files, e.newUpload(st, u, 1))
		anns = append(anns, e.newAnnotation(st))
		if i >= window {
			st.dropConversation(convs[i-window])
			st.dropUpload(files[i-window])
			delete(st.annotations, anns[i-window].id)
		}
		checkQueue(t, "conversation", &st.convQ, window+1)
		checkQueue(t, "message", &st.msgQ, 2*window+2)
		checkQueue(t, "file", &st.fileQ, window+1)
		checkQueue(t, "annotation", &st.annotationQ, window+1)
		checkQueue(t, "user", &st.userQ, 1)
	}
	if len(st.convs) != window || len(st.msgs) != 2*window || len(st.files) != window || len(st.annotations) != window {
		t.Fatalf("kept %d conversations, %d messages, %d files, %d annotations, want %d, %d, %d, %d",
			len(st.convs), len(st.msgs), len(st.files), len(st.annotations), window, 2*window, window, window)
	}
	// Deleting everything and then storing one more item compacts.
	for _, cv := range convs[len(convs)-window:] {
		st.dropConversation(cv)
	}
	e.newConv(st, u)
	if st.convQ.len() != 1 {
		t.Errorf("conversation queue holds %d after compaction, want 1", st.convQ.len())
	}

	// At the limit, every insert evicts one; the queue stays bounded.
	full := newTestState(Limits{Annotations: 10, Users: 10})
	for i := range 10000 {
		queued.newAnnotation(full)
		queued.user(full, fmt.Sprint("s", i))
		checkQueues(t, full)
	}
	if len(full.annotations) != 10 || len(full.users) != 10 {
		t.Fatalf("kept %d annotations, %d users, want 10 each", len(full.annotations), len(full.users))
	}
}
