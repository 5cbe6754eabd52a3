package chatflowtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// chatRequest is the body of POST /chat-messages.
type chatRequest struct {
	Query            string         `json:"query"`
	Inputs           map[string]any `json:"inputs"`
	ResponseMode     string         `json:"response_mode"`
	User             string         `json:"user"`
	ConversationID   string         `json:"conversation_id"`
	AutoGenerateName *bool          `json:"auto_generate_name"`
	WorkflowID       string         `json:"workflow_id"`
	Files            []struct {
		Type           string `json:"type"`
		TransferMethod string `json:"transfer_method"`
		URL            string `json:"url"`
		UploadFileID   string `json:"upload_file_id"`
	} `json:"files"`
}

// runState is one chat run in progress.
type runState struct {
	s          *Server
	conv       *conversation
	msg        *message
	run        *run
	task       *task
	newConv    bool
	answer     string
	tokens     []string
	inputs     map[string]any
	failWith   *string
	eventDelay time.Duration
	created    int64
	dialogues  int
	userID     string
	steps      int
	pause      bool
	form       *form
}

// tokenize splits an answer into the chunks a model would stream: words,
// each but the first with its leading space.
func tokenize(answer string) []string {
	var out []string
	start := 0
	for i := 1; i < len(answer); i++ {
		if answer[i] == ' ' && answer[i-1] != ' ' {
			out = append(out, answer[start:i])
			start = i
		}
	}
	if start < len(answer) {
		out = append(out, answer[start:])
	}
	return out
}

