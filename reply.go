package chatflow

import (
	"strings"

	"github.com/difykit/chatflow/gen"
)

// Reply is a chat reply collected from a stream by Collect or SendMessage.
type Reply struct {
	// Answer is the text of the answer: the message (and agent_message)
	// events joined, as replaced by any message_replace event.
	Answer string `json:"answer"`
	// ConversationID is the conversation the message belongs to; pass it
	// in the next ChatRequest to continue the conversation.
	ConversationID string `json:"conversation_id"`
	// MessageID is the id of the answer message.
	MessageID string `json:"message_id"`
	// TaskID is the id of the server task (see Stream.Stop).
	TaskID string `json:"task_id"`
	// WorkflowRunID is the id of the workflow run (see Client.WorkflowEvents).
	WorkflowRunID string `json:"workflow_run_id"`

	// Usage is the token and price account of message_end.
	Usage Usage `json:"usage"`
	// RetrieverResources are the knowledge-base passages the answer cites.
	RetrieverResources []RetrieverResource `json:"retriever_resources,omitempty"`
	// Metadata is the whole metadata object of message_end (nil without one).
	Metadata *gen.MessageEndMetadata `json:"metadata,omitempty"`
	// Files are the files of message_end.
	Files []map[string]any `json:"files,omitempty"`
	// MessageFiles are the message_file events (files the answer carries).
	MessageFiles []gen.StreamEventChatMessageFile `json:"message_files,omitempty"`

	// WorkflowStatus is the status of the run from workflow_finished
	// (succeeded, failed, stopped, partial-succeeded) or "paused".
	WorkflowStatus string `json:"workflow_status,omitempty"`
	// WorkflowError is the error of a failed run from workflow_finished.
	WorkflowError string `json:"workflow_error,omitempty"`
	// Outputs are the outputs of the run from workflow_finished.
	Outputs map[string]any `json:"outputs,omitempty"`

	// Paused reports that the run stopped at a Human Input node: the stream
	// ended at workflow_paused. Submit the form (FormToken), then follow
	// the resumed run with Client.WorkflowEvents(ctx, WorkflowRunID, user).
	Paused bool `json:"paused,omitempty"`
	// FormToken is the token of the human input form to submit, from
	// human_input_required.
	FormToken string `json:"form_token,omitempty"`
	// HumanInput is the data of the last human_input_required event.
	HumanInput *gen.HumanInputRequiredEventData `json:"human_input,omitempty"`

	// MessageEnded and WorkflowFinished report which terminal events came.
	MessageEnded     bool `json:"message_ended"`
	WorkflowFinished bool `json:"workflow_finished"`
}

// Collect reads the whole stream and gathers it into a Reply. message
// events append to the answer, message_replace replaces it;
// message_end and workflow_finished may come in either order. A run that
// pauses for human input ends at workflow_paused: the Reply then has
// Paused set and the FormToken.
//
// On an error Collect returns what it has gathered so far together with the
// error: an *APIError for an error event (after a failed workflow_finished,
// for example), or an error matching ErrIncompleteStream when the stream
// ended without any terminal event (and io.ErrUnexpectedEOF when it was cut
// inside an event).
func (s *Stream) Collect() (*Reply, error) {
	r := &Reply{}
	var answer strings.Builder
	var err error
	for ev, e := range s.Events() {
		if e != nil {
			err = e
			break
		}
		if err = r.add(ev, &answer); err != nil {
			break
		}
	}
	r.Answer = answer.String()
	if r.TaskID == "" {
		r.TaskID = s.TaskID()
	}
	return r, err
}

// add folds one event into r.
func (r *Reply) add(ev Event, answer *strings.Builder) error {
	switch ev.Name() {
	case EventMessage:
		m, err := ev.Message()
		if err != nil {
			return err
		}
		answer.WriteString(m.Answer)
		r.ids(m.ConversationID, m.MessageID, m.TaskID)
		return nil
	case EventAgentMessage:
		m, err := ev.AgentMessage()
		if err != nil {
			return err
		}
		answer.WriteString(m.Answer)
		r.ids(m.ConversationID, m.MessageID, m.TaskID)
		return nil
	case EventPing:
		return nil
	case EventMessageReplace:
		m, err := ev.MessageReplace()
		if err != nil {
			return err
		}
		answer.Reset()
		answer.WriteString(m.Answer)
		r.ids(m.ConversationID, m.MessageID, m.TaskID)
	case EventMessageEnd:
		m, err := ev.MessageEnd()
		if err != nil {
			return err
		}
		r.MessageEnded = true
		r.ids(m.ConversationID, m.MessageID, m.TaskID)
		if m.ID != "" {
			r.MessageID = m.ID
		}
		if m.Metadata != nil {
			r.Metadata = m.Metadata
			r.Usage = m.Metadata.Usage
			r.RetrieverResources = m.Metadata.RetrieverResources
		}
		r.Files = m.Files
	case EventMessageFile:
		m, err := ev.MessageFile()
		if err != nil {
			return err
		}
		r.MessageFiles = append(r.MessageFiles, m)
	case EventWorkflowFinished:
		w, err := ev.WorkflowFinished()
		if err != nil {
			return err
		}
		r.WorkflowFinished = true
		if w.Data != nil {
			r.WorkflowStatus = w.Data.Status
			r.WorkflowError = w.Data.Error
			r.Outputs = w.Data.Outputs
		}
	case EventWorkflowPaused:
		w, err := ev.WorkflowPaused()
		if err != nil {
			return err
		}
		r.Paused = true
		r.WorkflowStatus = "paused"
		if w.Data != nil && w.Data.WorkflowRunID != "" && r.WorkflowRunID == "" {
			r.WorkflowRunID = w.Data.WorkflowRunID
		}
	case EventHumanInputRequired:
		h, err := ev.HumanInputRequired()
		if err != nil {
			return err
		}
		if h.Data != nil {
			r.HumanInput = h.Data
			r.FormToken = h.Data.FormToken
		}
	}
	// Ids that the typed payloads may not carry.
	if r.ConversationID == "" {
		r.ConversationID = topLevelString(ev.data, "conversation_id")
	}
	if r.MessageID == "" {
		r.MessageID = topLevelString(ev.data, "message_id")
	}
	if r.TaskID == "" {
		r.TaskID = topLevelString(ev.data, "task_id")
	}
	if r.WorkflowRunID == "" {
		r.WorkflowRunID = topLevelString(ev.data, "workflow_run_id")
	}
	return nil
}

func (r *Reply) ids(conversationID, messageID, taskID string) {
	if r.ConversationID == "" {
		r.ConversationID = conversationID
	}
	if r.MessageID == "" {
		r.MessageID = messageID
	}
	if r.TaskID == "" {
		r.TaskID = taskID
	}
}
