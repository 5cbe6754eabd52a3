package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/difykit/chatflow"
)

// difyError is Dify's error body.
type difyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
	Params  string `json:"params,omitempty"`
}

// writeError answers with Dify's error body.
func (h *Handler) writeError(w http.ResponseWriter, status int, code, message string) {
	h.writeDifyError(w, difyError{Code: code, Message: message, Status: status})
}

func (h *Handler) writeDifyError(w http.ResponseWriter, e difyError) {
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_, _ = w.Write(h.sec.bytes(b))
}

// upstreamError turns the error of a call to the app's server into what
// the browser is told: the server's own status, code and message for an
// *APIError (without the key or the server's address), a short word of
// the relay's own otherwise (never the Go error text, which names the
// server's URL).
func (h *Handler) upstreamError(err error) difyError {
	var ae *chatflow.APIError
	switch {
	case errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode <= 599:
		e := difyError{
			Status:  ae.StatusCode,
			Code:    h.clean(ae.Code),
			Message: h.clean(ae.Message),
			Params:  h.clean(ae.Params),
		}
		if e.Code == "" {
			e.Code = codeFor(ae.StatusCode)
		}
		return e
	case errors.Is(err, chatflow.ErrInvalidID):
		return difyError{Status: http.StatusNotFound, Code: "not_found", Message: "The requested URL was not found on the server."}
	case errors.Is(err, chatflow.ErrIdleTimeout), errors.Is(err, context.DeadlineExceeded):
		return difyError{Status: http.StatusGatewayTimeout, Code: "gateway_timeout", Message: "The app's server did not answer in time."}
	default:
		return difyError{Status: http.StatusBadGateway, Code: "bad_gateway", Message: "The app's server could not be reached or sent a reply that is not valid."}
	}
}

// clean removes the key and the upstream address from a text that came
// from the app's server.
func (h *Handler) clean(s string) string {
	s = h.sec.text(s)
	for _, u := range h.upstreamNames {
		s = strings.ReplaceAll(s, u, "")
	}
	return s
}

// codeFor names a status that came without a Dify error code (a proxy's
// page).
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusRequestEntityTooLarge:
		return "request_entity_too_large"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusBadGateway:
		return "bad_gateway"
	case http.StatusServiceUnavailable:
		return "service_unavailable"
	case http.StatusGatewayTimeout:
		return "gateway_timeout"
	}
	if status >= 500 {
		return "internal_server_error"
	}
	return "bad_request"
}
