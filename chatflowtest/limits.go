package chatflowtest

import "time"

// Limits bounds what a Server keeps in memory, so that a long-running fake
// (chatflow serve) cannot be made to grow without bound. When a limit is
// passed, the oldest items are evicted first, with everything that belongs
// to them: a conversation takes its messages and runs along, an end user
// its conversations and files. A zero field takes its default.
type Limits struct {
	// Users is how many end users are remembered (default 10000).
	Users int
	// ConversationsPerUser is how many conversations one end user keeps
	// (default 100).
	ConversationsPerUser int
	// Conversations is how many conversations are kept in total
	// (default 10000).
	Conversations int
	// MessagesPerConversation is how many messages one conversation keeps
	// (default 500).
	MessagesPerConversation int
	// Messages is how many messages are kept in total (default 50000).
	Messages int
	// FilesPerUser is how many uploaded files one end user keeps
	// (default 100).
	FilesPerUser int
	// Files is how many uploaded files are kept in total (default 1000).
	Files int
	// FileBytes is how many bytes of uploaded files are kept in total
	// (default 256 MiB).
	FileBytes int64
	// Annotations is how many annotations are kept (default 10000).
	Annotations int
	// RunTime is the longest a chat run may take; a run still going then
	// fails (default 20 minutes, Dify's own default execution limit).
	RunTime time.Duration
}

// defaultLimits are the limits of a Server without WithLimits.
var defaultLimits = Limits{
	Users:                   10000,
	ConversationsPerUser:    100,
	Conversations:           10000,
	MessagesPerConversation: 500,
	Messages:                50000,
	FilesPerUser:            100,
	Files:                   1000,
	FileBytes:               256 << 20,
	Annotations:             10000,
	RunTime:                 20 * time.Minute,
}

// orDefault sets *v to def when it is zero or negative.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// withDefaults fills the zero fields of l from the defaults.
func (l Limits) withDefaults() Limits {
	d := defaultLimits
	orDefault(&l.Users, d.Users)
	orDefault(&l.ConversationsPerUser, d.ConversationsPerUser)
	orDefault(&l.Conversations, d.Conversations)
	orDefault(&l.MessagesPerConversation, d.MessagesPerConversation)
	orDefault(&l.Messages, d.Messages)
	orDefault(&l.FilesPerUser, d.FilesPerUser)
	orDefault(&l.Files, d.Files)
	orDefault(&l.Annotations, d.Annotations)
	orDefault(&l.FileBytes, d.FileBytes)
	orDefault(&l.RunTime, d.RunTime)
	return l
}

// WithLimits bounds what the server keeps (see Limits); zero fields keep
// their defaults.
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// addConversation stores a new conversation of u, evicting the oldest ones
// past the limits.
func (st *state) addConversation(u *endUser, cv *conversation, l *Limits) {
	st.convs[cv.id] = cv
	st.convQ.push(cv, st.convLive, len(st.convs))
	u.convs = append(u.convs, cv)
	for len(u.convs) > l.ConversationsPerUser {
		st.dropConversation(u.convs[0])
	}
	for len(st.convs) > l.Conversations {
		old, ok := st.convQ.front(st.convLive, nil)
		if !ok {
			break
		}
		st.dropConversation(old)
	}
}

// fifoSlack is how many dead items a fifo may hold beyond twice its live
// ones before it is compacted.
const fifoSlack = 32

// fifo is a queue of the items of one of the state's maps in the order they
// were stored, which is the order of their sequence numbers, so that the
// oldest item still stored is found in O(1) amortized time. Items removed
// from the map by any path stay in the queue as dead items: front drops
// them once they reach the head, and push compacts the queue when dead
// items make up most of it, so that it never holds more than twice the
// items its map held at the last push, plus fifoSlack and one. Each dead or
// popped item is copied at most once by a compaction, which makes push and
// front O(1) amortized.
type fifo[T comparable] struct {
	items []T // items[head:] are queued, oldest first
	head  int
}

// push queues x, the newest item; live reports whether an item is still
// stored and n is how many are (x included).
func (q *fifo[T]) push(x T, live func(T) bool, n int) {
	if q.len() > 2*n+fifoSlack || q.head > fifoSlack && q.head > len(q.items)/2 {
		q.compact(live)
	}
	q.items = append(q.items, x)
}

// len is how many items, live or dead, are queued.
func (q *fifo[T]) len() int { return len(q.items) - q.head }

// compact keeps only the live items, in order, at the start of items,
// and lets go of the backing array when it has become far too big.
func (q *fifo[T]) compact(live func(T) bool) {
	kept := q.items[:0]
	for _, x := range q.items[q.head:] {
		if live(x) {
			kept = append(kept, x)
		}
	}
	clear(q.items[len(kept):])
	if cap(kept) > 4*len(kept)+2*fifoSlack {
		kept = append([]T(nil), kept...)
	}
	q.items, q.head = kept, 0
}

// front returns the oldest live item for which skip, if not nil, reports
// false, dropping the dead items at the head of the queue; false when
// there is none. Live items that skip passes over are kept, and scanned
// again on the next call: skip is for passing over the newest item only
// (evictUser's new user), not for many.
func (q *fifo[T]) front(live, skip func(T) bool) (T, bool) {
	var zero T
	for q.head < len(q.items) {
		x := q.items[q.head]
		if live(x) {
			break
		}
		q.items[q.head] = zero
		q.head++
	}
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		return zero, false
	}
	for _, x := range q.items[q.head:] {
		if live(x) && (skip == nil || !skip(x)) {
			return x, true
		}
	}
	return zero, false
}

