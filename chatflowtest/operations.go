package chatflowtest

import (
	"net/http"
	"net/url"
	"strings"
)

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
	// userRequired: a request without user is 400 invalid_param "Arg user
	// must be provided.".
	userRequired bool
	// lenientQuery are query parameters the server reads leniently (a flag
	// is true only for the literal "true", in any case; anything else is
	// false, never an error), so they are left out of validation.
	lenientQuery []string
	// modes are the app modes that serve the operation (zero: every mode);
	// the others refuse it (see refuseMode).
	modes modeSet
	// method and path route an operation that the chatflow description
	// lacks (the other app types' operations); its body is checked by
	// precheck only.
	method, path string
	// decorated: later Dify source validates the query or body with a
	// decorator, so with WithValidationStatus(422) a failed validation is
	// 422 unprocessable_entity with a JSON array of field errors.
	decorated bool
}

// operations is the one table of per-operation facts, keyed by operationId.
var operations = map[string]operation{
	"sendChatMessage":                         {modes: chatApps, serve: (*Server).sendChatMessage, userRequired: true},
	"stopChatMessageGeneration":               {modes: chatApps, serve: (*Server).stopChatMessageGeneration, userRequired: true},
	"getSuggestedQuestions":                   {modes: chatApps, serve: (*Server).getSuggestedQuestions, userRequired: true},
	"uploadChatFile":                          {serve: (*Server).uploadChatFile, precheck: (*Server).checkUpload},
	"previewChatFile":                         {serve: (*Server).previewChatFile},
	"getEndUserChat":                          {serve: (*Server).getEndUser},
	"postChatMessageFeedback":                 {serve: (*Server).postFeedback, userRequired: true, decorated: true},
	"getChatAppFeedbacks":                     {serve: (*Server).getAppFeedbacks, decorated: true},
	"getConversationsList":                    {modes: chatApps, serve: (*Server).getConversationsList},
	"getConversationHistory":                  {modes: chatApps, serve: (*Server).getConversationHistory, decorated: true},
	"getConversationVariables":                {modes: chatApps, serve: (*Server).getConversationVariables},
	"renameConversation":                      {modes: chatApps, serve: (*Server).renameConversation},
	"updateChatConversationVariable":          {modes: chatApps, serve: (*Server).updateChatConversationVariable},
	"deleteConversation":                      {modes: chatApps, serve: (*Server).deleteConversation},
	"audioToText":                             {serve: (*Server).audioToText, precheck: (*Server).checkAudio},
	"textToAudioChat":                         {serve: (*Server).textToAudio},
	"getChatAppInfo":                          {serve: (*Server).getInfo},
	"getChatAppParameters":                    {serve: (*Server).getParameters},
	"getChatAppMeta":                          {serve: (*Server).getMeta},
	"getChatWebAppSettings":                   {serve: (*Server).getSite},
	"createAnnotation":                        {serve: (*Server).createAnnotation, decorated: true},
	"getAnnotationList":                       {serve: (*Server).getAnnotationList, decorated: true},
	"updateAnnotation":                        {serve: (*Server).updateAnnotation, decorated: true},
	"deleteAnnotation":                        {serve: (*Server).deleteAnnotation, decorated: true},
	"initialAnnotationReplySettings":          {serve: (*Server).annotationReply, decorated: true},
	"getInitialAnnotationReplySettingsStatus": {serve: (*Server).annotationReplyStatus, decorated: true},
	"getWorkflowRunDetail":                    {modes: workflowApps, serve: (*Server).getWorkflowRun},
	"getWorkflowLogs":                         {serve: (*Server).getWorkflowLogs, precheck: (*Server).checkWorkflowLogs},
	"getChatflowHumanInputForm":               {serve: (*Server).getHumanInputForm},
	"submitChatflowHumanInputForm":            {serve: (*Server).submitHumanInputForm},
	"streamWorkflowEvents": {modes: workflowApps, serve: (*Server).streamWorkflowEvents, userRequired: true,
		lenientQuery: []string{"include_state_snapshot", "continue_on_pause"}},

	// Operations of the other app types, which the chatflow description
	// lacks.
	"executeWorkflow": {serve: (*Server).runWorkflow, precheck: (*Server).checkRunBody, modes: inWorkflow,
		method: http.MethodPost, path: "/workflows/run", userRequired: true},
	"runWorkflowById": {serve: (*Server).runWorkflow, precheck: (*Server).checkRunBody, modes: inWorkflow,
		method: http.MethodPost, path: "/workflows/{workflow_id}/run", userRequired: true},
	"stopWorkflowTaskGeneration": {serve: (*Server).stopWorkflowTask, modes: inWorkflow, method: http.MethodPost, path: "/workflows/tasks/{task_id}/stop", userRequired: true},
	"createCompletionMessage": {serve: (*Server).sendCompletionMessage, precheck: (*Server).checkRunBody,
		modes: inCompletion, method: http.MethodPost, path: "/completion-messages", userRequired: true},
	"stopGenerate": {serve: (*Server).stopChatMessageGeneration, modes: inCompletion, method: http.MethodPost, path: "/completion-messages/{task_id}/stop", userRequired: true},
}

// findExtra finds the operation outside the description that serves method
// and path, with its path parameters.
func findExtra(method, path string) (string, map[string]string, bool) {
	segs := strings.Split(path, "/")
	for id, op := range operations {
		if op.path == "" || op.method != method {
			continue
		}
		want := strings.Split(op.path, "/")
		if len(want) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, w := range want {
			if strings.HasPrefix(w, "{") {
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[w[1:len(w)-1]] = v
			} else if w != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return id, params, true
		}
	}
	return "", nil, false
}
