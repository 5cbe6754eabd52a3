package chatflowtest

// operation is everything the fake knows about one operation of the API
// description beyond the description itself: how it is served and which of
// the real server's rules apply to it.
type operation struct {
	// serve answers a request that passed every check.
	serve func(*Server, *call)
	// precheck holds the server's own checks, made before validation
	// against the description because the server answers them with codes
	// of its own; it answers and returns false when the request fails.
	precheck func(*Server, *call) bool
	// uuidParams are the path parameters Dify routes through its UUID
	// converter: anything else there is a route-level 404.
	uuidParams []string
	// userRequired: a request without user is 400 invalid_param "Arg user
	// must be provided.".
	userRequired bool
	// lenientQuery are query parameters the server reads leniently (a flag
	// is true only for the literal "true", in any case; anything else is
	// false, never an error), so they are left out of validation.
	lenientQuery []string
	// decorated: later Dify source validates the query or body with a
	// decorator, so with WithValidationStatus(422) a failed validation is
	// 422 unprocessable_entity with a JSON array of field errors.
	decorated bool
}

// operations is the one table of per-operation facts, keyed by operationId.
var operations = map[string]operation{
	"sendChatMessage":           {serve: (*Server).sendChatMessage, userRequired: true},
	"stopChatMessageGeneration": {serve: (*Server).stopChatMessageGeneration, userRequired: true},
	"getSuggestedQuestions":     {serve: (*Server).getSuggestedQuestions, uuidParams: []string{"message_id"}, userRequired: true},
	"uploadChatFile":            {serve: (*Server).uploadChatFile, precheck: (*Server).checkUpload},
	"previewChatFile":           {serve: (*Server).previewChatFile, uuidParams: []string{"file_id"}},
	"getEndUserChat":            {serve: (*Server).getEndUser, uuidParams: []string{"end_user_id"}},
	"postChatMessageFeedback":   {serve: (*Server).postFeedback, uuidParams: []string{"message_id"}, userRequired: true, decorated: true},
	"getChatAppFeedbacks":       {serve: (*Server).getAppFeedbacks, decorated: true},
	"getConversationsList":      {serve: (*Server).getConversationsList},
	"getConversationHistory":    {serve: (*Server).getConversationHistory, decorated: true},
	"getConversationVariables":  {serve: (*Server).getConversationVariables, uuidParams: []string{"conversation_id"}},
	"renameConversation":        {serve: (*Server).renameConversation, uuidParams: []string{"conversation_id"}},
	"updateChatConversationVariable": {serve: (*Server).updateChatConversationVariable,
		uuidParams: []string{"conversation_id", "variable_id"}},
	"deleteConversation":             {serve: (*Server).deleteConversation, uuidParams: []string{"conversation_id"}},
	"audioToText":                    {serve: (*Server).audioToText, precheck: (*Server).checkAudio},
	"textToAudioChat":                {serve: (*Server).textToAudio},
	"getChatAppInfo":                 {serve: (*Server).getInfo},
	"getChatAppParameters":           {serve: (*Server).getParameters},
	"getChatAppMeta":                 {serve: (*Server).getMeta},
	"getChatWebAppSettings":          {serve: (*Server).getSite},
	"createAnnotation":               {serve: (*Server).createAnnotation, decorated: true},
	"getAnnotationList":              {serve: (*Server).getAnnotationList, decorated: true},
	"updateAnnotation":               {serve: (*Server).updateAnnotation, uuidParams: []string{"annotation_id"}, decorated: true},
	"deleteAnnotation":               {serve: (*Server).deleteAnnotation, uuidParams: []string{"annotation_id"}, decorated: true},
	"initialAnnotationReplySettings": {serve: (*Server).annotationReply, decorated: true},
	"getInitialAnnotationReplySettingsStatus": {serve: (*Server).annotationReplyStatus,
		uuidParams: []string{"job_id"}, decorated: true},
	"getWorkflowRunDetail":         {serve: (*Server).getWorkflowRun},
	"getWorkflowLogs":              {serve: (*Server).getWorkflowLogs, precheck: (*Server).checkWorkflowLogs},
	"getChatflowHumanInputForm":    {serve: (*Server).getHumanInputForm},
	"submitChatflowHumanInputForm": {serve: (*Server).submitHumanInputForm},
	"streamWorkflowEvents": {serve: (*Server).streamWorkflowEvents, userRequired: true,
		lenientQuery: []string{"include_state_snapshot", "continue_on_pause"}},
}
