package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
)

// jsonBody reads the request's JSON object, bounded by WithMaxBodyBytes,
// and sets its "user" to user. An empty body counts as {}. On failure it
// has answered (413 or 400) and returns nil.
func (h *Handler) jsonBody(w http.ResponseWriter, r *http.Request, user string) map[string]json.RawMessage {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.maxBodyBytes))
	if err != nil {
		h.bodyError(w, err)
		return nil
	}
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(b)) > 0 {
		var v map[string]json.RawMessage
		if err := json.Unmarshal(b, &v); err != nil || v == nil {
			h.writeError(w, http.StatusBadRequest, "invalid_param", "The request body is not a JSON object.")
			return nil
		}
		m = v
	}
	u, _ := json.Marshal(user)
	m["user"] = u
	return m
}

// bodyError answers a failed read of a request body.
func (h *Handler) bodyError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		h.writeError(w, http.StatusRequestEntityTooLarge, "request_entity_too_large",
			"The request body is larger than the relay accepts.")
		return
	}
	h.writeError(w, http.StatusBadRequest, "invalid_param", "The request body could not be read.")
}

// multipartBody rebuilds a multipart/form-data upload, bounded by
// WithMaxUploadBytes, with its "user" field set to user. It holds the
// upload in memory, so that nothing goes upstream before the whole of it
// is known to be within the limit. On failure it has answered and returns
// ok false.
func (h *Handler) multipartBody(w http.ResponseWriter, r *http.Request, user string) (body *bytes.Buffer, contentType string, ok bool) {
	if r.ContentLength > h.cfg.maxUploadBytes {
		h.bodyError(w, &http.MaxBytesError{Limit: h.cfg.maxUploadBytes})
		return nil, "", false
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		h.writeError(w, http.StatusBadRequest, "invalid_param", "The request body must be multipart/form-data.")
		return nil, "", false
	}
	in := multipart.NewReader(http.MaxBytesReader(w, r.Body, h.cfg.maxUploadBytes), params["boundary"])
	body = &bytes.Buffer{}
	out := multipart.NewWriter(body)
	for {
		p, err := in.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			h.bodyError(w, err)
			return nil, "", false
		}
		if p.FormName() == "user" {
			if _, err := io.Copy(io.Discard, p); err != nil {
				h.bodyError(w, err)
				return nil, "", false
			}
			continue
		}
		pw, err := out.CreatePart(p.Header)
		if err == nil {
			_, err = io.Copy(pw, p)
		}
		if err != nil {
			h.bodyError(w, err)
			return nil, "", false
		}
	}
	if err := out.WriteField("user", user); err != nil {
		h.bodyError(w, err)
		return nil, "", false
	}
	if err := out.Close(); err != nil {
		h.bodyError(w, err)
		return nil, "", false
	}
	return body, out.FormDataContentType(), true
}
