package transport

import (
	"runtime/debug"
)

// testKey is an API key of the usual shape.
const testKey = "app-test-secret-key-123"

// testRoutes are operations of a chatflow app, for the path check.
var testRoutes = []string{
	"DELETE /conversations/{conversation_id}",
	"GET /conversations",
	"GET /conversations/{conversation_id}/variables",
	"GET /info",
	"GET /parameters",
	"POST /chat-messages",
	"POST /chat-messages/{task_id}/stop",
	"PUT /conversations/{conversation_id}/variables/{variable_id}",
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}
