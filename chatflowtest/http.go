package chatflowtest

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/difykit/chatflow/internal/difyroute"
	"github.com/difykit/chatflow/internal/spectest"
)

// call is one request on its way through the server.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	op     string
	params map[string]string // path parameters
	body   []byte
	json   map[string]any // the JSON body, when there is one
	form   *formData      // the multipart body, when there is one
	user   string         // the user named by the request ("" when none)
}

type formData struct {
	values map[string]string
	files  map[string][]formFile
}

type formFile struct {
	name, contentType string
	data              []byte
}

const notFoundMessage = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."

// statusWriter remembers the status of the reply.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: rw}
	w := http.ResponseWriter(sw)
	if r.ContentLength != 0 {
		// A request with a body. Until readRequest has read it, a reply
		// (401, 404, 405, ...) closes the connection: net/http would
		// otherwise read the unread body, without any deadline, before
		// sending the reply and again before reusing the connection, so a
		// body that never comes kept the connection open for ever. The
		// deadline bounds every read of the body, by the handler or by
		// net/http after it.
		_ = http.NewResponseController(rw).SetReadDeadline(time.Now().Add(s.cfg.timeouts.ReadBody))
		w.Header().Set("Connection", "close")
	}
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, Prefix+"/") {
		writeError(w, http.StatusNotFound, "not_found", notFoundMessage)
		return
	}
	path = strings.TrimPrefix(path, Prefix)
	rec := s.record(Request{Method: r.Method, Path: path})
	c := &call{w: w, r: r}
	defer func() {
		s.mu.Lock()
		rec.Operation, rec.User, rec.Status = c.op, c.user, sw.status
		s.mu.Unlock()
	}()
	rt, params, err := spectest.Find(r.Method, path)
	opID := ""
	if err == nil {
		opID = rt.Operation.OperationID
	} else if id, ps, ok := findExtra(r.Method, path); ok {
		opID, params, err = id, ps, nil
	}
	if err != nil {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			_, _, e := spectest.Find(m, path)
			_, _, extra := findExtra(m, path)
			if (e == nil || extra) && m != r.Method {
				writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "The method is not allowed for the requested URL.")
				return
			}
		}
		writeError(w, http.StatusNotFound, "not_found", notFoundMessage)
		return
	}
	op := operations[opID]
	for name, v := range params {
		if difyroute.UUIDParam(name) && !difyroute.IsUUID(v) {
			writeError(w, http.StatusNotFound, "not_found", notFoundMessage)
			return
		}
	}
	c.op, c.params = opID, params
	s.mu.Lock()
	rec.Operation = c.op
	s.mu.Unlock()

	if !s.authorize(w, r) {
		return
	}
	if !s.readRequest(c, rt, op) {
		return
	}
	// The user is in the log before the handler acts: a test that sees the
	// effect (a stopped run, say) finds the request complete in Requests.
	s.mu.Lock()
	rec.User = c.user
	s.mu.Unlock()
	if f := s.takeFailure(c.op); f != nil {
		writeFailure(w, f)
		return
	}
	s.mu.Lock()
	delay := s.fault.delay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if op.serve == nil {
		writeError(w, http.StatusNotFound, "not_found", notFoundMessage)
		return
	}
	op.serve(s, c)
}

// authorize checks the Authorization header the way Dify does.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	msg := ""
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	switch {
	case h == "" || !ok:
		msg = "Authorization header must be provided and start with 'Bearer'"
	case !strings.EqualFold(scheme, "bearer"):
		msg = "Authorization scheme must be 'Bearer'"
	case subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.APIKey)) != 1:
		msg = "Access token is invalid"
	default:
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", msg)
	return false
}

