package chatflow_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

// Test code that uses the client against the fake Dify server, offline.
func Example_fakeServer() {
	srv := chatflowtest.NewServer()
	defer srv.Close()

	c, err := chatflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	reply, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: "Hello", User: "u1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(reply.Answer)
	fmt.Println(reply.WorkflowStatus)

	if err := c.DeleteConversation(ctx, reply.ConversationID, "u1"); err != nil {
		panic(err)
	}
	n := 0
	for _, err := range c.Conversations(ctx, "u1") {
		if err != nil {
			panic(err)
		}
		n++
	}
	fmt.Println(n, "conversations left")
	// Output:
	// You said: Hello
	// succeeded
	// 0 conversations left
}

// Delete a conversation and tell "not found" from other failures.
func ExampleClient_DeleteConversation() {
	srv := chatflowtest.NewServer()
	defer srv.Close()
	c, err := chatflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	err = c.DeleteConversation(context.Background(), "4b9a6d52-0c1e-4d7b-9e53-3f2a8c1d0e77", "u1")
	var apiErr *chatflow.APIError
	switch {
	case err == nil:
		fmt.Println("deleted")
	case errors.Is(err, chatflow.ErrNotFound):
		errors.As(err, &apiErr)
		fmt.Println("not found:", apiErr.Code, apiErr.Message)
	default:
		fmt.Println("failed:", err)
	}
	// Output:
	// not found: not_found Conversation Not Exists.
}
