package chatflow_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
)

// The examples run against chatflowtest, the fake Dify server, so that
// they run offline. exampleClient starts one and returns a client for it;
// against a real app, make the client with your app's key and base URL:
//
//	c, err := chatflow.NewClient(os.Getenv("DIFY_API_KEY"),
//		chatflow.WithBaseURL("https://dify.example.com/v1"))
func exampleClient() (*chatflow.Client, *chatflowtest.Server) {
	srv := chatflowtest.NewServer()
	c, err := chatflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
	if err != nil {
		log.Fatal(err)
	}
	return c, srv
}

// Delete a conversation and tell "not found" (no such conversation for
// this user) from other failures.
func ExampleClient_DeleteConversation() {
	c, srv := exampleClient()
	defer srv.Close()
	ctx := context.Background()

	err := c.DeleteConversation(ctx, "4b9a6d52-0c1e-4d7b-9e53-3f2a8c1d0e77", "user-42")
	var apiErr *chatflow.APIError
	switch {
	case err == nil:
		fmt.Println("deleted")
	case errors.Is(err, chatflow.ErrNotFound):
		fmt.Println("no such conversation for this user")
	case errors.As(err, &apiErr):
		fmt.Println("Dify said:", apiErr.StatusCode, apiErr.Code, apiErr.Message)
	default:
		log.Fatal(err) // a transport error: DNS, refused connection, cancelled context …
	}
	// Output:
	// no such conversation for this user
}

// The README's streaming chat, verbatim: node titles as the workflow runs,
// the answer as it is written. It makes its own fake server; against your
// app, make the client as in the README's quick start.
func ExampleClient_StreamMessage() {
	srv := chatflowtest.NewServer() // a fake Dify app, offline
	defer srv.Close()
	c, err := chatflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	stream, err := c.StreamMessage(ctx, chatflow.ChatRequest{Query: "Hi", User: "user-42"})
	if err != nil {
		log.Fatal(err) // *APIError before the stream starts; ErrNotEventStream for a proxy page
	}
	defer stream.Close()
	midLine := false // the answer left the cursor in the middle of a line
	for ev, err := range stream.Events() {
		if err != nil {
			log.Fatal(err) // at most one error: an error event (*APIError), ErrIncompleteStream, ...
		}
		switch ev.Name() {
		case chatflow.EventNodeStarted:
			n, _ := ev.NodeStarted() // the generated payload type; Data is never nil
			if midLine {
				fmt.Println()
				midLine = false
			}
			fmt.Printf("[%s]\n", n.Data.Title)
		case chatflow.EventMessage:
			fmt.Print(ev.Text()) // a piece of the answer
			midLine = true
		case chatflow.EventWorkflowFinished:
			w, _ := ev.WorkflowFinished()
			fmt.Printf("(%s)\n", w.Data.Status)
		}
	}
	// Output:
	// [Start]
	// [LLM]
	// You said: Hi
	// [Answer]
	// (succeeded)
}

// SendMessage streams under the hood and returns the whole reply; the
// conversation id continues the conversation.
func ExampleClient_SendMessage() {
	c, srv := exampleClient()
	defer srv.Close()
	ctx := context.Background()

	reply, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: "Hello", User: "user-42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.Answer, "/", reply.WorkflowStatus)

	next, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: "And again", User: "user-42", ConversationID: reply.ConversationID})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(next.Answer, "/ same conversation:", next.ConversationID == reply.ConversationID)
	// Output:
	// You said: Hello / succeeded
	// You said: And again / same conversation: true
}

// The README's lists: pages are fetched as the loop needs them.
func ExampleClient_Conversations() {
	c, srv := exampleClient()
	defer srv.Close()
	ctx := context.Background()
	for _, q := range []string{"Trip to Rome", "Recipes", "Hello"} {
		if _, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: q, User: "user-42"}); err != nil {
			log.Fatal(err)
		}
	}

	n := 0
	for conv, err := range c.Conversations(ctx, "user-42", chatflow.WithPageSize(2)) {
		if err != nil {
			log.Fatal(err)
		}
		n++
		fmt.Println(conv.Status)
	}
	fmt.Println(n, "conversations")
	// Output:
	// normal
	// normal
	// normal
	// 3 conversations
}

