package completion_test

import (
	"context"
	"fmt"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/completion"
)

// Ask a completion (text generator) app for a completion. The fake Dify
// server plays a completion app here.
func Example() {
	srv := chatflowtest.NewServer(chatflowtest.WithMode(chatflowtest.ModeCompletion))
	defer srv.Close()

	c, err := completion.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
	if err != nil {
		panic(err)
	}
	res, err := c.Complete(context.Background(), completion.Request{Query: "hello", User: "user-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Answer)
	// Output: You said: hello
}
