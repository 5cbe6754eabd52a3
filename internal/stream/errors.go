package stream

import (
	"errors"
	"strings"
)

// ErrIncompleteStream matches the error of a stream that ended before a
// terminal event and could not be resumed (package chatflow re-exports
// it, with the full story).
var ErrIncompleteStream = errors.New("chatflow: incomplete stream")

// ErrNotEventStream is wrapped by the error of a stream request answered
// with a 2xx status but not with text/event-stream.
var ErrNotEventStream = errors.New("chatflow: reply is not an event stream")

// errStreamClosed is the cause of a stream's context once it was closed.
var errStreamClosed = errors.New("chatflow: stream closed")

// errEventsTwice is yielded by Events after a first iteration started.
var errEventsTwice = errors.New("chatflow: the events of a stream can be read only once")

// incompleteError is the error of a stream that ended early. It matches
// ErrIncompleteStream and its cause.
type incompleteError struct {
	cause  error // nil when the stream just ended
	detail string
}

func (e *incompleteError) Error() string {
	return ErrIncompleteStream.Error() + ": " + e.detail
}

func (e *incompleteError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrIncompleteStream}
	}
	return []error{ErrIncompleteStream, e.cause}
}

func incomplete(cause error) error {
	return &incompleteError{cause: cause, detail: strings.TrimPrefix(cause.Error(), "chatflow: ")}
}

// resumeError is the error of a stream that could not be resumed: it
// matches ErrIncompleteStream, the cause of the drop, and why resuming
// failed.
type resumeError struct {
	drop   error // the incompleteError of the drop
	failed error // why resuming failed; may be nil
	detail string
}

func (e *resumeError) Error() string {
	msg := e.drop.Error() + "; resuming failed: " + e.detail
	if e.failed != nil {
		msg += ": " + e.failed.Error()
	}
	return msg
}

func (e *resumeError) Unwrap() []error {
	if e.failed == nil {
		return []error{e.drop}
	}
	return []error{e.drop, e.failed}
}

// gaveUpError is the error of a request that its caller gave up on while
// waiting for the reply (whose run the background then stops): it matches
// the caller's cause.
type gaveUpError struct{ cause error }

func (e *gaveUpError) Error() string {
	return "chatflow: " + e.cause.Error() + " (while waiting for the reply; a run it started is stopped once its task id is known)"
}

func (e *gaveUpError) Unwrap() error { return e.cause }
