package chatflowtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// anonymousUser is the session id Dify gives the shared end user of
// requests that name no user.
const anonymousUser = "DEFAULT-USER"

// state is everything the fake remembers; guarded by Server.mu.
type state struct {
	seq             uint64
	appID           string
	tenantID        string
	workflowID      string
	users           map[string]*endUser // by session id (the API's "user")
	usersByID       map[string]*endUser
	convs           map[string]*conversation
	msgs            map[string]*message
	files           map[string]*upload
	annotations     map[string]*annotation
	jobs            map[string]*job
	runs            map[string]*run
	tasks           map[string]*task
	forms           map[string]*form
	annotationReply bool
	limits          *Limits // nil: no limits
	fileBytes       int64   // bytes of stored files

	// The items of convs, msgs, files, users, annotations and jobs in
	// the order they were stored, to find the oldest (see fifo).
	convQ       fifo[*conversation]
	msgQ        fifo[*message]
	fileQ       fifo[*upload]
	userQ       fifo[*endUser]
	annotationQ fifo[*annotation]
	jobQ        fifo[*job]
}

type endUser struct {
	id, session string
	anonymous   bool
	created     time.Time
	seq         uint64
	convs       []*conversation // oldest first
	files       []*upload       // oldest first
}

type conversation struct {
	id, owner    string // owner: session id
	name         string
	inputs       map[string]any
	created      int64
	updated      int64
	cseq, useq   uint64
	messages     []*message // oldest first
	vars         []*variable
	introduction string
}

type message struct {
	id, conv, owner string
	parent          string
	query, answer   string
	inputs          map[string]any
	files           []map[string]any
	created         int64
	seq             uint64
	status          string
	err             string
	promptTokens    int
	answerTokens    int
	rating          string
	ratingContent   string
	feedbackID      string
	feedbackAt      time.Time
	feedbackUpdated time.Time
	feedbackSeq     uint64
	runID           string
}

type variable struct {
	id, name, valueType, description string
	value                            json.RawMessage // the stored value as JSON text (see pythonStr)
	created, updated                 int64
	seq                              uint64
}

type upload struct {
	id, name, ext, mime string
	owner               string // session id
	createdBy           string // end user id
	data                []byte
	created             int64
	seq                 uint64
	referenced          bool // a chat message of the app refers to it
}

type annotation struct {
	id, question, answer string
	hits                 int
	created              int64
	seq                  uint64
}

type job struct {
	id, action string
	seq        uint64
}

type run struct {
	id, workflowID, status string
	conv, message, owner   string
	inputs, outputs        map[string]any
	err                    string
	created, finished      int64
	elapsed                float64
	tokens, steps          int
	seq                    uint64
	createdBy              map[string]any
	form                   string // token of the run's human input form, if any

	// Only while the run is live (running or paused):
	log         *runLog          // its events
	nodes       []*nodeExec      // its node executions so far
	pauseEvents []map[string]any // human_input_required and workflow_paused of a paused run
	state       *runState        // a paused run waiting for its form
}

type task struct {
	id, owner string
	stop      chan struct{}
	stopped   bool
}

type form struct {
	token, id, runID, owner string
	execID                  string // the human input node's execution id
	submitted               bool
	expires                 int64
	action                  string
	data                    map[string]any
}

func (st *state) init() {
	st.users = map[string]*endUser{}
	st.usersByID = map[string]*endUser{}
	st.convs = map[string]*conversation{}
	st.msgs = map[string]*message{}
	st.files = map[string]*upload{}
	st.annotations = map[string]*annotation{}
	st.jobs = map[string]*job{}
	st.runs = map[string]*run{}
	st.tasks = map[string]*task{}
	st.forms = map[string]*form{}
	st.appID = st.newID()
	st.tenantID = st.newID()
	st.workflowID = st.newID()
}

// newID returns a fresh id shaped like a UUID (version 4 layout), from a
// counter so that runs are reproducible.
func (st *state) newID() string {
	st.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", 0xd1f7, st.seq)
}

func (st *state) next() uint64 {
	st.seq++
	return st.seq
}