func (s *Server) sendChatMessage(c *call) {
	var req chatRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		writeError(c.w, http.StatusBadRequest, "invalid_param", err.Error())
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		writeError(c.w, http.StatusBadRequest, "invalid_param", "query is required")
		return
	}
	now := s.cfg.now()
	s.mu.Lock()
	u := s.st.user(req.User, now)
	var conv *conversation
	if req.ConversationID != "" {
		conv = s.st.conversation(req.ConversationID, req.User)
		if conv == nil {
			s.mu.Unlock()
			writeError(c.w, http.StatusNotFound, "not_found", "Conversation Not Exists.")
			return
		}
	}
	var files []map[string]any
	for _, f := range req.Files {
		switch f.TransferMethod {
		case "local_file":
			up := s.st.files[f.UploadFileID]
			if up == nil || up.owner != u.session {
				s.mu.Unlock()
				writeError(c.w, http.StatusBadRequest, "invalid_param", "Invalid upload file id.")
				return
			}
			files = append(files, map[string]any{
				"id": s.st.newID(), "filename": up.name, "type": f.Type, "url": "",
				"mime_type": up.mime, "size": len(up.data), "transfer_method": "local_file",
				"belongs_to": "user", "upload_file_id": up.id,
			})
		default:
			if f.URL == "" {
				s.mu.Unlock()
				writeError(c.w, http.StatusBadRequest, "invalid_param", "Invalid file url.")
				return
			}
			name := f.URL[strings.LastIndexByte(f.URL, '/')+1:]
			files = append(files, map[string]any{
				"id": s.st.newID(), "filename": name, "type": f.Type, "url": f.URL,
				"mime_type": "", "size": -1, "transfer_method": f.TransferMethod,
				"belongs_to": "user", "upload_file_id": nil,
			})
		}
	}
	rs := &runState{s: s, created: now.Unix()}
	if conv == nil {
		inputs := req.Inputs
		if inputs == nil {
			inputs = map[string]any{}
		}
		name := "New conversation"
		if req.AutoGenerateName == nil || *req.AutoGenerateName {
			name = convName(req.Query)
		}
		conv = &conversation{
			id: s.st.newID(), owner: u.session, name: name, inputs: inputs,
			created: now.Unix(), updated: now.Unix(), cseq: s.st.next(),
			introduction: s.cfg.openingMessage,
		}
		conv.useq = conv.cseq
		for _, v := range s.cfg.variables {
			conv.vars = append(conv.vars, &variable{
				id: s.st.newID(), name: v.Name, valueType: v.ValueType, value: v.Value,
				description: v.Description, created: now.Unix(), updated: now.Unix(), seq: s.st.next(),
			})
		}
		s.st.convs[conv.id] = conv
		rs.newConv = true
	}
	rs.conv = conv
	rs.inputs = conv.inputs
	rs.userID = u.id
	parent := ""
	if n := len(conv.messages); n > 0 {
		parent = conv.messages[n-1].id
	}
	rs.answer = s.cfg.answer(req.Query)
	rs.tokens = tokenize(rs.answer)
	msg := &message{
		id: s.st.newID(), conv: conv.id, owner: u.session, parent: parent, query: req.Query,
		inputs: conv.inputs, files: files, created: now.Unix(), seq: s.st.next(), status: "normal",
		promptTokens: len(tokenize(req.Query)),
	}
	workflowID := req.WorkflowID
	if workflowID == "" {
		workflowID = s.st.workflowID
	}
	rn := &run{
		id: s.st.newID(), workflowID: workflowID, status: "running", conv: conv.id, message: msg.id,
		owner: u.session, inputs: conv.inputs, created: now.Unix(), seq: s.st.next(),
	}
	msg.runID = rn.id
	tk := &task{id: s.st.newID(), owner: u.session, stop: make(chan struct{})}
	conv.messages = append(conv.messages, msg)
	rs.dialogues = len(conv.messages)
	conv.updated = now.Unix()
	conv.useq = s.st.next()
	s.st.msgs[msg.id] = msg
	s.st.runs[rn.id] = rn
	s.st.tasks[tk.id] = tk
	rs.msg, rs.run, rs.task = msg, rn, tk
	rs.failWith = s.fault.runFail
	s.fault.runFail = nil
	rs.eventDelay = s.fault.eventDelay
	var cut *streamCut
	streaming := req.ResponseMode == "streaming"
	if streaming {
		cut = s.fault.cut
		s.fault.cut = nil
		rs.pause = s.fault.pause
		s.fault.pause = false
	}
	s.mu.Unlock()

	if !streaming {
		em := &emitter{ctx: c.r.Context(), cfg: &s.cfg}
		rs.execute(em)
		rs.finish(em)
		if rs.failWith != nil {
			writeError(c.w, http.StatusBadRequest, "invalid_param", "Run failed: "+*rs.failWith)
			return
		}
		writeJSON(c.w, http.StatusOK, map[string]any{
			"event":           "message",
			"task_id":         tk.id,
			"id":              msg.id,
			"message_id":      msg.id,
			"conversation_id": conv.id,
			"mode":            "advanced-chat",
			"answer":          em.answer,
			"metadata":        rs.metadata(em),
			"created_at":      rs.created,
		})
		return
	}

	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	em := &emitter{ctx: c.r.Context(), cfg: &s.cfg, w: c.w, cut: cut, streaming: true}
	em.flush()
	if s.cfg.earlyPing {
		em.ping()
	}
	rs.execute(em)
	rs.finish(em)
	if em.aborted {
		// Drop the connection without ending the chunked body.
		panic(http.ErrAbortHandler)
	}
}

// metadata is the metadata of message_end and of a blocking reply.
func (rs *runState) metadata(em *emitter) map[string]any {
	prompt := rs.msg.promptTokens
	completion := len(tokenize(em.answer))
	return map[string]any{
		"usage": map[string]any{
			"prompt_tokens":         prompt,
			"prompt_unit_price":     "0.0",
			"prompt_price_unit":     "0.000001",
			"prompt_price":          "0.0",
			"completion_tokens":     completion,
			"completion_unit_price": "0.0",
			"completion_price_unit": "0.000001",
			"completion_price":      "0.0",
			"total_tokens":          prompt + completion,
			"total_price":           "0.0",
			"currency":              "USD",
			"latency":               0.05,
		},
		"retriever_resources": []any{},
	}
}

