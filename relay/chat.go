package relay

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/difykit/chatflow"
)

// chat serves POST /chat-messages: the run always streams upstream (with
// the client's resume and auto-stop); the browser gets the events as they
// come, or, for response_mode "blocking", the gathered reply.
func (h *Handler) chat(w http.ResponseWriter, r *http.Request, c call) {
	m := h.jsonBody(w, r, c.user)
	if m == nil {
		return
	}
	var req chatflow.ChatRequest
	if err := remarshal(m, &req); err != nil {
		h.writeError(w, http.StatusBadRequest, "invalid_param", "The request body does not fit a chat message (query, inputs, conversation_id, files, ...).")
		return
	}
	blocking := req.ResponseMode == "blocking"
	if !h.runs.acquire(c.user) {
		h.writeError(w, http.StatusTooManyRequests, "too_many_requests", "Too many runs going at once for this user; wait for one to end.")
		return
	}
	defer h.runs.release(c.user)
	// Bound to the browser's request: when the browser leaves, the
	// client's auto-stop stops the run (with user(r)), reading on for the
	// task id in the background when no event has carried it yet.
	s, err := h.c.StreamMessage(r.Context(), req)
	if err != nil {
		if r.Context().Err() == nil {
			h.writeDifyError(w, h.upstreamError(err))
		}
		return
	}
	defer s.Close() // before the run's end, this stops the run
	if blocking {
		h.gather(w, r, s)
		return
	}
	h.stream(w, s)
}

// remarshal decodes m into v.
func remarshal(m map[string]json.RawMessage, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// stream writes the run's events in Dify's format, flushing each. Breaking
// off (the browser went away) closes the stream, which stops the run.
func (h *Handler) stream(w http.ResponseWriter, s *chatflow.Stream) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	flush := func() error {
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	if flush() != nil {
		return
	}
	for ev, err := range s.Events() {
		var frame []byte
		switch {
		case err != nil:
			frame = h.errorFrame(s, err)
		case ev.Name() == chatflow.EventPing:
			frame = []byte("event: ping\n\n")
		default:
			frame = append(append([]byte("data: "), h.sec.bytes(ev.Raw())...), "\n\n"...)
		}
		if _, werr := w.Write(frame); werr != nil || flush() != nil {
			return
		}
	}
}

// errorFrame is Dify's error event for an error that ended a stream.
func (h *Handler) errorFrame(s *chatflow.Stream, err error) []byte {
	e := h.upstreamError(err)
	var ae *chatflow.APIError
	if !errors.As(err, &ae) && errors.Is(err, chatflow.ErrIncompleteStream) {
		e = difyError{Status: http.StatusBadGateway, Code: "stream_incomplete", Message: "The app's server ended the answer early."}
	}
	b, _ := json.Marshal(map[string]any{
		"event":   chatflow.EventError,
		"task_id": s.TaskID(),
		"status":  e.Status,
		"code":    e.Code,
		"message": e.Message,
	})
	return append(append([]byte("data: "), h.sec.bytes(b)...), "\n\n"...)
}