// user returns the end user of a session id, creating it on first use.
func (st *state) user(session string, now time.Time) *endUser {
	if session == "" {
		session = anonymousUser
	}
	u := st.users[session]
	if u == nil {
		u = &endUser{id: st.newID(), session: session, anonymous: session == anonymousUser, created: now}
		u.seq = st.next()
		st.users[session] = u
		st.usersByID[u.id] = u
		st.userQ.push(u, st.userLive, len(st.users))
		if st.limits != nil && len(st.users) > st.limits.Users {
			st.evictUser(u)
		}
	}
	return u
}

// conversation returns the conversation id of user session, or nil.
func (st *state) conversation(id, session string) *conversation {
	if session == "" {
		session = anonymousUser
	}
	c := st.convs[id]
	if c == nil || c.owner != session {
		return nil
	}
	return c
}

// convName is the name a conversation gets from its first query when the
// name is generated.
func convName(query string) string {
	q := strings.Join(strings.Fields(query), " ")
	r := []rune(q)
	if len(r) > 40 {
		return string(r[:40]) + "..."
	}
	if q == "" {
		return "New conversation"
	}
	return q
}

func (c *conversation) json() map[string]any {
	inputs := c.inputs
	if inputs == nil {
		inputs = map[string]any{}
	}
	return map[string]any{
		"id":           c.id,
		"name":         c.name,
		"inputs":       inputs,
		"status":       "normal",
		"introduction": c.introduction,
		"created_at":   c.created,
		"updated_at":   c.updated,
	}
}

func (m *message) json() map[string]any {
	files := []any{}
	for _, f := range m.files {
		files = append(files, f)
	}
	var feedback any
	if m.rating != "" {
		feedback = map[string]any{"rating": m.rating}
	}
	var parent any
	if m.parent != "" {
		parent = m.parent
	}
	var errMsg any
	if m.err != "" {
		errMsg = m.err
	}
	inputs := m.inputs
	if inputs == nil {
		inputs = map[string]any{}
	}
	return map[string]any{
		"id":                        m.id,
		"conversation_id":           m.conv,
		"parent_message_id":         parent,
		"inputs":                    inputs,
		"query":                     m.query,
		"answer":                    m.answer,
		"message_files":             files,
		"feedback":                  feedback,
		"retriever_resources":       []any{},
		"agent_thoughts":            []any{},
		"created_at":                m.created,
		"status":                    m.status,
		"error":                     errMsg,
		"message_tokens":            m.promptTokens,
		"answer_tokens":             m.answerTokens,
		"total_tokens":              m.promptTokens + m.answerTokens,
		"provider_response_latency": 0.05,
		"total_price":               "0",
		"currency":                  "USD",
		"extra_contents":            []any{},
	}
}

// rendered is the value as Dify answers it: Python's str() of the stored
// value, or nil for null.
func (v *variable) rendered() any {
	out, err := pythonStr(v.value)
	if err != nil {
		return nil
	}
	return out
}

func (v *variable) json() map[string]any {
	return map[string]any{
		"id":          v.id,
		"name":        v.name,
		"value_type":  v.valueType,
		"value":       v.rendered(),
		"description": v.description,
		"created_at":  v.created,
		"updated_at":  v.updated,
	}
}

func (a *annotation) json() map[string]any {
	return map[string]any{
		"id":         a.id,
		"question":   a.question,
		"answer":     a.answer,
		"hit_count":  a.hits,
		"created_at": a.created,
	}
}

func (f *upload) json() map[string]any {
	return map[string]any{
		"id":          f.id,
		"name":        f.name,
		"size":        len(f.data),
		"extension":   f.ext,
		"mime_type":   f.mime,
		"created_by":  f.createdBy,
		"created_at":  f.created,
		"preview_url": nil,
		"source_url":  "",
		"reference":   nil,
	}
}

func (r *run) json() map[string]any {
	var errMsg any
	if r.err != "" {
		errMsg = r.err
	}
	var finished any
	if r.finished != 0 {
		finished = r.finished
	}
	outputs := r.outputs
	if outputs == nil {
		outputs = map[string]any{}
	}
	return map[string]any{
		"id":           r.id,
		"workflow_id":  r.workflowID,
		"status":       r.status,
		"inputs":       r.inputs,
		"outputs":      outputs,
		"error":        errMsg,
		"total_steps":  r.steps,
		"total_tokens": r.tokens,
		"created_at":   r.created,
		"finished_at":  finished,
		"elapsed_time": r.elapsed,
	}
}

// naiveTime formats t the way Dify renders some timestamps: ISO 8601
// without a time zone.
func naiveTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05")
}
