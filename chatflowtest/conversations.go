package chatflowtest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// queryInt reads an integer query parameter (already validated against the
// description), or def.
func queryInt(c *call, name string, def int) int {
	if v := c.r.URL.Query().Get(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func (s *Server) getConversationsList(c *call) {
	q := c.r.URL.Query()
	limit := queryInt(c, "limit", 20)
	sortBy := q.Get("sort_by")
	if sortBy == "" {
		sortBy = "-updated_at"
	}
	session := sessionOf(c.user)
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*conversation
	for _, cv := range s.st.convs {
		if cv.owner == session {
			list = append(list, cv)
		}
	}
	key := func(cv *conversation) uint64 { return cv.useq }
	if sortBy == "created_at" || sortBy == "-created_at" {
		key = func(cv *conversation) uint64 { return cv.cseq }
	}
	desc := sortBy[0] == '-'
	sort.Slice(list, func(i, j int) bool {
		if desc {
			return key(list[i]) > key(list[j])
		}
		return key(list[i]) < key(list[j])
	})
	if last := q.Get("last_id"); last != "" {
		i := indexConv(list, last)
		if i < 0 {
			writeError(c.w, http.StatusNotFound, "not_found", "Last Conversation Not Exists.")
			return
		}
		list = list[i+1:]
	}
	writeCursorPage(c, list, limit)
}

func indexConv(list []*conversation, id string) int {
	for i, cv := range list {
		if cv.id == id {
			return i
		}
	}
	return -1
}

func (s *Server) getConversationHistory(c *call) {
	q := c.r.URL.Query()
	limit := queryInt(c, "limit", 20)
	s.mu.Lock()
	defer s.mu.Unlock()
	cv := s.userConversation(c, q.Get("conversation_id"))
	if cv == nil {
		return
	}
	end := len(cv.messages) // messages before end are candidates, newest last
	if first := q.Get("first_id"); first != "" {
		end = -1
		for i, m := range cv.messages {
			if m.id == first {
				end = i
			}
		}
		if end < 0 {
			writeError(c.w, http.StatusNotFound, "not_found", "First Message Not Exists.")
			return
		}
	}
	start := max(end-limit, 0)
	data := make([]any, 0, end-start)
	for _, m := range cv.messages[start:end] {
		data = append(data, m.json())
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"limit": limit, "has_more": start > 0, "data": data})
}

func (s *Server) renameConversation(c *call) {
	var req struct {
		Name         *string `json:"name"`
		AutoGenerate bool    `json:"auto_generate"`
	}
	_ = json.Unmarshal(c.body, &req)
	name := ""
	if req.Name != nil {
		name = *req.Name
	}
	if !req.AutoGenerate && name == "" {
		writeError(c.w, http.StatusBadRequest, "invalid_param", "name is required when auto_generate is false")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cv := s.userConversation(c, c.params["conversation_id"])
	if cv == nil {
		return
	}
	if req.AutoGenerate {
		q := ""
		if len(cv.messages) > 0 {
			q = cv.messages[0].query
		}
		cv.name = convName(q)
	} else {
		cv.name = name
	}
	cv.updated = s.cfg.now().Unix()
	cv.useq = s.st.next()
	writeJSON(c.w, http.StatusOK, cv.json())
}

func (s *Server) deleteConversation(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cv := s.userConversation(c, c.params["conversation_id"])
	if cv == nil {
		return
	}
	s.st.dropConversation(cv)
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getConversationVariables(c *call) {
	q := c.r.URL.Query()
	limit := queryInt(c, "limit", 20)
	s.mu.Lock()
	defer s.mu.Unlock()
	cv := s.userConversation(c, c.params["conversation_id"])
	if cv == nil {
		return
	}
	// Like Dify 1.16.1: the name filter (a case-insensitive substring
	// match) selects the variables, ordered by creation time; last_id is
	// looked up among them (unknown: 400 invalid_param, empty message), and
	// the page goes on after its creation time, so variables created in the
	// same second as last_id are skipped.
	var out []*variable
	name := strings.ToLower(q.Get("variable_name"))
	for _, v := range cv.vars {
		if name == "" || strings.Contains(strings.ToLower(v.name), name) {
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].created < out[j].created })
	if last := q.Get("last_id"); last != "" {
		var lv *variable
		for _, v := range out {
			if v.id == last {
				lv = v
			}
		}
		if lv == nil {
			writeError(c.w, http.StatusBadRequest, "invalid_param", "")
			return
		}
		var after []*variable
		for _, v := range out {
			if v.created > lv.created {
				after = append(after, v)
			}
		}
		out = after
	}
	writeCursorPage(c, out, limit)
}

func (s *Server) updateChatConversationVariable(c *call) {
	value := c.json["value"]
	s.mu.Lock()
	defer s.mu.Unlock()
	cv := s.userConversation(c, c.params["conversation_id"])
	if cv == nil {
		return
	}
	var v *variable
	for _, x := range cv.vars {
		if x.id == c.params["variable_id"] {
			v = x
		}
	}
	if v == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Conversation Variable Not Exists.")
		return
	}
	if !typeMatches(v.valueType, value) {
		writeError(c.w, http.StatusBadRequest, "bad_request",
			"Type mismatch: variable '"+v.name+"' expects "+v.valueType+", but got "+jsonType(value)+" type")
		return
	}
	var raw struct {
		Value json.RawMessage `json:"value"`
	}
	_ = json.Unmarshal(c.body, &raw) // c.json decoded the same body
	v.value = raw.Value
	v.updated = s.cfg.now().Unix()
	writeJSON(c.w, http.StatusOK, v.json())
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return reflect.TypeOf(v).String()
}

// typeMatches reports whether a JSON value fits a Dify variable type.
func typeMatches(valueType string, v any) bool {
	switch valueType {
	case "string", "secret", "paragraph", "select":
		_, ok := v.(string)
		return ok
	case "number", "integer", "float":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array[string]", "array[number]", "array[object]", "array[boolean]", "array[any]", "array":
		arr, ok := v.([]any)
		if !ok {
			return false
		}
		if valueType == "array" || valueType == "array[any]" {
			return true
		}
		elem := valueType[len("array[") : len(valueType)-1]
		for _, e := range arr {
			if !typeMatches(elem, e) {
				return false
			}
		}
		return true
	}
	return true
}

// writeCursorPage answers with the first limit items of rest (the items after
// the cursor) as a {limit, has_more, data} page.
func writeCursorPage[T interface{ json() map[string]any }](c *call, rest []T, limit int) {
	hasMore := len(rest) > limit
	if hasMore {
		rest = rest[:limit]
	}
	data := make([]any, 0, len(rest))
	for _, item := range rest {
		data = append(data, item.json())
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"limit": limit, "has_more": hasMore, "data": data})
}

// userConversation returns the conversation id of the calling user, or
// answers 404 not_found as Dify does (for an unknown id and for another
// user's conversation alike) and returns nil. s.mu must be held.
func (s *Server) userConversation(c *call, id string) *conversation {
	cv := s.st.conversation(id, c.user)
	if cv == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Conversation Not Exists.")
	}
	return cv
}
