package chatflow

import "github.com/difykit/chatflow/gen"

// ChatRequest is a chat message to send with SendMessage or StreamMessage
// (the same type as gen.ChatRequest). The fields a caller sets:
//
//   - Query string: the end user's message (required).
//   - User string: your id for the end user (required); conversations,
//     messages and files belong to the user that created them.
//   - ConversationID string: the conversation to continue; empty starts a
//     new one (Reply.ConversationID names it).
//   - Inputs map[string]any: the app's input variables by name; nil is sent
//     as {}; the server reads them on a conversation's first turn only.
//   - Files []InputFile: files attached to the message, uploaded
//     (UploadFile, then TransferMethodLocalFile and UploadFileID) or by URL.
//   - AutoGenerateName *bool: whether the server names a new conversation
//     itself (nil: yes).
//   - WorkflowID string: run this published workflow version instead of the
//     latest.
//   - ResponseMode gen.ChatRequestResponseMode: leave it empty;
//     SendMessage and StreamMessage always stream (it matters only for
//     calls through API()).
type ChatRequest = gen.ChatRequest

// Aliases of generated types, so that the common tasks need only this
// package. Each is the same type as its gen counterpart.
type (
	// InputFile is a file attached to a chat message (uploaded or by URL).
	InputFile = gen.InputFile
	// Conversation is one conversation in a list of conversations.
	Conversation = gen.ConversationListItem
	// Message is one message (a query and its answer) of a conversation.
	Message = gen.ConversationMessageItem
	// FileUpload describes a file uploaded with UploadFile.
	FileUpload = gen.FileUploadResponse
	// EventName is the name of a server-sent event, such as "message".
	EventName = gen.EventName
	// Usage is the token and price account of a run.
	Usage = gen.Usage
	// RetrieverResource is a knowledge-base passage cited by an answer.
	RetrieverResource = gen.RetrieverResource
)

// Descriptions of the app behind the API key.
type (
	// AppInfo is the app's name, description, tags, mode and author.
	AppInfo = gen.AppInfoResponse
	// AppParameters are the app's input form, opening statement, suggested
	// questions, feature switches and upload limits.
	AppParameters = gen.AppParametersResponse
	// AppMeta holds the icons of the tools the app uses.
	AppMeta = gen.AppMetaResponse
	// AppSite is the app's web-app settings: title, icon, colours, texts.
	AppSite = gen.WebAppSettingsResponse
)

// Workflow runs, their log, the app's end users and feedback.
type (
	// WorkflowRun is the state and result of one workflow run.
	WorkflowRun = gen.WorkflowRunDetailResponse
	// WorkflowLog is one entry of the app's workflow run log.
	WorkflowLog = gen.WorkflowLogItem
	// EndUser is an end user of the app, as the server knows them.
	EndUser = gen.EndUserDetail
	// AppFeedback is one rating given to a message of the app.
	AppFeedback = gen.FeedbackItem
)

// WorkflowLogStatus selects the runs of WorkflowLogs by their status.
type WorkflowLogStatus = gen.GetWorkflowLogsParamsStatus

// The statuses the server accepts as a WorkflowLogs filter (runs can have
// other statuses, but the server rejects any other filter value).
const (
	WorkflowLogStatusSucceeded WorkflowLogStatus = gen.GetWorkflowLogsParamsStatusSucceeded
	WorkflowLogStatusFailed    WorkflowLogStatus = gen.GetWorkflowLogsParamsStatusFailed
	WorkflowLogStatusStopped   WorkflowLogStatus = gen.GetWorkflowLogsParamsStatusStopped
)

// ConversationVariable is a variable of a conversation: ID, Name,
// Description, ValueType, CreatedAt, UpdatedAt and Value. Value is the
// server's rendering of the current value, a string or nil: Python's str()
// of what is stored (42 is "42", true is "True", an object is a Python dict
// literal). VariableValue decodes it by ValueType.
type ConversationVariable = gen.ConversationVariableItem

// TextToAudioRequest asks TextToAudio for speech (the same type as
// gen.TextToAudioRequest). The fields a caller sets:
//
//   - Text string: the text to speak, when MessageID is empty.
//   - MessageID string: speak this message's answer instead; it takes
//     precedence over Text.
//   - User string: your id for the end user making the request.
//   - Voice string: the voice; the choices depend on the app's
//     text-to-speech provider (empty: the app's default).
//   - Streaming bool: accepted for compatibility; it has no effect.
type TextToAudioRequest = gen.TextToAudioRequest

// Annotation is a curated question and answer that the app can reply with
// instead of running the workflow (annotation reply).
type Annotation = gen.AnnotationItem

// AnnotationReplySettings is what EnableAnnotationReply and
// DisableAnnotationReply send (the same type as
// gen.InitialAnnotationReplySettingsRequest). The fields a caller sets, all
// required by the server, when turning annotation reply off too:
//
//   - EmbeddingProviderName string: the provider of the embedding model,
//     for example "openai".
//   - EmbeddingModelName string: the embedding model that matches questions
//     against annotations, for example "text-embedding-3-small".
//   - ScoreThreshold float32: the lowest similarity (0 to 1) at which an
//     annotation answers instead of the workflow; higher is stricter.
type AnnotationReplySettings = gen.InitialAnnotationReplySettingsRequest

