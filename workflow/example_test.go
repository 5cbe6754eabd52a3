package workflow_test

import (
	"context"
	"fmt"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/workflow"
)

// Run a workflow app's workflow and read its outputs. The fake Dify
// server plays a workflow app here; against your app, pass its API key
// and chatflow.WithBaseURL.
func Example() {
	srv := chatflowtest.NewServer(chatflowtest.WithMode(chatflowtest.ModeWorkflow))
	defer srv.Close()

	c, err := workflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	res, err := c.Run(context.Background(), workflow.RunRequest{
		Inputs: map[string]any{"query": "ship it"},
		User:   "user-1",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Outputs["text"])
	// Output: succeeded You said: ship it
}

// Stream a run: node progress as it comes, then the run's end.
func ExampleStream_Events() {
	srv := chatflowtest.NewServer(chatflowtest.WithMode(chatflowtest.ModeWorkflow))
	defer srv.Close()
	c, _ := workflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))

	s, err := c.StreamRun(context.Background(), workflow.RunRequest{Inputs: map[string]any{"query": "hi"}, User: "user-1"})
	if err != nil {
		panic(err)
	}
	for ev, err := range s.Events() {
		if err != nil {
			panic(err)
		}
		switch ev.Name() {
		case chatflow.EventNodeFinished:
			n, _ := ev.NodeFinished()
			fmt.Println("node", n.Data.Title, n.Data.Status)
		case chatflow.EventWorkflowFinished:
			w, _ := ev.WorkflowFinished()
			fmt.Println("run", w.Data.Status)
		}
	}
	// Output:
	// node Start succeeded
	// node LLM succeeded
	// node End succeeded
	// run succeeded
}