// event builds an event with the fields every chunk of this run carries.
func (rs *runState) event(name string) map[string]any {
	return map[string]any{
		"event":           name,
		"task_id":         rs.task.id,
		"conversation_id": rs.conv.id,
		"message_id":      rs.msg.id,
		"created_at":      rs.s.cfg.now().Unix(),
	}
}

func (rs *runState) workflowEvent(name string, data map[string]any) map[string]any {
	ev := rs.event(name)
	ev["workflow_run_id"] = rs.run.id
	ev["data"] = data
	return ev
}

type node struct{ id, typ, title string }

var (
	startNode  = node{"start", "start", "Start"}
	llmNode    = node{"llm", "llm", "LLM"}
	answerNode = node{"answer", "answer", "Answer"}
	humanNode  = node{"human_input", "human-input", "Human Input"}
)

func (rs *runState) nodeStarted(n node, index int, pred string, execID string, inputs map[string]any) map[string]any {
	var p any
	if pred != "" {
		p = pred
	}
	return rs.workflowEvent("node_started", map[string]any{
		"id": execID, "node_id": n.id, "node_type": n.typ, "title": n.title, "index": index,
		"predecessor_node_id": p, "inputs": inputs, "created_at": rs.s.cfg.now().Unix(),
		"extras": map[string]any{}, "iteration_id": nil, "loop_id": nil,
	})
}

func (rs *runState) nodeFinished(n node, index int, pred string, execID string, inputs, outputs map[string]any, status, errMsg string) map[string]any {
	var p, e any
	if pred != "" {
		p = pred
	}
	if errMsg != "" {
		e = errMsg
	}
	now := rs.s.cfg.now().Unix()
	return rs.workflowEvent("node_finished", map[string]any{
		"id": execID, "node_id": n.id, "node_type": n.typ, "title": n.title, "index": index,
		"predecessor_node_id": p, "inputs": inputs, "process_data": nil, "outputs": outputs,
		"status": status, "error": e, "elapsed_time": 0.01, "execution_metadata": map[string]any{},
		"created_at": now, "finished_at": now, "files": []any{}, "iteration_id": nil, "loop_id": nil,
	})
}

// execute produces the run's events: start node, LLM node streaming the
// answer, answer node, then the terminal events. A run that pauses stops
// after the start node at a human input node.
func (rs *runState) execute(em *emitter) {
	s := rs.s
	st := &rs.s.st
	s.mu.Lock()
	startID := st.newID()
	s.mu.Unlock()
	sysInputs := map[string]any{}
	for k, v := range rs.inputs {
		sysInputs[k] = v
	}
	sysInputs["sys.query"] = rs.msg.query
	sysInputs["sys.files"] = []any{}
	sysInputs["sys.conversation_id"] = rs.conv.id
	sysInputs["sys.user_id"] = rs.msg.owner
	sysInputs["sys.dialogue_count"] = rs.dialogues
	sysInputs["sys.app_id"] = st.appID
	sysInputs["sys.workflow_id"] = rs.run.workflowID
	sysInputs["sys.workflow_run_id"] = rs.run.id

	em.send(rs.workflowEvent("workflow_started", map[string]any{
		"id": rs.run.id, "workflow_id": rs.run.workflowID, "inputs": sysInputs, "created_at": rs.created,
	}))
	em.send(rs.nodeStarted(startNode, 1, "", startID, sysInputs))
	em.send(rs.nodeFinished(startNode, 1, "", startID, sysInputs, sysInputs, "succeeded", ""))
	if rs.pause {
		rs.pauseAtForm(em)
		return
	}
	rs.answerPhase(em, 2, startNode.id)
}