// readRequest reads the body, finds the user, refuses an operation of
// another app mode, applies the server's own checks and validates the
// request against the API description. rt is nil for an operation outside
// the description, which takes a JSON body and is checked by its precheck
// only.
func (s *Server) readRequest(c *call, rt *routers.Route, op operation) bool {
	r := c.r
	var rb *openapi3.RequestBody
	if rt != nil && rt.Operation.RequestBody != nil {
		rb = rt.Operation.RequestBody.Value
	}
	isJSON := rt == nil || rb != nil && rb.Content.Get("application/json") != nil
	isForm := rb != nil && rb.Content.Get("multipart/form-data") != nil
	limit := s.cfg.maxJSONBody
	if isForm {
		limit = s.maxUploadBody()
	}
	// The body must arrive in time (serveHTTP set the read deadline, and
	// Connection: close for a reply sent before the body was read); the
	// reply may take as long as it needs.
	body, err := io.ReadAll(http.MaxBytesReader(c.w, r.Body, limit))
	if err != nil {
		// The rest of the body is not read: the connection must not be
		// reused (and the read deadline stays, so nothing waits for it).
		c.w.Header().Set("Connection", "close")
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge) && isForm:
			writeError(c.w, http.StatusRequestEntityTooLarge, "file_too_large", "File size exceeded.")
		case errors.As(err, &tooLarge):
			writeError(c.w, http.StatusRequestEntityTooLarge, "request_entity_too_large", "The request body is larger than the server accepts.")
		default:
			writeError(c.w, http.StatusBadRequest, "bad_request", "The browser (or proxy) sent a request that this server could not understand.")
		}
		return false
	}
	if r.ContentLength != 0 {
		// The body is whole: the connection may serve further requests.
		_ = http.NewResponseController(c.w).SetReadDeadline(time.Time{})
		c.w.Header().Del("Connection")
	}
	c.body = body
	// Endpoints with a JSON or form body read user there only.
	if !isJSON && !isForm {
		c.user = r.URL.Query().Get("user")
	}

	mt, mparams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case isJSON:
		if mt != "application/json" {
			writeError(c.w, http.StatusUnsupportedMediaType, "unsupported_media_type",
				"Did not attempt to load JSON data because the request Content-Type was not 'application/json'.")
			return false
		}
		if err := json.Unmarshal(body, &c.json); err != nil || c.json == nil {
			writeError(c.w, http.StatusBadRequest, "bad_request", "Failed to decode JSON object: the body is not a JSON object.")
			return false
		}
		if u, ok := c.json["user"].(string); ok {
			c.user = u
		}
	case isForm:
		if mt != "multipart/form-data" || mparams["boundary"] == "" {
			c.form = &formData{values: map[string]string{}, files: map[string][]formFile{}}
			break
		}
		c.form, err = parseForm(body, mparams["boundary"])
		if err != nil {
			writeError(c.w, http.StatusBadRequest, "bad_request", "The browser (or proxy) sent a request that this server could not understand.")
			return false
		}
		c.user = c.form.values["user"]
	}

	if op.userRequired && c.user == "" {
		writeError(c.w, http.StatusBadRequest, "invalid_param", "Arg user must be provided.")
		return false
	}
	if s.refuseMode(c, op) {
		return false
	}
	if op.precheck != nil && !op.precheck(s, c) {
		return false
	}
	if rt == nil {
		return true
	}

	// The real server accepts null for optional fields (such as
	// "files": null) that the description types without null.
	vbody := body
	if c.json != nil && rb != nil {
		if mtObj := rb.Content.Get("application/json"); mtObj != nil && mtObj.Schema != nil && mtObj.Schema.Value != nil {
			if stripped, changed := stripNulls(c.json, mtObj.Schema.Value); changed {
				vbody, _ = json.Marshal(stripped)
			}
		}
	}
	vr := r.Clone(r.Context())
	if len(op.lenientQuery) > 0 {
		q := vr.URL.Query()
		for _, n := range op.lenientQuery {
			q.Del(n)
		}
		u := *vr.URL
		u.RawQuery = q.Encode()
		vr.URL = &u
	}
	vr.Body = io.NopCloser(bytes.NewReader(vbody))
	vr.ContentLength = int64(len(vbody))
	if err := spectest.ValidateRequest(vr, Prefix); err != nil {
		if s.cfg.validation422 && op.decorated {
			writeError(c.w, http.StatusUnprocessableEntity, "unprocessable_entity", fieldErrors(err))
		} else {
			writeError(c.w, http.StatusBadRequest, "invalid_param", validationMessage(err))
		}
		return false
	}
	return true
}

// maxUploadBody is the largest multipart body read: the largest file any
// limit allows, and room for the other parts.
func (s *Server) maxUploadBody() int64 {
	u := s.cfg.uploads
	return max(u.Image, u.Video, u.Audio, u.Document, maxAudioToText) + 64<<10
}

