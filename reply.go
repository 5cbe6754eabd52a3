package chatflow

import (
	"fmt"
	"strings"
	"time"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/stream"
)

// Reply is a chat reply collected from a stream by Collect or SendMessage.
type Reply struct {
	// Answer is the text of the answer: the message (and agent_message)
	// events joined, as replaced by any message_replace event. After a
	// resume it is the answer the server stored (see Resumed); see also
	// AnswerFromOutputs.
	Answer string `json:"answer"`
	// AnswerFromOutputs reports that Answer is outputs.answer of the
	// run's workflow_finished, not text of message events: a reattach to
	// a run that had already ended (the server then sends only
	// workflow_finished), or a resume whose stored message could not be
	// read.
	AnswerFromOutputs bool `json:"answer_from_outputs,omitempty"`
	// ConversationID is the conversation the message belongs to; pass it
	// in the next ChatRequest to continue the conversation.
	ConversationID string `json:"conversation_id"`
	// MessageID is the id of the answer message.
	MessageID string `json:"message_id"`
	// TaskID is the id of the server task (see Stream.Stop): always the
	// real one from a live event, never the run id that events rebuilt
	// from the server's record may carry as task_id.
	TaskID string `json:"task_id"`
	// WorkflowRunID is the id of the workflow run (see Client.WorkflowEvents).
	WorkflowRunID string `json:"workflow_run_id"`
	// Resumed reports that the connection dropped before the run's end
	// and the stream was resumed from the server's record of the run
	// (see WithResume), or that the answer of a stream that could not
	// prove it carried every piece of it (WorkflowEvents) was completed
	// from the answer the server stored.
	Resumed bool `json:"resumed,omitempty"`

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
	// ended at workflow_paused. Submit the forms (Forms), then follow
	// the resumed run with Client.WorkflowEvents(ctx, WorkflowRunID, user).
	Paused bool `json:"paused,omitempty"`
	// Forms are all the human input forms the run waits for, in the order
	// their human_input_required events came (a run can pause with
	// several pending forms), plus those that only workflow_paused lists.
	Forms []PendingForm `json:"forms,omitempty"`
	// FormToken is the token of the last human input form (the last of
	// Forms), from human_input_required.
	FormToken string `json:"form_token,omitempty"`
	// HumanInput is the data of the last human_input_required event.
	HumanInput *gen.HumanInputRequiredEventData `json:"human_input,omitempty"`

	// MessageEnded and WorkflowFinished report which terminal events came.
	MessageEnded     bool `json:"message_ended"`
	WorkflowFinished bool `json:"workflow_finished"`

	// Timing is when the reply's parts arrived and how long the run took.
	Timing Timing `json:"timing,omitzero"`
}

// PendingForm is a human input form that a paused run waits for: a
// human_input_required event, or a form that only workflow_paused lists
// (then without fields and actions). Read the whole form with
// Client.HumanInputForm(ctx, Token); submit it with
// Client.SubmitHumanInputForm.
type PendingForm struct {
	// Token is the form_token to read and submit the form with.
	Token string `json:"form_token"`
	// FormID is the form's id, for logs.
	FormID string `json:"form_id,omitempty"`
	// NodeID and NodeTitle name the Human Input node that asks.
	NodeID    string `json:"node_id,omitempty"`
	NodeTitle string `json:"node_title,omitempty"`
	// Content is the form's text.
	Content string `json:"form_content,omitempty"`
	// ExpiresAt is when the form stops accepting answers (zero when
	// unknown).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Data is the whole payload of the human_input_required event: the
	// fields (Inputs) and buttons (Actions) among the rest; nil for a form
	// that only workflow_paused listed.
	Data *gen.HumanInputRequiredEventData `json:"data,omitempty"`
}

// FieldNames returns the output variable names of the form's fields: the
// keys of the inputs to submit.
func (f PendingForm) FieldNames() []string {
	if f.Data == nil {
		return nil
	}
	var names []string
	for _, in := range f.Data.Inputs {
		names = append(names, in.OutputVariableName)
	}
	return names
}

// ActionIDs returns the ids of the form's buttons: the action to submit.
func (f PendingForm) ActionIDs() []string {
	if f.Data == nil {
		return nil
	}
	var ids []string
	for _, a := range f.Data.Actions {
		ids = append(ids, a.ID)
	}
	return ids
}

