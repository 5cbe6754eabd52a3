package chatflowtest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The app modes a Server can play, named as Dify names them (GET /info
// reports the mode).
const (
	ModeAdvancedChat = "advanced-chat" // a chatflow app (the default)
	ModeWorkflow     = "workflow"      // a workflow app
	ModeCompletion   = "completion"    // a text generator app
	ModeChat         = "chat"          // a basic chatbot app
	ModeAgentChat    = "agent-chat"    // an agent app
)

// Modes returns the app modes WithMode accepts, the default first.
func Modes() []string {
	return []string{ModeAdvancedChat, ModeWorkflow, ModeCompletion, ModeChat, ModeAgentChat}
}

// WithMode makes the server play an app of mode m, one of Modes (default
// ModeAdvancedChat). GET /info reports the mode, and operations that belong
// to other app types are refused as Dify refuses them: the chat operations
// (chat messages and their stop, conversations, messages, variables,
// suggested questions) with 400 not_chat_app outside chat, agent-chat and
// advanced-chat apps; the workflow runs and their stop with 400
// not_workflow_app outside workflow apps; run details and reattaching with
// 400 not_workflow_app outside workflow and advanced-chat apps; completion
// messages and their stop with 400 app_unavailable outside completion apps.
//
// A workflow app runs POST /workflows/run and /workflows/{workflow_id}/run:
// workflow_started, node events, text_chunk events carrying the answer,
// workflow_finished with outputs {"text": answer}; its events name no
// conversation or message. Its answer is WithAnswer's answer to the
// string input "query", or to the JSON text of the inputs when there is
// none. PauseNextRun, stops (POST /workflows/tasks/{task_id}/stop, which
// current Dify applies whichever user asks), reattaching and the faults
// work as for chatflow runs. A completion app
// streams message events and message_end from POST /completion-messages
// (answering "query" in the body, or else its "query" input); a chat app
// answers /chat-messages with message events and message_end, an
// agent-chat app with agent_thought, agent_message events and message_end
// (and refuses blocking requests, as Dify does). Apps without a workflow
// log no workflow runs. Runs of workflow and completion apps are kept like
// conversations, within the same Limits.
//
// NewServer and NewUnstartedServer panic on an unknown mode;
// ListenAndServe returns an error.
func WithMode(m string) Option { return func(c *config) { c.mode = m } }

// checkMode reports an unknown mode.
func checkMode(m string) error {
	if !slices.Contains(Modes(), m) {
		return fmt.Errorf("chatflowtest: unknown app mode %q (want one of %s)", m, strings.Join(Modes(), ", "))
	}
	return nil
}

// modeSet is a set of app modes; the zero set stands for every mode.
type modeSet uint8

const (
	inAdvancedChat modeSet = 1 << iota
	inWorkflow
	inCompletion
	inChat
	inAgentChat

	chatApps     = inAdvancedChat | inChat | inAgentChat
	workflowApps = inAdvancedChat | inWorkflow
)

// modeBit is the member of modeSet that stands for mode m.
func modeBit(m string) modeSet {
	switch m {
	case ModeWorkflow:
		return inWorkflow
	case ModeCompletion:
		return inCompletion
	case ModeChat:
		return inChat
	case ModeAgentChat:
		return inAgentChat
	}
	return inAdvancedChat
}

// refuseMode answers a request for an operation the server's app mode does
// not serve, as Dify does, and reports whether it did.
func (s *Server) refuseMode(c *call, op operation) bool {
	if op.modes == 0 || op.modes&modeBit(s.cfg.mode) != 0 {
		return false
	}
	switch op.modes {
	case inCompletion:
		writeError(c.w, http.StatusBadRequest, "app_unavailable", "The app cannot serve this route in its mode.")
	case inWorkflow, workflowApps:
		writeError(c.w, http.StatusBadRequest, "not_workflow_app", "This route is for workflow apps; check that the app's mode matches it.")
	default:
		writeError(c.w, http.StatusBadRequest, "not_chat_app", "This route is for chat apps; check that the app's mode matches it.")
	}
	return true
}

// chatMode reports whether the server plays an app whose runs belong to
// conversations.
func (s *Server) chatMode() bool { return modeBit(s.cfg.mode)&chatApps != 0 }
