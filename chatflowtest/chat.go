package chatflowtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/difykit/chatflow/internal/difyroute"
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
	Files            []runFile      `json:"files"`
}

// runState is one run in progress.
type runState struct {
	s          *Server
	mode       string // the app mode, which shapes the events
	conv       *conversation
	msg        *message
	run        *run
	task       *task
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
	partial    string    // the answer produced so far
	deadline   time.Time // when the run must end (zero: no limit)
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
	if req.ConversationID != "" && !difyroute.IsUUID(req.ConversationID) {
		writeError(c.w, http.StatusBadRequest, "invalid_param", "conversation_id: "+req.ConversationID+" is not a valid uuid.")
		return
	}
	streaming := req.ResponseMode == "streaming"
	if s.cfg.mode == ModeAgentChat && !streaming {
		writeError(c.w, http.StatusBadRequest, "invalid_param", "An agent app answers in streaming mode only.")
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
	files, ok := s.runFilesLocked(c, u, req.Files)
	if !ok {
		s.mu.Unlock()
		return
	}
	name := "New conversation"
	if req.AutoGenerateName == nil || *req.AutoGenerateName {
		name = convName(req.Query)
	}
	rs, cut := s.newRunLocked(u, conv, name, req.Query, req.Inputs, files, req.WorkflowID, streaming)
	s.mu.Unlock()
	s.serveRun(c, rs, streaming, cut)
}

// runFile is a file named in the body of a run request.
type runFile struct {
	Type           string `json:"type"`
	TransferMethod string `json:"transfer_method"`
	URL            string `json:"url"`
	UploadFileID   string `json:"upload_file_id"`
}

// runFilesLocked checks the files of a run request and returns them as
// the message stores them, or answers 400 and returns false; s.mu must be
// held.
func (s *Server) runFilesLocked(c *call, u *endUser, in []runFile) ([]map[string]any, bool) {
	var files []map[string]any
	var used []*upload
	for _, f := range in {
		switch f.TransferMethod {
		case "local_file":
			up := s.st.files[f.UploadFileID]
			if up == nil || up.owner != u.session {
				writeError(c.w, http.StatusBadRequest, "invalid_param", "Invalid upload file id.")
				return nil, false
			}
			used = append(used, up)
			files = append(files, map[string]any{
				"id": s.st.newID(), "filename": up.name, "type": f.Type, "url": "",
				"mime_type": up.mime, "size": len(up.data), "transfer_method": "local_file",
				"belongs_to": "user", "upload_file_id": up.id,
			})
		default:
			if f.URL == "" {
				writeError(c.w, http.StatusBadRequest, "invalid_param", "Invalid file url.")
				return nil, false
			}
			name := f.URL[strings.LastIndexByte(f.URL, '/')+1:]
			files = append(files, map[string]any{
				"id": s.st.newID(), "filename": name, "type": f.Type, "url": f.URL,
				"mime_type": "", "size": -1, "transfer_method": f.TransferMethod,
				"belongs_to": "user", "upload_file_id": nil,
			})
		}
	}
	for _, up := range used {
		up.referenced = true
	}
	return files, true
}

// newRunLocked stores a run of the server's app mode, with its message (in
// conv, or in a new conversation named name when conv is nil; workflow and
// completion runs get a conversation of their own, which no route of
// their mode shows) and its task, and takes the faults meant for the next
// run. The run does not start yet. s.mu must be held.
func (s *Server) newRunLocked(u *endUser, conv *conversation, name, query string, inputs map[string]any,
	files []map[string]any, workflowID string, streaming bool) (*runState, *streamCut) {
	now := s.cfg.now()
	rs := &runState{s: s, created: now.Unix(), mode: s.cfg.mode}
	if s.cfg.limits.RunTime > 0 {
		rs.deadline = time.Now().Add(s.cfg.limits.RunTime)
	}
	if conv == nil {
		if inputs == nil {
			inputs = map[string]any{}
		}
		conv = &conversation{
			id: s.st.newID(), owner: u.session, name: name, inputs: inputs,
			created: now.Unix(), updated: now.Unix(), cseq: s.st.next(),
			introduction: s.cfg.openingMessage,
		}
		conv.useq = conv.cseq
		if s.chatMode() {
			for _, v := range s.cfg.variables {
				conv.vars = append(conv.vars, &variable{
					id: s.st.newID(), name: v.Name, valueType: v.ValueType, value: jsonValue(v.Value),
					description: v.Description, created: now.Unix(), updated: now.Unix(), seq: s.st.next(),
				})
			}
		}
		s.st.addConversation(u, conv, &s.cfg.limits)
	}
	rs.conv = conv
	rs.inputs = conv.inputs
	rs.userID = u.id
	parent := ""
	if n := len(conv.messages); n > 0 {
		parent = conv.messages[n-1].id
	}
	rs.answer = s.cfg.answer(query)
	rs.tokens = tokenize(rs.answer)
	// The message is stored at once, with an empty answer, as Dify does.
	msg := &message{
		id: s.st.newID(), conv: conv.id, owner: u.session, parent: parent, query: query,
		inputs: conv.inputs, files: files, created: now.Unix(), seq: s.st.next(), status: "normal",
		promptTokens: len(tokenize(query)),
	}
	if workflowID == "" {
		workflowID = s.st.workflowID
	}
	rn := &run{
		id: s.st.newID(), workflowID: workflowID, status: "running", conv: conv.id, message: msg.id,
		owner: u.session, inputs: conv.inputs, created: now.Unix(), seq: s.st.next(), log: newRunLog(),
	}
	msg.runID = rn.id
	tk := &task{id: s.st.newID(), owner: u.session, stop: make(chan struct{})}
	conv.updated = now.Unix()
	conv.useq = s.st.next()
	s.st.addMessage(conv, msg, rn, &s.cfg.limits)
	rs.dialogues = len(conv.messages)
	s.st.tasks[tk.id] = tk
	rs.msg, rs.run, rs.task = msg, rn, tk
	rs.failWith = s.fault.runFail
	s.fault.runFail = nil
	rs.eventDelay = s.fault.eventDelay
	var cut *streamCut
	if streaming {
		cut = s.fault.cut
		s.fault.cut = nil
		if s.cfg.mode == ModeAdvancedChat || s.cfg.mode == ModeWorkflow {
			rs.pause = s.fault.pause
			s.fault.pause = false
		}
	}
	return rs, cut
}

// serveRun starts a stored run and answers its request: with the gathered
// result in blocking mode, with its events in streaming mode.
func (s *Server) serveRun(c *call, rs *runState, streaming bool, cut *streamCut) {
	s.mu.Lock()
	lg := rs.run.log
	s.mu.Unlock()
	rs.start(rs.execute)
	em := &emitter{ctx: c.r.Context(), w: c.w, cut: cut}

	if !streaming {
		if !s.awaitEnd(em, lg) {
			return // the client left (the run goes on) or the server closes
		}
		s.writeBlocking(c, rs)
		return
	}

	// Like Dify 1.16.1, no header names the run: the client learns the run
	// id from the first event (workflow_started).
	startStream(c.w)
	if s.cfg.earlyPing {
		em.ping()
	}
	s.relay(em, lg, 0, false, 0)
	if em.aborted {
		// Drop the connection without ending the chunked body.
		panic(http.ErrAbortHandler)
	}
}

// writeBlocking answers a blocking run request once the run has ended.
func (s *Server) writeBlocking(c *call, rs *runState) {
	s.mu.Lock()
	answer, status := rs.msg.answer, rs.run.status
	var data map[string]any
	if rs.mode == ModeWorkflow {
		data = rs.run.finishedData()
	}
	s.mu.Unlock()
	if rs.mode == ModeWorkflow {
		// Like Dify, the reply holds the run's end, failed or not.
		writeJSON(c.w, http.StatusOK, map[string]any{
			"task_id": rs.task.id, "workflow_run_id": rs.run.id, "data": data,
		})
		return
	}
	if rs.failWith != nil || status == "failed" {
		if rs.mode == ModeAdvancedChat {
			writeError(c.w, http.StatusBadRequest, "invalid_param", "Run failed: "+rs.failMessage())
		} else {
			writeError(c.w, http.StatusBadRequest, "completion_request_error", rs.failMessage())
		}
		return
	}
	reply := map[string]any{
		"event":      "message",
		"task_id":    rs.task.id,
		"id":         rs.msg.id,
		"message_id": rs.msg.id,
		"mode":       rs.mode,
		"answer":     answer,
		"metadata":   rs.metadata(answer),
		"created_at": rs.created,
	}
	if rs.mode != ModeCompletion {
		reply["conversation_id"] = rs.conv.id
	}
	writeJSON(c.w, http.StatusOK, reply)
}

// failMessage is the error of a run that FailNextRun made fail.
func (rs *runState) failMessage() string {
	if rs.failWith != nil {
		return *rs.failWith
	}
	s := rs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimPrefix(rs.run.err, "Run failed: ")
}

// metadata is the metadata of message_end and of a blocking reply.
func (rs *runState) metadata(answer string) map[string]any {
	prompt := rs.msg.promptTokens
	completion := len(tokenize(answer))
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

// event builds an event with the fields every chunk of this run carries:
// a workflow app's events name no conversation or message, a completion
// app's no conversation.
func (rs *runState) event(name string) map[string]any {
	ev := map[string]any{"event": name, "task_id": rs.task.id}
	switch rs.mode {
	case ModeWorkflow:
	case ModeCompletion:
		ev["message_id"] = rs.msg.id
		ev["created_at"] = rs.s.cfg.now().Unix()
	default:
		ev["conversation_id"] = rs.conv.id
		ev["message_id"] = rs.msg.id
		ev["created_at"] = rs.s.cfg.now().Unix()
	}
	return ev
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
	endNode    = node{"end", "end", "End"}
)

func nodeStartedData(n node, index int, pred, execID string, inputs map[string]any, created int64) map[string]any {
	var p any
	if pred != "" {
		p = pred
	}
	return map[string]any{
		"id": execID, "node_id": n.id, "node_type": n.typ, "title": n.title, "index": index,
		"predecessor_node_id": p, "inputs": inputs, "created_at": created,
		"extras": map[string]any{}, "iteration_id": nil, "loop_id": nil,
	}
}

func nodeFinishedData(n node, index int, pred, execID string, inputs, outputs map[string]any, status, errMsg string, created, finished int64) map[string]any {
	var p, e any
	if pred != "" {
		p = pred
	}
	if errMsg != "" {
		e = errMsg
	}
	return map[string]any{
		"id": execID, "node_id": n.id, "node_type": n.typ, "title": n.title, "index": index,
		"predecessor_node_id": p, "inputs": inputs, "process_data": nil, "outputs": outputs,
		"status": status, "error": e, "elapsed_time": 0.01, "execution_metadata": map[string]any{},
		"created_at": created, "finished_at": finished, "files": []any{}, "iteration_id": nil, "loop_id": nil,
	}
}

func (rs *runState) nodeStarted(n node, index int, pred string, execID string, inputs map[string]any) map[string]any {
	return rs.workflowEvent("node_started", nodeStartedData(n, index, pred, execID, inputs, rs.s.cfg.now().Unix()))
}

func (rs *runState) nodeFinished(n node, index int, pred string, execID string, inputs, outputs map[string]any, status, errMsg string) map[string]any {
	now := rs.s.cfg.now().Unix()
	return rs.workflowEvent("node_finished", nodeFinishedData(n, index, pred, execID, inputs, outputs, status, errMsg, now, now))
}

// execute is the body of a run's goroutine. A chatflow or workflow run
// has a start node, an LLM node streaming the answer, an answer (or end)
// node, then the terminal events; one that pauses stops after the start
// node at a human input node. Runs of the other modes stream the answer
// and end with message_end.
func (rs *runState) execute() {
	if rs.mode != ModeAdvancedChat && rs.mode != ModeWorkflow {
		rs.answerPhase(0, "")
		return
	}
	s := rs.s
	st := &rs.s.st
	s.mu.Lock()
	startID := st.newID()
	appID := st.appID
	s.mu.Unlock()
	sysInputs := map[string]any{}
	for k, v := range rs.inputs {
		sysInputs[k] = v
	}
	sysInputs["sys.files"] = []any{}
	sysInputs["sys.user_id"] = rs.msg.owner
	if rs.mode == ModeAdvancedChat {
		sysInputs["sys.query"] = rs.msg.query
		sysInputs["sys.conversation_id"] = rs.conv.id
		sysInputs["sys.dialogue_count"] = rs.dialogues
	}
	sysInputs["sys.app_id"] = appID
	sysInputs["sys.workflow_id"] = rs.run.workflowID
	sysInputs["sys.workflow_run_id"] = rs.run.id

	rs.emit(rs.workflowEvent("workflow_started", map[string]any{
		"id": rs.run.id, "workflow_id": rs.run.workflowID, "inputs": sysInputs, "created_at": rs.created,
		"reason": "initial",
	}))
	rs.emit(rs.nodeStarted(startNode, 1, "", startID, sysInputs))
	rs.emit(rs.nodeFinished(startNode, 1, "", startID, sysInputs, sysInputs, "succeeded", ""))
	if rs.pause {
		rs.pauseAtForm()
		return
	}
	rs.answerPhase(2, startNode.id)
}

// answerPhase runs the LLM node (streaming the answer) and the answer node,
// then sends the terminal events. Runs without a workflow (chat, agent
// and completion apps) stream the answer only.
func (rs *runState) answerPhase(index int, pred string) {
	s := rs.s
	s.mu.Lock()
	ids := [2]string{s.st.newID(), s.st.newID()}
	s.mu.Unlock()
	graph := rs.mode == ModeAdvancedChat || rs.mode == ModeWorkflow
	rs.steps = index
	if graph {
		rs.emit(rs.nodeStarted(llmNode, index, pred, ids[0], map[string]any{}))
	}
	var thought map[string]any
	if rs.mode == ModeAgentChat {
		thought = rs.agentThought(ids[0], "")
		rs.emit(thought)
	}
	if rs.failWith != nil {
		msg := *rs.failWith
		if graph {
			rs.emit(rs.nodeFinished(llmNode, index, pred, ids[0], map[string]any{}, nil, "failed", msg))
		}
		rs.fail(msg)
		return
	}
	for i, tok := range rs.tokens {
		if i > 0 || rs.eventDelay > 0 {
			d := rs.eventDelay
			if i == 0 {
				d = 0 // only a stop that came already
			}
			switch rs.wait(d) {
			case waitStopped:
				rs.stop()
				return
			case waitTimeout:
				rs.fail("The run took longer than the server allows.")
				return
			case waitQuit:
				rs.fail("The server shut down.")
				return
			}
		}
		rs.partial += tok
		rs.emit(rs.chunk(tok))
	}
	if !graph {
		s.mu.Lock()
		defer s.mu.Unlock()
		rs.store("normal", "")
		if thought != nil {
			rs.emitLocked(rs.agentThought(ids[0], rs.partial))
		}
		rs.run.status = "succeeded"
		rs.emitLocked(rs.messageEnd())
		rs.finishLocked()
		return
	}
	llmOut := map[string]any{"text": rs.partial, "finish_reason": "stop"}
	if rs.mode == ModeWorkflow {
		rs.emit(rs.nodeFinished(llmNode, index, pred, ids[0], map[string]any{}, llmOut, "succeeded", ""))
		outputs := map[string]any{"text": rs.partial}
		rs.emit(rs.nodeStarted(endNode, index+1, llmNode.id, ids[1], map[string]any{}))
		rs.emit(rs.nodeFinished(endNode, index+1, llmNode.id, ids[1], map[string]any{}, outputs, "succeeded", ""))
		rs.steps = index + 1
		s.mu.Lock()
		defer s.mu.Unlock()
		rs.store("normal", "")
		rs.emitLocked(rs.workflowFinished("succeeded", "", outputs))
		rs.finishLocked()
		return
	}
	rs.emit(rs.nodeFinished(llmNode, index, pred, ids[0], map[string]any{}, llmOut, "succeeded", ""))
	rs.emit(rs.nodeStarted(answerNode, index+1, llmNode.id, ids[1], map[string]any{}))
	rs.emit(rs.nodeFinished(answerNode, index+1, llmNode.id, ids[1], map[string]any{}, map[string]any{"answer": rs.partial}, "succeeded", ""))
	rs.steps = index + 1
	outputs := map[string]any{"answer": rs.partial}
	s.mu.Lock()
	defer s.mu.Unlock()
	rs.store("normal", "")
	wf := rs.workflowFinished("succeeded", "", outputs)
	if s.cfg.workflowFirst {
		rs.emitLocked(wf, rs.messageEnd())
	} else {
		rs.emitLocked(rs.messageEnd(), wf)
	}
	rs.finishLocked()
}

// stop ends a run that a stop request reached: message_end, then
// workflow_finished with status stopped; the partial answer is kept. A
// workflow app's run ends with workflow_finished only, a run without a
// workflow with message_end only.
func (rs *runState) stop() {
	s := rs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rs.store("normal", "")
	switch rs.mode {
	case ModeAdvancedChat:
		rs.emitLocked(rs.messageEnd(), rs.workflowFinished("stopped", "Stopped by user.", map[string]any{"answer": rs.partial}))
	case ModeWorkflow:
		rs.emitLocked(rs.workflowFinished("stopped", "Stopped by user.", map[string]any{"text": rs.partial}))
	default:
		rs.run.status = "stopped"
		rs.emitLocked(rs.messageEnd())
	}
	rs.finishLocked()
}

// chunk is the event that carries one token of the answer.
func (rs *runState) chunk(tok string) map[string]any {
	switch rs.mode {
	case ModeWorkflow:
		return rs.workflowEvent("text_chunk", map[string]any{
			"text": tok, "from_variable_selector": []string{llmNode.id, "text"},
		})
	case ModeAgentChat:
		ev := rs.event("agent_message")
		ev["id"] = rs.msg.id
		ev["answer"] = tok
		return ev
	}
	ev := rs.event("message")
	if rs.mode != ModeAdvancedChat {
		ev["id"] = rs.msg.id
	}
	ev["answer"] = tok
	return ev
}

// agentThought is an agent app's agent_thought event: its thought is empty
// while the answer streams and holds it at the end.
func (rs *runState) agentThought(id, thought string) map[string]any {
	ev := rs.event("agent_thought")
	ev["id"] = id
	ev["position"] = 1
	ev["thought"] = thought
	ev["observation"] = ""
	ev["tool"] = ""
	ev["tool_labels"] = map[string]any{}
	ev["tool_input"] = ""
	ev["message_files"] = []any{}
	return ev
}

// fail ends the run as a failing workflow does: workflow_finished (failed),
// then an error event, no message_end.
func (rs *runState) fail(msg string) {
	s := rs.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := rs.event("error")
	delete(ev, "task_id")
	if rs.mode != ModeAdvancedChat && rs.mode != ModeWorkflow {
		// No workflow: the model's failure, as an error event.
		rs.store("error", msg)
		rs.run.status, rs.run.err = "failed", msg
		ev["code"], ev["message"], ev["status"] = "completion_request_error", msg, 400
		rs.emitLocked(ev)
		rs.finishLocked()
		return
	}
	rs.store("error", "Run failed: "+msg)
	wf := rs.workflowFinished("failed", msg, nil)
	ev["code"], ev["message"], ev["status"] = "invalid_param", "Run failed: "+msg, 400
	rs.emitLocked(wf, ev)
	rs.finishLocked()
}

// store saves the answer so far in the message; s.mu must be held.
func (rs *runState) store(status, errMsg string) {
	m := rs.msg
	m.answer = rs.partial
	m.answerTokens = len(tokenize(rs.partial))
	m.status, m.err = status, errMsg
}

// finishLocked ends the run's log and forgets what only a live run needs;
// s.mu must be held.
func (rs *runState) finishLocked() {
	delete(rs.s.st.tasks, rs.task.id)
	rn := rs.run
	rn.log.end()
	rn.log, rn.nodes, rn.pauseEvents, rn.state = nil, nil, nil, nil
}

// formActions are the buttons of the fake's human input form.
var formActions = []any{
	map[string]any{"id": "approve", "title": "Approve", "button_style": "primary"},
	map[string]any{"id": "reject", "title": "Reject", "button_style": "default"},
}

// pauseAtForm reaches a human input node: human_input_required, then
// workflow_paused, and the run waits for its form.
func (rs *runState) pauseAtForm() {
	s := rs.s
	now := s.cfg.now()
	s.mu.Lock()
	execID := s.st.newID()
	f := &form{
		token: s.st.newID(), id: s.st.newID(), runID: rs.run.id, owner: rs.msg.owner,
		expires: now.Add(time.Hour).Unix(), execID: execID,
	}
	s.st.forms[f.token] = f
	rs.run.form = f.token
	rs.form = f
	s.mu.Unlock()
	rs.emit(rs.nodeStarted(humanNode, 2, startNode.id, execID, map[string]any{}))
	required := rs.workflowEvent("human_input_required", map[string]any{
		"form_id": f.id, "form_token": f.token, "node_id": humanNode.id, "node_title": humanNode.title,
		"form_content": formContent, "inputs": formInputs, "actions": formActions,
		"display_in_ui": true, "resolved_default_values": map[string]any{}, "expiration_time": f.expires,
	})
	paused := rs.workflowEvent("workflow_paused", map[string]any{
		"workflow_run_id": rs.run.id, "paused_nodes": []string{humanNode.id}, "outputs": map[string]any{},
		"reasons": []any{map[string]any{"type": "human_input_required", "form_id": f.id, "node_id": humanNode.id}},
		"status":  "paused", "created_at": rs.created, "elapsed_time": 0.02, "total_tokens": 0, "total_steps": 2,
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	rs.store("paused", "")
	rs.run.status = "paused"
	rs.emitLocked(required, paused)
	rs.run.pauseEvents = []map[string]any{required, paused}
	rs.run.state = rs
	delete(s.st.tasks, rs.task.id)
	rs.run.log.end()
}

const formContent = "Please review the request and add a note.\n\n{{#$output.note#}}"

var formInputs = []any{
	map[string]any{"type": "paragraph", "output_variable_name": "note", "default": map[string]any{"type": "constant", "value": "", "selector": []string{}}},
}

// resumeLocked continues a paused run whose form was submitted, in a new
// goroutine with a new task; s.mu must be held.
func (rs *runState) resumeLocked() {
	s := rs.s
	rn := rs.run
	rs.task = &task{id: s.st.newID(), owner: rn.owner, stop: make(chan struct{})}
	s.st.tasks[rs.task.id] = rs.task
	rn.status = "running"
	rn.state, rn.pauseEvents = nil, nil
	rs.msg.status = "normal"
	rn.log.ended = false
	rn.log.notify()
	rs.startLocked(rs.resume)
}

// resume is the body of a resumed run: a new workflow_started, the filled
// form, the rest of the run.
func (rs *runState) resume() {
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
	rs.emit(rs.workflowEvent("workflow_started", map[string]any{
		"id": rs.run.id, "workflow_id": rs.run.workflowID, "inputs": rs.run.inputs, "created_at": rs.created,
		"reason": "resumption",
	}))
	rs.emit(rs.workflowEvent("human_input_form_filled", map[string]any{
		"node_id": humanNode.id, "node_title": humanNode.title, "rendered_content": "Please review the request and add a note.\n\n" + note,
		"action_id": action, "action_text": actionText, "submitted_data": data,
	}))
	rs.emit(rs.nodeFinished(humanNode, 2, startNode.id, f.execID, map[string]any{}, map[string]any{"note": note, "__action_id": action}, "succeeded", ""))
	rs.answerPhase(3, humanNode.id)
}

func (rs *runState) messageEnd() map[string]any {
	ev := rs.event("message_end")
	ev["id"] = rs.msg.id
	ev["metadata"] = rs.metadata(rs.partial)
	ev["files"] = []any{}
	return ev
}

// workflowFinished records the end of the run and returns its
// workflow_finished event; s.mu must be held.
func (rs *runState) workflowFinished(status, errMsg string, outputs map[string]any) map[string]any {
	now := rs.s.cfg.now().Unix()
	r := rs.run
	r.status, r.err, r.outputs = status, errMsg, outputs
	r.finished, r.elapsed, r.steps = now, 0.05, rs.steps
	r.tokens = rs.msg.promptTokens + len(tokenize(rs.partial))
	r.createdBy = map[string]any{"id": rs.userID, "user": rs.msg.owner}
	return rs.workflowEvent("workflow_finished", r.finishedData())
}

// finishedData is the data of a workflow_finished event for the run.
func (r *run) finishedData() map[string]any {
	var e any
	if r.err != "" {
		e = r.err
	}
	var finished any
	if r.finished != 0 {
		finished = r.finished
	}
	return map[string]any{
		"id": r.id, "workflow_id": r.workflowID, "status": r.status, "outputs": r.outputs,
		"error": e, "elapsed_time": r.elapsed, "total_tokens": r.tokens,
		"total_steps": r.steps, "created_by": r.createdBy,
		"created_at": r.created, "finished_at": finished, "exceptions_count": 0, "files": []any{},
	}
}

func (s *Server) stopChatMessageGeneration(c *call) {
	s.mu.Lock()
	// Any task id is answered with success; only a running task of the
	// same user is stopped.
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
