package relay

import (
	"encoding/json"
	"net/http"
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
	CreatedAt      int64           `json:"created_at"`
}

// pausedReply is the reply of newer servers to a blocking run that stopped
// at a human input node.
type pausedReply struct {
	Event          string     `json:"event"`
	TaskID         string     `json:"task_id"`
	WorkflowRunID  string     `json:"workflow_run_id"`
	ConversationID string     `json:"conversation_id"`
	MessageID      string     `json:"message_id"`
	Data           pausedData `json:"data"`
}

type pausedData struct {
	ID      string                 `json:"id"`
	Status  string                 `json:"status"`
	Outputs map[string]any         `json:"outputs"`
	Forms   []chatflow.PendingForm `json:"reasons"`
}

// gather answers a blocking chat message: the stream gathered into Dify's
// blocking JSON shape. A run that fails is an error in Dify's shape.
func (h *Handler) gather(w http.ResponseWriter, r *http.Request, s *chatflow.Stream) {
	rep, err := s.Collect()
	if err != nil {
		if r.Context().Err() == nil {
			h.writeDifyError(w, h.upstreamError(err))
		}
		return
	}
	var v any
	if rep.Paused {
		v = pausedReply{Event: chatflow.EventWorkflowPaused, TaskID: rep.TaskID, WorkflowRunID: rep.WorkflowRunID,
			ConversationID: rep.ConversationID, MessageID: rep.MessageID,
			Data: pausedData{ID: rep.WorkflowRunID, Status: "paused", Outputs: rep.Outputs, Forms: rep.Forms}}
	} else {
		meta, err := json.Marshal(rep.Metadata)
		if rep.Metadata == nil || err != nil {
			meta, _ = json.Marshal(map[string]any{"usage": rep.Usage, "retriever_resources": rep.RetrieverResources})
		}
		created := rep.Timing.FirstEvent
		if created.IsZero() {
			created = time.Now()
		}
		v = blockingReply{Event: chatflow.EventMessage, TaskID: rep.TaskID, ID: rep.MessageID, MessageID: rep.MessageID,
			ConversationID: rep.ConversationID, Mode: "advanced-chat", Answer: rep.Answer, Metadata: meta, CreatedAt: created.Unix()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		h.writeError(w, http.StatusInternalServerError, "internal_server_error", "The reply could not be encoded.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(h.sec.bytes(b))
}
