package chatflow

import "github.com/difykit/chatflow/gen"

// Aliases of generated types, so that the common tasks need only this
// package. Each is the same type as its gen counterpart.
type (
	// ChatRequest is the body of a chat message: query, inputs, user,
	// conversation id, files and more.
	ChatRequest = gen.ChatRequest
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
