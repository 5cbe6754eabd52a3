package chatflow_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/difykit/chatflow"
)

// fakeChatflow stands in for a Dify server: it streams a small chatflow
// run (a start node, an LLM node writing the answer, the end events).
func fakeChatflow() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`event: ping`,
			`data: {"event":"workflow_started","task_id":"t-1","workflow_run_id":"3c9a1f52-2b7e-4d0a-9f61-7e2d4b8c1a90","conversation_id":"c-1","message_id":"m-1","data":{"id":"3c9a1f52-2b7e-4d0a-9f61-7e2d4b8c1a90"}}`,
			`data: {"event":"node_started","task_id":"t-1","data":{"node_id":"1767340000001","node_type":"start","title":"Start"}}`,
			`data: {"event":"node_started","task_id":"t-1","data":{"node_id":"1767340000002","node_type":"llm","title":"Write the answer"}}`,
			`data: {"event":"message","task_id":"t-1","conversation_id":"c-1","message_id":"m-1","answer":"Hello"}`,
			`data: {"event":"message","task_id":"t-1","conversation_id":"c-1","message_id":"m-1","answer":", world!"}`,
			`data: {"event":"message_end","task_id":"t-1","conversation_id":"c-1","message_id":"m-1","id":"m-1","metadata":{"usage":{"total_tokens":12}}}`,
			`data: {"event":"workflow_finished","task_id":"t-1","workflow_run_id":"3c9a1f52-2b7e-4d0a-9f61-7e2d4b8c1a90","data":{"status":"succeeded"}}`,
		} {
			fmt.Fprintf(w, "%s\n\n", ev)
			w.(http.Flusher).Flush()
		}
	}))
}

// Streaming chat with typed events: node titles as the workflow runs, the
// answer as it is written.
func ExampleClient_StreamMessage() {
	srv := fakeChatflow()
	defer srv.Close()

	c, err := chatflow.NewClient("app-your-key", chatflow.WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		log.Fatal(err)
	}
	stream, err := c.StreamMessage(context.Background(), chatflow.ChatRequest{Query: "Say hello", User: "user-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()

	for ev, err := range stream.Events() {
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Name() {
		case chatflow.EventNodeStarted:
			n, err := ev.NodeStarted()
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("[%s]\n", n.Data.Title)
		case chatflow.EventMessage:
			m, err := ev.Message()
			if err != nil {
				log.Fatal(err)
			}
			fmt.Print(m.Answer)
		case chatflow.EventWorkflowFinished:
			w, err := ev.WorkflowFinished()
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("\n(workflow %s)\n", w.Data.Status)
		}
	}
	// Output:
	// [Start]
	// [Write the answer]
	// Hello, world!
	// (workflow succeeded)
}

// SendMessage streams under the hood and returns the whole reply.
func ExampleClient_SendMessage() {
	srv := fakeChatflow()
	defer srv.Close()

	c, err := chatflow.NewClient("app-your-key", chatflow.WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		log.Fatal(err)
	}
	reply, err := c.SendMessage(context.Background(), chatflow.ChatRequest{Query: "Say hello", User: "user-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.Answer)
	fmt.Println("conversation:", reply.ConversationID, "tokens:", reply.Usage.TotalTokens, "status:", reply.WorkflowStatus)
	// Output:
	// Hello, world!
	// conversation: c-1 tokens: 12 status: succeeded
}