// answerPhase runs the LLM node (streaming the answer) and the answer node,
// then sends the terminal events.
func (rs *runState) answerPhase(em *emitter, index int, pred string) {
	s := rs.s
	s.mu.Lock()
	ids := [2]string{s.st.newID(), s.st.newID()}
	s.mu.Unlock()
	rs.steps = index
	em.send(rs.nodeStarted(llmNode, index, pred, ids[0], map[string]any{}))
	if rs.failWith != nil {
		msg := *rs.failWith
		em.send(rs.nodeFinished(llmNode, index, pred, ids[0], map[string]any{}, nil, "failed", msg))
		em.terminal = true
		em.send(rs.workflowFinished("failed", msg, nil))
		ev := map[string]any{
			"event": "error", "conversation_id": rs.conv.id, "message_id": rs.msg.id,
			"created_at": s.cfg.now().Unix(), "code": "invalid_param", "message": "Run failed: " + msg, "status": 400,
		}
		em.send(ev)
		return
	}
	stopped := false
	for i, tok := range rs.tokens {
		if i > 0 && !em.wait(rs.eventDelay, rs.task.stop) {
			stopped = em.stopped
			break
		}
		ev := rs.event("message")
		ev["answer"] = tok
		em.answer += tok
		em.send(ev)
	}
	if em.gone() {
		// The client went away; the run completes on the server.
		em.answer = rs.answer
	}
	if stopped {
		em.terminal = true
		em.send(rs.workflowFinished("stopped", "", map[string]any{"answer": em.answer}))
		em.send(rs.messageEnd(em))
		return
	}
	llmOut := map[string]any{"text": em.answer, "finish_reason": "stop"}
	em.send(rs.nodeFinished(llmNode, index, pred, ids[0], map[string]any{}, llmOut, "succeeded", ""))
	em.send(rs.nodeStarted(answerNode, index+1, llmNode.id, ids[1], map[string]any{}))
	em.send(rs.nodeFinished(answerNode, index+1, llmNode.id, ids[1], map[string]any{}, map[string]any{"answer": em.answer}, "succeeded", ""))
	rs.steps = index + 1
	em.terminal = true
	if s.cfg.workflowFirst {
		em.send(rs.workflowFinished("succeeded", "", map[string]any{"answer": em.answer}))
		em.send(rs.messageEnd(em))
	} else {
		em.send(rs.messageEnd(em))
		em.send(rs.workflowFinished("succeeded", "", map[string]any{"answer": em.answer}))
	}
}

// formActions are the buttons of the fake's human input form.
var formActions = []any{
	map[string]any{"id": "approve", "title": "Approve", "button_style": "primary"},
	map[string]any{"id": "reject", "title": "Reject", "button_style": "default"},
}

// pauseAtForm reaches a human input node: human_input_required, then
// workflow_paused, and the stream ends.
func (rs *runState) pauseAtForm(em *emitter) {
	s := rs.s
	now := s.cfg.now()
	s.mu.Lock()
	execID := s.st.newID()
	f := &form{
		token: s.st.newID(), id: s.st.newID(), runID: rs.run.id, owner: rs.msg.owner,
		expires: now.Add(time.Hour).Unix(), execID: execID,
	}
	s.st.forms[f.token] = f
	rs.form = f
	rs.run.status = "paused"
	s.mu.Unlock()
	em.send(rs.nodeStarted(humanNode, 2, startNode.id, execID, map[string]any{}))
	em.send(rs.workflowEvent("human_input_required", map[string]any{
		"form_id": f.id, "form_token": f.token, "node_id": humanNode.id, "node_title": humanNode.title,
		"form_content": formContent, "inputs": formInputs, "actions": formActions,
		"display_in_ui": true, "resolved_default_values": map[string]any{}, "expiration_time": f.expires,
	}))
	em.terminal = true
	em.send(rs.workflowEvent("workflow_paused", map[string]any{
		"workflow_run_id": rs.run.id, "paused_nodes": []string{humanNode.id}, "outputs": map[string]any{},
		"reasons": []any{map[string]any{"type": "human_input_required", "form_id": f.id, "node_id": humanNode.id}},
		"status":  "paused", "created_at": rs.created, "elapsed_time": 0.02, "total_tokens": 0, "total_steps": 2,
	}))
}

