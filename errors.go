package chatflow

import (
	"errors"
	"fmt"

	"github.com/difykit/chatflow/internal/paging"
	"github.com/difykit/chatflow/internal/sse"
	"github.com/difykit/chatflow/internal/stream"
	"github.com/difykit/chatflow/internal/transport"
)

// Every error value and error type of the package is here: those of the
// request path (shared with the other app packages of this module) and of
// the SSE decoder are the same values as theirs, so that errors.Is and
// errors.As find them whichever package returned them.

// APIError is a reply from the server (or a proxy in front of it) with a
// non-2xx status, or an error event inside a stream. Find it with errors.As;
// test its class with errors.Is(err, ErrNotFound) and the other sentinels.
// Its fields are StatusCode, Code, Message, Params, Method, URL, RetryAfter
// and Body.
type APIError = transport.APIError

// Sentinel errors matched by errors.Is against an *APIError.
var (
	// ErrUnauthorized matches a 401: the API key is missing, wrong or revoked.
	ErrUnauthorized = transport.ErrUnauthorized
	// ErrForbidden matches a 403: the app is disabled or gone.
	ErrForbidden = transport.ErrForbidden
	// ErrNotFound matches a 404 in which Dify says that what the request
	// names does not exist for this user: no such conversation, message,
	// variable, file, end user or run (codes not_found, file_not_found,
	// end_user_not_found, ...). Conversations and their messages belong to
	// the user that created them. A 404 for a path the server does not
	// serve matches ErrEndpointNotFound instead.
	ErrNotFound = transport.ErrNotFound
	// ErrEndpointNotFound matches a 404 for a path the server does not
	// serve at all: Dify's "The requested URL was not found on the server"
	// reply, or a 404 with an HTML, empty or other non-Dify body. It almost
	// always means a wrong base URL (which usually ends in /v1); the error
	// names the URL that was asked for.
	ErrEndpointNotFound = transport.ErrEndpointNotFound
	// ErrRateLimited matches a 429, and the 400 "Too many requests..."
	// that some Dify versions send for their per-app concurrency limit.
	ErrRateLimited = transport.ErrRateLimited
	// ErrBadRequest matches "the request was wrong" in either of the forms
	// Dify uses: 400 (invalid_param, bad_request and the other 400 codes)
	// and 422 unprocessable_entity (newer validation). A 400 that is the
	// concurrency limit matches ErrRateLimited instead.
	ErrBadRequest = transport.ErrBadRequest
)

// ErrIdleTimeout matches the error of a call or stream on which the server
// stayed silent for longer than the idle timeout (see WithIdleTimeout).
var ErrIdleTimeout = transport.ErrIdleTimeout

// ErrReplyTooLarge is returned while reading a JSON reply body that is larger
// than the limit set by WithMaxReplyBytes.
var ErrReplyTooLarge = transport.ErrReplyTooLarge

// ErrInvalidID is wrapped by the error returned when an id that goes into a
// URL path is empty, "." or "..": such a request is never sent.
var ErrInvalidID = transport.ErrInvalidID

// ErrEventTooLarge is wrapped by the error that ends a stream whose event
// (or single line) is larger than the limit set by WithMaxEventBytes.
var ErrEventTooLarge = sse.ErrEventTooLarge

// ErrIncompleteStream matches the error of a stream that ended without a
// terminal event (message_end, workflow_finished, workflow_paused or error)
// and could not be resumed: the server or a proxy closed it early, it was
// cut inside an event (the error then also matches io.ErrUnexpectedEOF), it
// stayed silent for longer than the idle timeout (ErrIdleTimeout), its
// context was cancelled, or it was closed while being read. A stream
// resumes after a dropped connection when it can (see WithResume); this
// error then says why resuming failed too.
var ErrIncompleteStream = stream.ErrIncompleteStream

// ErrNotEventStream is wrapped by the error of a stream request answered
// with a 2xx status but not with text/event-stream, such as a proxy's HTML
// page or a blocking JSON reply.
var ErrNotEventStream = stream.ErrNotEventStream

// ErrNoAudio is returned by TextToAudio when the server answers without
// audio: a JSON null, which it sends for an unknown message_id.
var ErrNoAudio = errors.New("chatflow: the server returned no audio")

// ErrPaginationStuck is returned by a list iterator when the server hands
// out a cursor or a page it already gave: going on would loop forever.
var ErrPaginationStuck = paging.ErrStuck

// WrongEventError is returned by a typed accessor of Event called on an
// event of another kind, such as NodeStarted on a "message" event.
type WrongEventError struct {
	Have, Want string // the event's name, and the name the accessor decodes
}

// Error says which event was asked for and which one it is.
func (e *WrongEventError) Error() string {
	return fmt.Sprintf("chatflow: event is %q, not %q", e.Have, e.Want)
}