// AnnotationReplyJob is the background job that turns annotation reply on
// or off, and its status ("waiting", "processing", "completed", "error").
type AnnotationReplyJob = gen.InitialAnnotationReplySettingsStatusResponse

// AnnotationReplyAction is what an annotation reply job does.
type AnnotationReplyAction = gen.InitialAnnotationReplySettingsParamsAction

// Actions of an annotation reply job.
const (
	AnnotationReplyEnable  AnnotationReplyAction = gen.InitialAnnotationReplySettingsParamsActionEnable
	AnnotationReplyDisable AnnotationReplyAction = gen.InitialAnnotationReplySettingsParamsActionDisable
)

// HumanInputForm is a form that a paused run waits for a person to fill
// in (see the human_input_required event): its text, fields and buttons.
type HumanInputForm = gen.HumanInputForm

// HumanInputField is one field of a HumanInputForm.
type HumanInputField = gen.HumanInputFormField

// Rating is the feedback given to an answer.
type Rating = gen.MessageFeedbackRequestRating

// Ratings of SendFeedback. RatingNone (sent as null) revokes the feedback
// given before.
const (
	RatingLike    Rating = gen.MessageFeedbackRequestRatingLike
	RatingDislike Rating = gen.MessageFeedbackRequestRatingDislike
	RatingNone    Rating = ""
)

// SortBy is the order of Conversations.
type SortBy = gen.GetConversationsListParamsSortBy

// Orders of Conversations.
const (
	SortByCreatedAt     SortBy = gen.GetConversationsListParamsSortByCreatedAt      // oldest first
	SortByCreatedAtDesc SortBy = gen.GetConversationsListParamsSortByMinusCreatedAt // newest first
	SortByUpdatedAt     SortBy = gen.GetConversationsListParamsSortByUpdatedAt      // least recently updated first
	SortByUpdatedAtDesc SortBy = gen.GetConversationsListParamsSortByMinusUpdatedAt // most recently updated first (the server's default)
)

// Aliases for the parts of a chat request and of the options that users
// name in their own code. The payload types of stream events (MessageEvent,
// NodeStartedEvent, ...) and of their parts (NodeStartedEventData, ...)
// are aliases too, generated with the event plumbing in events_gen.go.
type (
	// FileType is the kind of a file attached to a chat message (the Type
	// of an InputFile): FileTypeImage, FileTypeDocument, FileTypeAudio,
	// FileTypeVideo or FileTypeCustom.
	FileType = gen.FileType
	// TransferMethod is how an attached file reaches the server (the
	// TransferMethod of an InputFile): by the id of an upload, or by URL.
	TransferMethod = gen.TransferMethod
	// ResponseMode is the ResponseMode of a ChatRequest sent with the
	// generated client (SendMessage and StreamMessage set it themselves).
	ResponseMode = gen.ChatRequestResponseMode
	// RequestEditorFn changes each request before it is sent; see
	// WithRequestEditor.
	RequestEditorFn = gen.RequestEditorFn
	// ChatCompletion is the reply of a chat message sent in blocking mode
	// with the generated client: the answer, or, when Event is
	// EventWorkflowPaused, the pause (Data, WorkflowRunID).
	ChatCompletion = gen.ChatCompletionResponse
	// PausedHumanInputForm is a form that a paused run waits for, as some
	// servers list it in the pause data.
	PausedHumanInputForm = gen.PausedHumanInputForm
)

// The kinds of attached files.
const (
	// FileTypeImage is a picture (jpg, png, gif, webp, svg).
	FileTypeImage FileType = gen.FileTypeImage
	// FileTypeDocument is a text or office document, such as pdf or docx.
	FileTypeDocument FileType = gen.FileTypeDocument
	// FileTypeAudio is a sound file, such as mp3 or wav.
	FileTypeAudio FileType = gen.FileTypeAudio
	// FileTypeVideo is a video file, such as mp4 or mov.
	FileTypeVideo FileType = gen.FileTypeVideo
	// FileTypeCustom is any other kind of file.
	FileTypeCustom FileType = gen.FileTypeCustom
)

// The ways to pass an attached file.
const (
	// TransferMethodLocalFile passes the UploadFileID of a file uploaded
	// with UploadFile.
	TransferMethodLocalFile TransferMethod = gen.TransferMethodLocalFile
	// TransferMethodRemoteURL passes the URL of a file the server fetches.
	TransferMethodRemoteURL TransferMethod = gen.TransferMethodRemoteURL
)

// The response modes of a chat request.
const (
	// ResponseModeBlocking asks for one JSON reply when the run ends.
	ResponseModeBlocking ResponseMode = gen.ChatRequestResponseModeBlocking
	// ResponseModeStreaming asks for a stream of server-sent events.
	ResponseModeStreaming ResponseMode = gen.ChatRequestResponseModeStreaming
)