const formContent = "Please review the request and add a note.\n\n{{#$output.note#}}"

var formInputs = []any{
	map[string]any{"type": "paragraph", "output_variable_name": "note", "default": map[string]any{"type": "constant", "value": "", "selector": []string{}}},
}

// resume continues a paused run after its form was submitted: the events
// that GET /workflow/{id}/events streams.
func (rs *runState) resume(em *emitter) {
	s := rs.s
	s.mu.Lock()
	f := rs.form
	action, data := f.action, f.data
	s.mu.Unlock()
	actionText := action
	for _, a := range formActions {
		if m := a.(map[string]any); m["id"] == action {
			actionText = m["title"].(string)
		}
	}
	note, _ := data["note"].(string)
	em.send(rs.workflowEvent("human_input_form_filled", map[string]any{
		"node_id": humanNode.id, "node_title": humanNode.title, "rendered_content": "Please review the request and add a note.\n\n" + note,
		"action_id": action, "action_text": actionText, "submitted_data": data,
	}))
	em.send(rs.nodeFinished(humanNode, 2, startNode.id, f.execID, map[string]any{}, map[string]any{"note": note, "__action_id": action}, "succeeded", ""))
	rs.answerPhase(em, 3, humanNode.id)
}

func (rs *runState) messageEnd(em *emitter) map[string]any {
	ev := rs.event("message_end")
	ev["id"] = rs.msg.id
	ev["metadata"] = rs.metadata(em)
	ev["files"] = []any{}
	return ev
}

func (rs *runState) workflowFinished(status, errMsg string, outputs map[string]any) map[string]any {
	var e any
	if errMsg != "" {
		e = errMsg
	}
	steps := rs.steps
	now := rs.s.cfg.now().Unix()
	tokens := rs.msg.promptTokens + len(tokenize(rs.answer))
	rs.s.mu.Lock()
	r := rs.run
	r.status, r.err, r.outputs = status, errMsg, outputs
	r.finished, r.elapsed, r.tokens, r.steps = now, 0.05, tokens, steps
	data := map[string]any{
		"id": r.id, "workflow_id": r.workflowID, "status": status, "outputs": outputs,
		"error": e, "elapsed_time": r.elapsed, "total_tokens": tokens,
		"total_steps": steps, "created_by": map[string]any{"id": rs.userID, "user": rs.msg.owner},
		"created_at": rs.created, "finished_at": now, "exceptions_count": 0, "files": []any{},
	}
	rs.s.mu.Unlock()
	return rs.workflowEvent("workflow_finished", data)
}

// finish stores the outcome of the run.
func (rs *runState) finish(em *emitter) {
	s := rs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.st.tasks, rs.task.id)
	rs.run.events = append(rs.run.events, em.events...)
	m := rs.msg
	if rs.failWith != nil {
		m.status = "error"
		m.err = "Run failed: " + *rs.failWith
		rs.run.status = "failed"
		return
	}
	if rs.run.status == "paused" {
		// From now on GET /workflow/{id}/events can resume the run.
		rs.run.resume = rs
		return
	}
	m.answer = em.answer
	m.answerTokens = len(tokenize(em.answer))
	if rs.run.status == "running" {
		// The run ended without workflow_finished: it still completes.
		rs.run.status = "succeeded"
		rs.run.outputs = map[string]any{"answer": em.answer}
		rs.run.finished = s.cfg.now().Unix()
		rs.run.steps = rs.steps
		rs.run.tokens = m.promptTokens + m.answerTokens
	}
}

func (s *Server) stopChatMessageGeneration(c *call) {
	s.mu.Lock()
	if t := s.st.tasks[c.params["task_id"]]; t != nil && t.owner == sessionOf(c.user) && !t.stopped {
		t.stopped = true
		close(t.stop)
	}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, map[string]any{"result": "success"})
}

func sessionOf(user string) string {
	if user == "" {
		return anonymousUser
	}
	return user
}