// Collect reads the whole stream and gathers it into a Reply. message
// events append to the answer, message_replace replaces it;
// message_end and workflow_finished may come in either order. A run that
// pauses for human input ends at workflow_paused: the Reply then has
// Paused set and the Forms. A dropped connection is resumed (see Events
// and WithResume): the Reply then has Resumed set and the answer the
// server stored.
//
// What Collect gathers (the answer and the other parts of the Reply) is
// bounded by WithMaxReplyBytes: past it Collect stops reading (which stops
// the run, see WithAutoStop) and fails with an error matching
// ErrReplyTooLarge.
//
// On an error Collect returns what it has gathered so far together with the
// error: an *APIError for an error event (after a failed workflow_finished,
// for example), or an error matching ErrIncompleteStream when the stream
// ended without any terminal event and could not be resumed (and
// io.ErrUnexpectedEOF when it was cut inside an event).
func (s *Stream) Collect() (*Reply, error) {
	r := &Reply{}
	var answer strings.Builder
	var err error
	limit := s.maxReply
	if limit <= 0 {
		limit = DefaultMaxReplyBytes
	}
	var other int64 // bytes of the gathered parts other than the answer
	sawText := false
	for ev, e := range s.Events() {
		if e != nil {
			err = e
			break
		}
		switch ev.Name() {
		case EventMessageEnd, EventMessageFile, EventWorkflowFinished, EventWorkflowPaused, EventHumanInputRequired:
			other += int64(len(ev.data)) // what the Reply keeps of them
		}
		if err = r.add(ev, &answer); err != nil {
			break
		}
		if answer.Len() > 0 {
			sawText = true
		}
		if int64(answer.Len())+other > limit {
			err = fmt.Errorf("%w: Collect gathered more than %d bytes (WithMaxReplyBytes)", ErrReplyTooLarge, limit)
			break
		}
	}
	r.Answer = answer.String()
	r.TaskID = s.TaskID()
	if r.WorkflowRunID == "" {
		r.WorkflowRunID = s.RunID()
	}
	rec := s.run.Recovery()
	r.Resumed = s.Resumed()
	if rec.Reattached {
		sawText = rec.SawText
	}
	// The answer is not in the events: a reattach to an ended run, or a
	// resume whose text has a gap the stored message could not fill.
	// When text was seen, outputs.answer replaces it only if it holds more
	// (it may differ from the message's text in spacing).
	if a, ok := r.Outputs["answer"].(string); ok && a != "" && err == nil &&
		(!sawText || rec.TextGap && len(strings.TrimSpace(a)) > len(strings.TrimSpace(r.Answer))) {
		r.Answer, r.AnswerFromOutputs = a, true
	}
	r.Timing = s.Timing()
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
		r.addMessageEnd(m)
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
		r.addWorkflowPaused(w)
	case EventHumanInputRequired:
		h, err := ev.HumanInputRequired()
		if err != nil {
			return err
		}
		if h.Data != nil {
			r.HumanInput = h.Data
			r.FormToken = h.Data.FormToken
			r.addForm(PendingForm{Token: h.Data.FormToken, FormID: h.Data.FormID, NodeID: h.Data.NodeID,
				NodeTitle: h.Data.NodeTitle, Content: h.Data.FormContent, ExpiresAt: unixTime(h.Data.ExpirationTime), Data: h.Data})
		}
	}
	r.missingIDs(ev.data)
	return nil
}

// missingIDs takes the ids that the typed payloads may not carry from the
// top level of data, in one pass, for those r does not have yet.
func (r *Reply) missingIDs(data string) {
	var keysBuf [3]string
	var dstBuf [3]*string
	keys, dst := keysBuf[:0], dstBuf[:0]
	for _, f := range [...]struct {
		key string
		dst *string
	}{{"conversation_id", &r.ConversationID}, {"message_id", &r.MessageID}, {"workflow_run_id", &r.WorkflowRunID}} {
		if *f.dst == "" {
			keys, dst = append(keys, f.key), append(dst, f.dst)
		}
	}
	if len(keys) == 0 {
		return
	}
	var outBuf [3]string
	out := outBuf[:len(keys)]
	jsonscan.TopLevelStrings(data, keys, out)
	for i, p := range dst {
		*p = out[i]
	}
}

// addMessageEnd folds message_end into r.
func (r *Reply) addMessageEnd(m MessageEndEvent) {
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
}

// addWorkflowPaused folds workflow_paused into r: the run's outputs so far
// and the forms it lists that no human_input_required brought.
func (r *Reply) addWorkflowPaused(w WorkflowPausedEvent) {
	r.Paused = true
	r.WorkflowStatus = "paused"
	if w.Data == nil {
		return
	}
	if w.Data.WorkflowRunID != "" && r.WorkflowRunID == "" {
		r.WorkflowRunID = w.Data.WorkflowRunID
	}
	if w.Data.Outputs != nil {
		r.Outputs = w.Data.Outputs
	}
	for _, f := range w.Data.HumanInputForms {
		if !r.hasForm(f.FormToken) {
			r.addForm(PendingForm{Token: f.FormToken, FormID: f.FormID, NodeID: f.NodeID, NodeTitle: f.NodeTitle,
				Content: f.FormContent, ExpiresAt: unixTime(f.ExpirationTime)})
		}
	}
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

// addForm adds f to Forms; a form of the same token replaces the earlier
// one (a resumed stream's snapshot may repeat it).
func (r *Reply) addForm(f PendingForm) {
	for i := range r.Forms {
		if f.Token != "" && r.Forms[i].Token == f.Token {
			r.Forms[i] = f
			return
		}
	}
	r.Forms = append(r.Forms, f)
}

func (r *Reply) hasForm(token string) bool {
	for _, f := range r.Forms {
		if f.Token == token {
			return true
		}
	}
	return false
}

// unixTime converts unix seconds (0: unknown) to a time.
func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// ReasonResumed ("resumed") is the reason of the message_replace event
// that a resumed stream yields to carry the answer the server stored, when
// the text yielded before was not the whole answer.
const ReasonResumed = stream.ReasonResumed