// convLive reports whether cv is still stored.
func (st *state) convLive(cv *conversation) bool { return st.convs[cv.id] == cv }

// msgLive reports whether m is still stored.
func (st *state) msgLive(m *message) bool { return st.msgs[m.id] == m }

// fileLive reports whether f is still stored.
func (st *state) fileLive(f *upload) bool { return st.files[f.id] == f }

// userLive reports whether u is still remembered.
func (st *state) userLive(u *endUser) bool { return st.users[u.session] == u }

// annotationLive reports whether a is still stored.
func (st *state) annotationLive(a *annotation) bool { return st.annotations[a.id] == a }

// jobLive reports whether j is still remembered.
func (st *state) jobLive(j *job) bool { return st.jobs[j.id] == j }

// dropConversation forgets a conversation with its messages and runs.
func (st *state) dropConversation(cv *conversation) {
	delete(st.convs, cv.id)
	for _, m := range cv.messages {
		st.forgetMessage(m)
	}
	cv.messages = nil
	if u := st.users[cv.owner]; u != nil {
		for i, c := range u.convs {
			if c == cv {
				u.convs = append(u.convs[:i:i], u.convs[i+1:]...)
				break
			}
		}
	}
}

// forgetMessage removes a message and its run from the indexes.
func (st *state) forgetMessage(m *message) {
	if _, ok := st.msgs[m.id]; !ok {
		return
	}
	delete(st.msgs, m.id)
	if rn := st.runs[m.runID]; rn != nil {
		delete(st.runs, rn.id)
		if rn.form != "" {
			delete(st.forms, rn.form)
		}
	}
}

// addMessage stores a new message (and its run) in cv, evicting the oldest
// messages past the limits.
func (st *state) addMessage(cv *conversation, m *message, rn *run, l *Limits) {
	cv.messages = append(cv.messages, m)
	st.msgs[m.id] = m
	st.msgQ.push(m, st.msgLive, len(st.msgs))
	st.runs[rn.id] = rn
	for len(cv.messages) > l.MessagesPerConversation {
		st.forgetMessage(cv.messages[0])
		cv.messages = cv.messages[1:]
	}
	for len(st.msgs) > l.Messages {
		// The oldest stored message is the first of its conversation,
		// as every stored message is in the messages of a stored
		// conversation, oldest first.
		// Forgetting old ends the loop even if that did not hold.
		old, ok := st.msgQ.front(st.msgLive, nil)
		if !ok {
			break
		}
		st.forgetMessage(old)
		if c := st.convs[old.conv]; c != nil && len(c.messages) > 0 && c.messages[0] == old {
			c.messages = c.messages[1:]
		}
	}
}

// addUpload stores an uploaded file of u, evicting the oldest files past
// the limits.
func (st *state) addUpload(u *endUser, f *upload, l *Limits) {
	st.files[f.id] = f
	st.fileQ.push(f, st.fileLive, len(st.files))
	st.fileBytes += int64(len(f.data))
	u.files = append(u.files, f)
	for len(u.files) > l.FilesPerUser {
		st.dropUpload(u.files[0])
	}
	for len(st.files) > l.Files || st.fileBytes > l.FileBytes {
		old, ok := st.fileQ.front(st.fileLive, nil)
		if !ok {
			break
		}
		st.dropUpload(old)
	}
}

// dropUpload forgets an uploaded file.
func (st *state) dropUpload(f *upload) {
	if _, ok := st.files[f.id]; ok {
		delete(st.files, f.id)
		st.fileBytes -= int64(len(f.data))
	}
	if u := st.users[f.owner]; u != nil {
		for i, x := range u.files {
			if x == f {
				u.files = append(u.files[:i:i], u.files[i+1:]...)
				break
			}
		}
	}
}

// evictUser forgets the oldest end user other than keep, with its
// conversations and files.
func (st *state) evictUser(keep *endUser) {
	if oldest, ok := st.userQ.front(st.userLive, func(u *endUser) bool { return u == keep }); ok {
		st.forgetUser(oldest)
	}
}

// forgetUser forgets an end user with its conversations and files.
func (st *state) forgetUser(u *endUser) {
	for len(u.convs) > 0 {
		st.dropConversation(u.convs[0])
	}
	for len(u.files) > 0 {
		st.dropUpload(u.files[0])
	}
	delete(st.users, u.session)
	delete(st.usersByID, u.id)
}

// addAnnotation stores an annotation, evicting the oldest past the limit.
func (st *state) addAnnotation(a *annotation, l *Limits) {
	st.annotations[a.id] = a
	st.annotationQ.push(a, st.annotationLive, len(st.annotations))
	for len(st.annotations) > l.Annotations {
		old, ok := st.annotationQ.front(st.annotationLive, nil)
		if !ok {
			break
		}
		delete(st.annotations, old.id)
	}
}

// maxJobs is how many annotation reply jobs are remembered.
const maxJobs = 1000

// addJob stores an annotation reply job, forgetting the oldest past maxJobs.
func (st *state) addJob(j *job) {
	st.jobs[j.id] = j
	st.jobQ.push(j, st.jobLive, len(st.jobs))
	for len(st.jobs) > maxJobs {
		old, ok := st.jobQ.front(st.jobLive, nil)
		if !ok {
			break
		}
		delete(st.jobs, old.id)
	}
}
