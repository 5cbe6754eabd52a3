package chatflowtest

import (
	"encoding/json"
	"net/http"
)

// runRequest is the body of POST /workflows/run, /workflows/{id}/run and
// /completion-messages.
type runRequest struct {
	Inputs       map[string]any `json:"inputs"`
	Query        string         `json:"query"`
	ResponseMode string         `json:"response_mode"`
	User         string         `json:"user"`
	Files        []runFile      `json:"files"`
}

// checkRunBody checks the body of a workflow run or a completion request
// the way Dify parses it: inputs must be an object, response_mode blocking
// or streaming, files a list, query a string.
func (s *Server) checkRunBody(c *call) bool {
	bad := func(msg string) bool {
		writeError(c.w, http.StatusBadRequest, "invalid_param", msg)
		return false
	}
	if _, ok := c.json["inputs"].(map[string]any); !ok {
		return bad("inputs: an object is required.")
	}
	if v, ok := c.json["response_mode"]; ok && v != nil && v != "blocking" && v != "streaming" {
		return bad("response_mode: must be blocking or streaming.")
	}
	if v, ok := c.json["files"]; ok && v != nil {
		if _, isList := v.([]any); !isList {
			return bad("files: must be a list.")
		}
	}
	if v, ok := c.json["query"]; ok && v != nil {
		if _, isStr := v.(string); !isStr {
			return bad("query: must be a string.")
		}
	}
	var req runRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		return bad(err.Error())
	}
	return true
}

// runWorkflow serves POST /workflows/run and /workflows/{workflow_id}/run.
func (s *Server) runWorkflow(c *call) {
	var req runRequest
	_ = json.Unmarshal(c.body, &req) // checked by checkRunBody
	s.startRequestRun(c, req, workflowQuery(req.Inputs), c.params["workflow_id"])
}

// sendCompletionMessage serves POST /completion-messages.
func (s *Server) sendCompletionMessage(c *call) {
	var req runRequest
	_ = json.Unmarshal(c.body, &req) // checked by checkRunBody
	query := req.Query
	if q, ok := req.Inputs["query"].(string); ok && query == "" {
		query = q
	}
	s.startRequestRun(c, req, query, "")
}

// startRequestRun stores and serves a run of a workflow or completion app.
func (s *Server) startRequestRun(c *call, req runRequest, query, workflowID string) {
	streaming := req.ResponseMode == "streaming"
	s.mu.Lock()
	u := s.st.user(req.User, s.cfg.now())
	files, ok := s.runFilesLocked(c, u, req.Files)
	if !ok {
		s.mu.Unlock()
		return
	}
	rs, cut := s.newRunLocked(u, nil, convName(query), query, req.Inputs, files, workflowID, streaming)
	s.mu.Unlock()
	s.serveRun(c, rs, streaming, cut)
}

// stopWorkflowTask serves POST /workflows/tasks/{task_id}/stop. Unlike a
// chat stop, current Dify stops a workflow task whoever asks (user must be
// given but need not match); any task id is answered with success.
func (s *Server) stopWorkflowTask(c *call) {
	s.mu.Lock()
	if t := s.st.tasks[c.params["task_id"]]; t != nil && !t.stopped {
		t.stopped = true
		close(t.stop)
	}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, map[string]any{"result": "success"})
}

// workflowQuery is what a workflow run answers: its string input "query",
// or else the JSON text of its inputs.
func workflowQuery(inputs map[string]any) string {
	if q, ok := inputs["query"].(string); ok {
		return q
	}
	b, _ := json.Marshal(inputs)
	return string(b)
}
