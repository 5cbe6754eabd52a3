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
	u.convs = append(u.convs, cv)
	for len(u.convs) > l.ConversationsPerUser {
		st.dropConversation(u.convs[0])
	}
	for len(st.convs) > l.Conversations {
		old, _ := oldest(st.convs, func(c *conversation) uint64 { return c.cseq })
		st.dropConversation(old)
	}
}

// oldest is the item of m with the lowest sequence number; false when m is
// empty.
func oldest[V any](m map[string]V, seq func(V) uint64) (V, bool) {
	var o V
	found := false
	for _, x := range m {
		if !found || seq(x) < seq(o) {
			o, found = x, true
		}
	}
	return o, found
}

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
}

// addUpload stores an uploaded file of u, evicting the oldest files past
// the limits.
func (st *state) addUpload(u *endUser, f *upload, l *Limits) {
	st.files[f.id] = f
	st.fileBytes += int64(len(f.data))
	u.files = append(u.files, f)
	for len(u.files) > l.FilesPerUser {
		st.dropUpload(u.files[0])
	}
	for len(st.files) > l.Files || st.fileBytes > l.FileBytes {
		old, ok := oldest(st.files, func(f *upload) uint64 { return f.seq })
		if !ok {
			break
		}
		st.dropUpload(old)
	}
}

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
	var oldest *endUser
	for _, u := range st.users {
		if u != keep && (oldest == nil || u.seq < oldest.seq) {
			oldest = u
		}
	}
	if oldest == nil {
		return
	}
	for len(oldest.convs) > 0 {
		st.dropConversation(oldest.convs[0])
	}
	for len(oldest.files) > 0 {
		st.dropUpload(oldest.files[0])
	}
	delete(st.users, oldest.session)
	delete(st.usersByID, oldest.id)
}

// addAnnotation stores an annotation, evicting the oldest past the limit.
func (st *state) addAnnotation(a *annotation, l *Limits) {
	st.annotations[a.id] = a
	for len(st.annotations) > l.Annotations {
		old, _ := oldest(st.annotations, func(a *annotation) uint64 { return a.seq })
		delete(st.annotations, old.id)
	}
}

// maxJobs is how many annotation reply jobs are remembered.
const maxJobs = 1000

// addJob stores an annotation reply job, forgetting the oldest past maxJobs.
func (st *state) addJob(j *job) {
	st.jobs[j.id] = j
	for len(st.jobs) > maxJobs {
		old, _ := oldest(st.jobs, func(j *job) uint64 { return j.seq })
		delete(st.jobs, old.id)
	}
}
