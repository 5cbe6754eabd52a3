package chatflow_test

import (
	"context"
	"fmt"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

// Agent and basic chat apps use chatflow.Client too: SendMessage gathers
// their answer (agent_message or message events) without any workflow
// event. The fake Dify server plays an agent app here.
func Example_agentApp() {
	srv := chatflowtest.NewServer(chatflowtest.WithMode(chatflowtest.ModeAgentChat))
	defer srv.Close()

	c, err := chatflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	r, err := c.SendMessage(context.Background(), chatflow.ChatRequest{Query: "hello", User: "user-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Answer, r.WorkflowRunID == "")
	// Output: You said: hello true
}
