package relay

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/difykit/chatflow"
)

// blockingReply is Dify's reply to a blocking chat message.
type blockingReply struct {
	Event          string          `json:"event"`
	TaskID         string          `json:"task_id"`
	ID             string          `json:"id"`
	MessageID      string          `json:"message_id"`
	ConversationID string          `json:"conversation_id"`
	Mode           string          `json:"mode"`
	Answer         string          `json:"answer"`
	Metadata       json.RawMessage `json:"metadata"`
	CreatedAt      json.RawMessage `json:"created_at"`
}

// eventFields are the fields of a stream event that the blocking reply
// takes.
type eventFields struct {
	MessageID      string          `json:"message_id"`
	ConversationID string          `json:"conversation_id"`
	Answer         string          `json:"answer"`
	Metadata       json.RawMessage `json:"metadata"`
	CreatedAt      json.RawMessage `json:"created_at"`
}

// gather answers a blocking chat message: the events of the stream
// gathered into Dify's blocking JSON shape (a run paused for human input
// gets its workflow_paused event, as newer servers answer). A run that
// fails is an error in Dify's shape.
func (h *Handler) gather(w http.ResponseWriter, r *http.Request, s *chatflow.Stream) {
	rep := blockingReply{Event: chatflow.EventMessage, Mode: "advanced-chat"}
	var answer strings.Builder
	var paused json.RawMessage
	for ev, err := range s.Events() {
		if err != nil {
			if r.Context().Err() == nil {
				h.writeDifyError(w, h.upstreamError(err))
			}
			return
		}
		var f eventFields
		_ = json.Unmarshal(ev.Raw(), &f)
		rep.MessageID = first(rep.MessageID, f.MessageID)
		rep.ConversationID = first(rep.ConversationID, f.ConversationID)
		if rep.CreatedAt == nil && len(f.CreatedAt) > 0 {
			rep.CreatedAt = f.CreatedAt
		}
		switch ev.Name() {
		case chatflow.EventMessage, chatflow.EventAgentMessage:
			answer.WriteString(f.Answer)
		case chatflow.EventMessageReplace:
			answer.Reset()
			answer.WriteString(f.Answer)
		case chatflow.EventMessageEnd:
			rep.Metadata = f.Metadata
		case chatflow.EventWorkflowPaused:
			paused = ev.Raw()
		}
	}
	if r.Context().Err() != nil {
		return
	}
	body := paused
	if body == nil {
		rep.TaskID, rep.ID, rep.Answer = s.TaskID(), rep.MessageID, answer.String()
		if len(rep.Metadata) == 0 {
			rep.Metadata = json.RawMessage(`{}`)
		}
		if rep.CreatedAt == nil {
			rep.CreatedAt, _ = json.Marshal(time.Now().Unix())
		}
		var err error
		if body, err = json.Marshal(rep); err != nil {
			h.writeError(w, http.StatusInternalServerError, "internal_server_error", "The reply could not be encoded.")
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(h.sec.bytes(body))
}

// first returns a if it is set, else b.
func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