// fieldErrors renders a validation error as the JSON array of field errors
// that a 422 reply carries as its message: one object per problem, with the
// location of the field (["query","limit"], ["body","rating"]), a message
// and a type.
func fieldErrors(err error) string {
	type fieldError struct {
		Loc  []string `json:"loc"`
		Msg  string   `json:"msg"`
		Type string   `json:"type"`
	}
	var out []fieldError
	var walk func(err error, loc []string)
	walk = func(err error, loc []string) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, x := range e {
				walk(x, loc)
			}
			return
		case *openapi3filter.RequestError:
			l := []string{"body"}
			if e.Parameter != nil {
				l = []string{e.Parameter.In, e.Parameter.Name}
			}
			if e.Err == nil {
				out = append(out, fieldError{Loc: l, Msg: e.Reason, Type: "value_error"})
				return
			}
			walk(e.Err, l)
			return
		case *openapi3.SchemaError:
			l := append(append([]string(nil), loc...), e.JSONPointer()...)
			typ := "value_error"
			if e.SchemaField == "required" {
				typ = "missing"
			}
			out = append(out, fieldError{Loc: l, Msg: e.Reason, Type: typ})
			return
		}
		if u := errors.Unwrap(err); u != nil {
			walk(u, loc)
			return
		}
		out = append(out, fieldError{Loc: loc, Msg: err.Error(), Type: "value_error"})
	}
	walk(err, nil)
	if len(out) == 0 {
		out = append(out, fieldError{Loc: []string{}, Msg: err.Error(), Type: "value_error"})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// stripNulls drops the null members of obj that the schema neither
// requires nor allows to be null.
func stripNulls(obj map[string]any, schema *openapi3.Schema) (map[string]any, bool) {
	out := make(map[string]any, len(obj))
	changed := false
	for k, v := range obj {
		if v == nil {
			p := schema.Properties[k]
			required := false
			for _, r := range schema.Required {
				required = required || r == k
			}
			if !required && (p == nil || p.Value == nil || !p.Value.Nullable) {
				changed = true
				continue
			}
		}
		out[k] = v
	}
	return out, changed
}

// validationMessage renders a kin-openapi validation error as a short,
// readable message (one line per problem).
func validationMessage(err error) string {
	var lines []string
	var walk func(err error, where string)
	walk = func(err error, where string) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, x := range e {
				walk(x, where)
			}
			return
		case *openapi3filter.RequestError:
			w := "request body"
			if e.Parameter != nil {
				w = fmt.Sprintf("%s parameter %q", e.Parameter.In, e.Parameter.Name)
			}
			if e.Err == nil {
				lines = append(lines, w+": "+e.Reason)
				return
			}
			walk(e.Err, w)
			return
		case *openapi3.SchemaError:
			at := ""
			if p := e.JSONPointer(); len(p) > 0 {
				at = " at /" + strings.Join(p, "/")
			}
			if where == "" {
				where = "value"
			}
			lines = append(lines, fmt.Sprintf("%s%s: %s", where, at, e.Reason))
			return
		case *openapi3filter.SecurityRequirementsError:
			lines = append(lines, "authorization: "+e.Error())
			return
		}
		if u := errors.Unwrap(err); u != nil {
			walk(u, where)
			return
		}
		if where != "" {
			lines = append(lines, where+": "+err.Error())
		} else {
			lines = append(lines, err.Error())
		}
	}
	walk(err, "")
	if len(lines) == 0 {
		return err.Error()
	}
	return strings.Join(lines, "\n")
}

func parseForm(body []byte, boundary string) (*formData, error) {
	fd := &formData{values: map[string]string{}, files: map[string][]formFile{}}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return fd, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		if _, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition")); params != nil {
			if name, isFile := params["filename"]; isFile {
				// The name as sent: Part.FileName would drop a directory part.
				fd.files[p.FormName()] = append(fd.files[p.FormName()], formFile{
					name: name, contentType: partType(p.Header), data: data,
				})
				continue
			}
		}
		fd.values[p.FormName()] = string(data)
	}
}

func partType(h textproto.MIMEHeader) string {
	ct := h.Get("Content-Type")
	if ct == "" {
		return "application/octet-stream"
	}
	return ct
}

// writeJSON sends v as a JSON reply.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := appendJSON(nil, v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_server_error", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError sends a Dify error body.
func writeError(w http.ResponseWriter, status int, code, message string) {
	b, _ := json.Marshal(map[string]any{"code": code, "message": message, "status": status})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeFailure(w http.ResponseWriter, f *failure) {
	if f.code == "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.status)
		text := http.StatusText(f.status)
		_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", f.status, text, f.status, text)
		return
	}
	writeError(w, f.status, f.code, "Injected failure ("+f.code+").")
}
