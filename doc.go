// Package chatflow is a Go client for the Service API of Dify chatflow
// ("Advanced Chat") apps.
//
// Make a Client with the app's API key, then chat:
//
//	c, err := chatflow.NewClient(os.Getenv("DIFY_API_KEY"),
//		chatflow.WithBaseURL(os.Getenv("DIFY_BASE_URL"))) // "" means Dify Cloud; a self-hosted URL ends in /v1
//	reply, err := c.SendMessage(ctx, chatflow.ChatRequest{Query: "Hello", User: "user-42"})
//
// # Chat
//
// [Client.SendMessage] returns the whole answer as a [Reply] (answer, ids,
// usage, workflow status, a human-input pause). It streams on the wire and
// gathers, because proxies in front of Dify cut blocking requests off.
// [Client.StreamMessage] returns a [Stream] whose [Stream.Events] iterator
// yields each server-sent [Event] (answer pieces, node progress, the run's
// end) as it arrives; [Stream.Collect] gathers the rest into a Reply.
// [Client.WorkflowEvents] reattaches to a run by its id.
//
// # Resume and auto-stop
//
// When the connection drops before the run's end, the run goes on on the
// server: the stream resumes from the server's record of the run and ends
// with the whole answer, [Reply.Resumed] set (see [WithResume]). A stream
// that cannot be completed is an error matching [ErrIncompleteStream],
// never a silent success. When the caller gives a run up (cancels the
// context, breaks out of Events, closes the stream), the library sends the
// stop request that Dify needs, since a closed connection alone does not
// stop a run (see [WithAutoStop]).
//
// # Iterators and the rest
//
// Lists are Go iterators that fetch pages as the loop needs them:
// [Client.Conversations], [Client.Messages], [Client.ConversationVariables]
// (decode a value with [VariableValue]), [Client.Annotations],
// [Client.WorkflowLogs] and [Client.AppFeedbacks]. Other methods upload
// files (streamed), rename and delete conversations, send feedback, turn
// text into speech and back, read the app's settings and answer
// human-input forms. Every operation of the API description is also
// reachable, typed as generated in package gen, through [Client.API].
//
// # Errors
//
// A reply with a non-2xx status is an [*APIError] with Dify's code and
// message; errors.Is matches its class: [ErrUnauthorized], [ErrForbidden],
// [ErrNotFound], [ErrEndpointNotFound] (a wrong base URL),
// [ErrRateLimited], [ErrBadRequest]. Failed requests are retried only when
// that is safe (a chat message never runs twice), and the API key never
// appears in an error or a log line.
//
// # Testing
//
// Package chatflowtest is a fake Dify server with the behaviour of the
// real one (streamed runs, per-user state, Dify's errors, fault
// injection), so that code using this package can be tested offline:
//
//	srv := chatflowtest.NewServer()
//	defer srv.Close()
//	c, _ := chatflow.NewClient(srv.APIKey, chatflow.WithBaseURL(srv.URL))
package chatflow