// The README's upload: any io.Reader is streamed, never held in memory; the
// upload is then sent with a chat message.
func ExampleClient_UploadFile() {
	c, srv := exampleClient()
	defer srv.Close()
	ctx := context.Background()

	up, err := c.UploadFile(ctx, "user-42", "notes.md", strings.NewReader("# Meeting notes\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(up.Name, up.Size, up.Extension)

	reply, err := c.SendMessage(ctx, chatflow.ChatRequest{
		Query: "Summarise", User: "user-42",
		Files: []chatflow.InputFile{{TransferMethod: chatflow.TransferMethodLocalFile, Type: chatflow.FileTypeDocument, UploadFileID: up.ID}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.Answer)
	// Output:
	// notes.md 16 md
	// You said: Summarise
}

// The README's test of your own code against the fake server.
func Example_fakeServer() {
	c, srv := exampleClient()
	defer srv.Close()
	reply, err := c.SendMessage(context.Background(), chatflow.ChatRequest{Query: "Hello", User: "u1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.Answer == "You said: Hello")

	// What the server received, for assertions.
	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Path, r.User)
	}
	// Output:
	// true
	// POST /chat-messages u1
}

// A single page of a list, or any other operation as generated: c.API()
// sends with the same auth, retries and limits, and a non-2xx reply is an
// error.
func ExampleClient_API() {
	c, srv := exampleClient()
	defer srv.Close()
	resp, err := c.API().GetChatAppInfoWithResponse(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode(), resp.JSON200.Mode)
	// Output:
	// 200 advanced-chat
}

// Dify sends a conversation variable's value as Python's str() of what is
// stored; VariableValue decodes it by the variable's value_type. In a
// program the variable comes from c.ConversationVariables or
// c.UpdateConversationVariable.
func ExampleVariableValue() {
	value := "{'lang': 'en', 'tags': ['a', 'b'], 'beta': True, 'quota': 2.5}"
	v := chatflow.ConversationVariable{ID: "9d2e…", Name: "prefs", ValueType: "object", Value: &value}

	x, err := chatflow.VariableValue(v)
	if err != nil {
		fmt.Println(err)
		return
	}
	prefs := x.(map[string]any) // an object; numbers are float64
	fmt.Println(prefs["lang"], prefs["tags"], prefs["beta"], prefs["quota"])

	bad := "{'lang': 'en'"
	v.Value = &bad
	_, err = chatflow.VariableValue(v)
	fmt.Println(err)
	// Output:
	// en [a b] true 2.5
	// chatflow: conversation variable "prefs" (id 9d2e…): value of type "object": malformed value at byte 13: unterminated object
}

// A wrong base URL (here without its /v1) is not "not found": the server
// does not serve the path at all, and the error says to check the base URL.
func ExampleErrEndpointNotFound() {
	srv := chatflowtest.NewServer()
	defer srv.Close()
	c, err := chatflow.NewClient(srv.APIKey, chatflow.WithBaseURL(strings.TrimSuffix(srv.URL, "/v1")))
	if err != nil {
		log.Fatal(err)
	}

	_, err = c.SendMessage(context.Background(), chatflow.ChatRequest{Query: "Hello", User: "user-42"})
	switch {
	case errors.Is(err, chatflow.ErrEndpointNotFound):
		fmt.Println("no Service API at this URL; the error says:", strings.Contains(err.Error(), "check the base URL, which usually ends in /v1"))
	case errors.Is(err, chatflow.ErrNotFound):
		fmt.Println("no such conversation for this user")
	default:
		fmt.Println(err)
	}
	// Output:
	// no Service API at this URL; the error says: true
}

// A run that pauses at a Human Input node: SendMessage returns the pending
// form; submit it, then follow the resumed run to its end. The resumed
// run's answer is reconciled with the one the server stored, so no text
// is lost however soon the run goes on after the submit.
func ExampleClient_SubmitHumanInputForm() {
	c, srv := exampleClient()
	defer srv.Close()
	srv.PauseNextRun() // the fake's next run stops at a human input form
	ctx := context.Background()

	r, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: "Cancel order 1042", User: "user-42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("paused:", r.Paused, "forms:", len(r.Forms))

	form := r.Forms[0]
	full, err := c.HumanInputForm(ctx, form.Token) // the fields and buttons
	if err != nil {
		log.Fatal(err)
	}
	action := full.UserActions[0].ID
	if err := c.SubmitHumanInputForm(ctx, form.Token, "user-42", action, nil); err != nil {
		log.Fatal(err)
	}

	s, err := c.WorkflowEvents(ctx, r.WorkflowRunID, "user-42")
	if err != nil {
		log.Fatal(err)
	}
	final, err := s.Collect()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(final.WorkflowStatus+":", final.Answer)
	// Output:
	// paused: true forms: 1
	// succeeded: You said: Cancel order 1042
}
