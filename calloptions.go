package chatflow

import "context"

// retriesKey is the context key of the per-call retry count.
type retriesKey struct{}

// WithRetries returns a copy of ctx that makes every request of this
// package sent with it retry at most n times, instead of the count set by
// WithMaxRetries; n <= 0 disables retries for those calls. The generated
// methods take only a context and request editors, so a context is how a
// single call chooses:
//
//	// The user is waiting: fail fast rather than back off.
//	meta, err := c.API().GetChatAppMetaWithResponse(chatflow.WithRetries(ctx, 0))
//
// Retries never exceed the context's own limits: to bound a call as a
// whole, including its retries and their waits, give it a deadline with
// context.WithTimeout; a wait that would pass the deadline is not started.
func WithRetries(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, retriesKey{}, max(n, 0))
}
