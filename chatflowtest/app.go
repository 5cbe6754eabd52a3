package chatflowtest

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

func (s *Server) checkUpload(c *call) bool {
	files := c.form.files["file"]
	switch {
	case len(files) == 0:
		writeError(c.w, http.StatusBadRequest, "no_file_uploaded", "Please upload your file.")
	case len(files) > 1 || len(c.form.files) > 1:
		writeError(c.w, http.StatusBadRequest, "too_many_files", "Only one file is allowed.")
	case files[0].name == "":
		writeError(c.w, http.StatusBadRequest, "filename_not_exists_error", "The specified filename does not exist.")
	case strings.ContainsAny(files[0].name, badNameChars):
		writeError(c.w, http.StatusBadRequest, "invalid_param", "The file name must not contain any of "+badNameChars+".")
	case s.cfg.blockedExts[fileExt(files[0].name)]:
		writeError(c.w, http.StatusBadRequest, "invalid_param", "Files with the extension ."+fileExt(files[0].name)+" are not accepted.")
	default:
		kind, limit := s.uploadLimit(files[0].name)
		if int64(len(files[0].data)) > limit {
			writeError(c.w, http.StatusRequestEntityTooLarge, "file_too_large",
				fmt.Sprintf("File size exceeded. %s files may have at most %d bytes.", kind, limit))
			return false
		}
		return true
	}
	return false
}

// badNameChars are the characters Dify refuses in an uploaded file's name.
const badNameChars = `/\:*?"<>|`

func fileExt(name string) string {
	return strings.TrimPrefix(strings.ToLower(path.Ext(name)), ".")
}

// uploadLimit is the kind of file a name stands for and its size limit.
func (s *Server) uploadLimit(name string) (kind string, limit int64) {
	u := s.cfg.uploads
	switch fileExt(name) {
	case "jpg", "jpeg", "png", "webp", "gif", "svg":
		return "Image", u.Image
	case "mp4", "mov", "mpeg", "webm":
		return "Video", u.Video
	case "mp3", "m4a", "wav", "amr", "mpga":
		return "Audio", u.Audio
	}
	return "Document", u.Document
}

// audioMIMETypes are the part types /audio-to-text accepts, exactly.
var audioMIMETypes = map[string]bool{
	"audio/mp3": true, "audio/mp4": true, "audio/mpeg": true, "audio/mpga": true,
	"audio/m4a": true, "audio/wav": true, "audio/webm": true, "audio/amr": true,
}

// maxAudioToText is the largest file /audio-to-text accepts.
const maxAudioToText = 30 << 20

func (s *Server) checkAudio(c *call) bool {
	files := c.form.files["file"]
	if len(files) == 0 {
		writeError(c.w, http.StatusBadRequest, "bad_request_key_error", "The browser (or proxy) sent a request that this server could not understand.")
		return false
	}
	if !s.cfg.speechToText {
		writeError(c.w, http.StatusBadRequest, "invalid_param", "Speech to text is not enabled")
		return false
	}
	f := files[0]
	mt, _, _ := mime.ParseMediaType(f.contentType)
	if !audioMIMETypes[mt] {
		writeError(c.w, http.StatusUnsupportedMediaType, "unsupported_audio_type", "Audio type not allowed.")
		return false
	}
	if len(f.data) > maxAudioToText {
		writeError(c.w, http.StatusRequestEntityTooLarge, "audio_too_large", "Audio size exceeded.")
		return false
	}
	return true
}

func (s *Server) checkWorkflowLogs(c *call) bool {
	switch st := c.r.URL.Query().Get("status"); st {
	case "", "succeeded", "failed", "stopped":
		return true
	default:
		writeError(c.w, http.StatusBadRequest, "invalid_param", "status: "+st+" is not a valid choice (succeeded, failed, stopped).")
		return false
	}
}

// userMessage returns the message id of user session, or nil.
func (s *Server) userMessage(id, user string) *message {
	m := s.st.msgs[id]
	if m == nil || m.owner != sessionOf(user) {
		return nil
	}
	return m
}

func (s *Server) getSuggestedQuestions(c *call) {
	s.mu.Lock()
	m := s.userMessage(c.params["message_id"], c.user)
	s.mu.Unlock()
	if m == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Message Not Exists.")
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"result": "success", "data": append([]string{}, s.cfg.suggestions...)})
}

func (s *Server) postFeedback(c *call) {
	rating, _ := c.json["rating"].(string)
	content, _ := c.json["content"].(string)
	now := s.cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.userMessage(c.params["message_id"], c.user)
	if m == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Message Not Exists.")
		return
	}
	switch {
	case rating == "" && m.rating == "":
		writeError(c.w, http.StatusBadRequest, "invalid_param", "rating cannot be None when feedback not exists")
		return
	case rating == "":
		m.rating, m.ratingContent, m.feedbackID = "", "", ""
	default:
		if m.rating == "" {
			m.feedbackID = s.st.newID()
			m.feedbackAt = now
		}
		m.rating, m.ratingContent = rating, content
		m.feedbackUpdated = now
		m.feedbackSeq = s.st.next()
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"result": "success"})
}

func (s *Server) getAppFeedbacks(c *call) {
	page := queryInt(c, "page", 1)
	limit := queryInt(c, "limit", 20)
	s.mu.Lock()
	defer s.mu.Unlock()
	var rated []*message
	for _, m := range s.st.msgs {
		if m.rating != "" {
			rated = append(rated, m)
		}
	}
	sort.Slice(rated, func(i, j int) bool { return rated[i].feedbackSeq > rated[j].feedbackSeq })
	from, to := pageBounds(page, limit, len(rated))
	data := make([]any, 0, to-from)
	for _, m := range rated[from:to] {
		var content any
		if m.ratingContent != "" {
			content = m.ratingContent
		}
		data = append(data, map[string]any{
			"id": m.feedbackID, "app_id": s.st.appID, "conversation_id": m.conv, "message_id": m.id,
			"rating": m.rating, "content": content, "from_source": "user",
			"from_end_user_id": s.st.user(m.owner, s.cfg.now()).id, "from_account_id": nil,
			"created_at": naiveTime(m.feedbackAt), "updated_at": naiveTime(m.feedbackUpdated),
		})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data})
}

var mimeByExt = map[string]string{
	"txt": "text/plain", "md": "text/markdown", "pdf": "application/pdf", "png": "image/png",
	"jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
	"json": "application/json", "csv": "text/csv", "html": "text/html", "mp3": "audio/mpeg",
	"wav": "audio/wav", "mp4": "video/mp4", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

func (s *Server) uploadChatFile(c *call) {
	f := c.form.files["file"][0]
	now := s.cfg.now()
	name := f.name
	ext := fileExt(name)
	mt := f.contentType
	if mt == "" || mt == "application/octet-stream" {
		if m, ok := mimeByExt[ext]; ok {
			mt = m
		}
	}
	s.mu.Lock()
	u := s.st.user(c.user, now)
	up := &upload{
		id: s.st.newID(), name: name, ext: ext, mime: mt, owner: u.session, createdBy: u.id,
		data: f.data, created: now.Unix(), seq: s.st.next(),
	}
	s.st.addUpload(u, up, &s.cfg.limits)
	body := up.json()
	s.mu.Unlock()
	writeJSON(c.w, http.StatusCreated, body)
}

func (s *Server) previewChatFile(c *call) {
	// Only a file that a message of the app refers to can be previewed;
	// user plays no part in it.
	s.mu.Lock()
	up := s.st.files[c.params["file_id"]]
	if up != nil && !up.referenced {
		up = nil
	}
	s.mu.Unlock()
	if up == nil {
		writeError(c.w, http.StatusNotFound, "file_not_found", "File not found.")
		return
	}
	h := c.w.Header()
	h.Set("Content-Type", up.mime)
	if c.r.URL.Query().Get("as_attachment") == "true" {
		h.Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(up.name, `"`, "")+`"`)
	}
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(up.data)
}

func (s *Server) getEndUser(c *call) {
	s.mu.Lock()
	u := s.st.usersByID[c.params["end_user_id"]]
	appID, tenant := s.st.appID, s.st.tenantID
	s.mu.Unlock()
	if u == nil {
		writeError(c.w, http.StatusNotFound, "end_user_not_found", "End user not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"id": u.id, "tenant_id": tenant, "app_id": appID, "type": "service-api",
		"external_user_id": u.session, "name": nil, "is_anonymous": u.anonymous, "session_id": u.session,
		"created_at": naiveTime(u.created), "updated_at": naiveTime(u.created),
	})
}

func (s *Server) audioToText(c *call) {
	f := c.form.files["file"][0]
	writeJSON(c.w, http.StatusOK, map[string]any{"text": "Transcript of " + f.name + "."})
}

// mp3Frame is one silent MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz).
var mp3Frame = func() []byte {
	b := make([]byte, 417)
	copy(b, []byte{0xFF, 0xFB, 0x90, 0x64})
	return b
}()

func (s *Server) textToAudio(c *call) {
	text, _ := c.json["text"].(string)
	if id, _ := c.json["message_id"].(string); id != "" {
		s.mu.Lock()
		m := s.st.msgs[id]
		s.mu.Unlock()
		if m == nil {
			// What the server does for an unknown message: 200 with a null body.
			writeJSON(c.w, http.StatusOK, nil)
			return
		}
		text = m.answer
	}
	if text == "" {
		writeError(c.w, http.StatusBadRequest, "invalid_param", "Text is required")
		return
	}
	c.w.Header().Set("Content-Type", "audio/mpeg")
	c.w.WriteHeader(http.StatusOK)
	frames := 2 + len(text)/20
	for i := 0; i < frames; i++ {
		if _, err := c.w.Write(mp3Frame); err != nil {
			return
		}
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

func (s *Server) getInfo(c *call) {
	name := map[string]string{
		ModeAdvancedChat: "Fake chatflow", ModeWorkflow: "Fake workflow", ModeCompletion: "Fake text generator",
		ModeChat: "Fake chatbot", ModeAgentChat: "Fake agent",
	}[s.cfg.mode]
	writeJSON(c.w, http.StatusOK, map[string]any{
		"name": name, "description": "An in-memory fake of a Dify " + s.cfg.mode + " app.",
		"tags": []string{}, "mode": s.cfg.mode, "author_name": "chatflowtest",
	})
}

func (s *Server) getParameters(c *call) {
	s.mu.Lock()
	annotations := s.st.annotationReply
	s.mu.Unlock()
	on := func(b bool) map[string]any { return map[string]any{"enabled": b} }
	writeJSON(c.w, http.StatusOK, map[string]any{
		"opening_statement":                s.cfg.openingMessage,
		"suggested_questions":              []string{},
		"suggested_questions_after_answer": on(true),
		"speech_to_text":                   on(s.cfg.speechToText),
		"text_to_speech":                   map[string]any{"enabled": true, "voice": "alloy", "language": "en-US", "autoPlay": "disabled"},
		"retriever_resource":               on(false),
		"annotation_reply":                 on(annotations),
		"more_like_this":                   on(false),
		"sensitive_word_avoidance":         on(false),
		"user_input_form":                  []any{},
		"file_upload": map[string]any{
			"enabled":                     true,
			"allowed_file_types":          []string{"image", "document", "audio", "video"},
			"allowed_file_extensions":     []string{},
			"allowed_file_upload_methods": []string{"local_file", "remote_url"},
			"number_limits":               3,
			"image": map[string]any{
				"enabled": true, "number_limits": 3, "transfer_methods": []string{"local_file", "remote_url"},
			},
		},
		"system_parameters": map[string]any{
			"file_size_limit": s.cfg.uploads.Document >> 20, "image_file_size_limit": s.cfg.uploads.Image >> 20,
			"audio_file_size_limit": s.cfg.uploads.Audio >> 20, "video_file_size_limit": s.cfg.uploads.Video >> 20,
			"workflow_file_upload_limit": 10,
		},
	})
}

func (s *Server) getMeta(c *call) {
	writeJSON(c.w, http.StatusOK, map[string]any{"tool_icons": map[string]any{}})
}

func (s *Server) getSite(c *call) {
	if !s.cfg.siteEnabled {
		writeError(c.w, http.StatusForbidden, "forbidden", "The web app of this app is switched off.")
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"title": "Fake chatflow", "chat_color_theme": "#1C64F2", "chat_color_theme_inverted": false,
		"icon_type": "emoji", "icon": "🤖", "icon_background": "#FFEAD5", "icon_url": nil,
		"description": "An in-memory fake of a Dify chatflow app.", "copyright": "", "privacy_policy": "",
		"custom_disclaimer": "", "default_language": "en-US", "show_workflow_steps": true,
		"use_icon_as_answer_icon": false,
	})
}

func (s *Server) createAnnotation(c *call) {
	q, _ := c.json["question"].(string)
	a, _ := c.json["answer"].(string)
	s.mu.Lock()
	an := &annotation{id: s.st.newID(), question: q, answer: a, created: s.cfg.now().Unix(), seq: s.st.next()}
	s.st.addAnnotation(an, &s.cfg.limits)
	body := an.json()
	s.mu.Unlock()
	writeJSON(c.w, http.StatusCreated, body)
}

func (s *Server) getAnnotationList(c *call) {
	page := queryInt(c, "page", 1)
	limit := queryInt(c, "limit", 20)
	kw := strings.ToLower(c.r.URL.Query().Get("keyword"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*annotation
	for _, a := range s.st.annotations {
		if kw == "" || strings.Contains(strings.ToLower(a.question), kw) || strings.Contains(strings.ToLower(a.answer), kw) {
			list = append(list, a)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq > list[j].seq })
	from, to := pageBounds(page, limit, len(list))
	data := make([]any, 0, to-from)
	for _, a := range list[from:to] {
		data = append(data, a.json())
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"data": data, "has_more": to < len(list), "limit": limit, "total": len(list), "page": page,
	})
}

func (s *Server) updateAnnotation(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.annotations[c.params["annotation_id"]]
	if a == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Annotation not found.")
		return
	}
	a.question, _ = c.json["question"].(string)
	a.answer, _ = c.json["answer"].(string)
	writeJSON(c.w, http.StatusOK, a.json())
}

func (s *Server) deleteAnnotation(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.annotations[c.params["annotation_id"]] == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Annotation not found.")
		return
	}
	delete(s.st.annotations, c.params["annotation_id"])
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) annotationReply(c *call) {
	action := c.params["action"]
	s.mu.Lock()
	j := &job{id: s.st.newID(), action: action, seq: s.st.next()}
	s.st.addJob(j)
	s.st.annotationReply = action == "enable"
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, map[string]any{"job_id": j.id, "job_status": "waiting"})
}

func (s *Server) annotationReplyStatus(c *call) {
	s.mu.Lock()
	j := s.st.jobs[c.params["job_id"]]
	s.mu.Unlock()
	if j == nil || j.action != c.params["action"] {
		writeError(c.w, http.StatusNotFound, "not_found", "The job does not exist.")
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"job_id": j.id, "job_status": "completed", "error_msg": ""})
}

func (s *Server) getWorkflowRun(c *call) {
	s.mu.Lock()
	r := s.st.runs[c.params["workflow_run_id"]]
	var body map[string]any
	if r != nil {
		body = r.json()
	}
	s.mu.Unlock()
	if r == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Workflow run not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, body)
}

func (s *Server) getWorkflowLogs(c *call) {
	q := c.r.URL.Query()
	page := queryInt(c, "page", 1)
	limit := queryInt(c, "limit", 20)
	status := q.Get("status")
	kw := strings.ToLower(q.Get("keyword"))
	session := q.Get("created_by_end_user_session_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*run
	for _, r := range s.st.runs {
		if modeBit(s.cfg.mode)&workflowApps == 0 {
			break // only workflow and chatflow apps log workflow runs
		}
		if status != "" && r.status != status {
			continue
		}
		if session != "" && r.owner != session {
			continue
		}
		if kw != "" {
			in, _ := json.Marshal(r.inputs)
			out, _ := json.Marshal(r.outputs)
			if !strings.Contains(strings.ToLower(string(in)+string(out)), kw) {
				continue
			}
		}
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq > list[j].seq })
	from, to := pageBounds(page, limit, len(list))
	data := make([]any, 0, to-from)
	for _, r := range list[from:to] {
		u := s.st.user(r.owner, s.cfg.now())
		var errMsg any
		if r.err != "" {
			errMsg = r.err
		}
		var finished any
		if r.finished != 0 {
			finished = r.finished
		}
		data = append(data, map[string]any{
			"id": r.id + "", "created_from": "service-api", "created_by_role": "end_user",
			"created_by_account": nil,
			"created_by_end_user": map[string]any{
				"id": u.id, "type": "service_api", "is_anonymous": u.anonymous, "session_id": u.session,
			},
			"created_at": r.created, "details": nil,
			"workflow_run": map[string]any{
				"id": r.id, "version": "1", "status": r.status, "triggered_from": "app-run",
				"error": errMsg, "elapsed_time": r.elapsed, "total_tokens": r.tokens, "total_steps": r.steps,
				"created_at": r.created, "finished_at": finished, "exceptions_count": 0,
			},
		})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"page": page, "limit": limit, "total": len(list), "has_more": to < len(list), "data": data,
	})
}

func (s *Server) getHumanInputForm(c *call) {
	s.mu.Lock()
	f := s.st.forms[c.params["form_token"]]
	var submitted bool
	var expires int64
	if f != nil {
		submitted, expires = f.submitted, f.expires
	}
	s.mu.Unlock()
	if f == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Form not found.")
		return
	}
	if submitted {
		writeError(c.w, http.StatusPreconditionFailed, "human_input_form_submitted", "The form has already been submitted.")
		return
	}
	if s.cfg.now().Unix() > expires {
		writeError(c.w, http.StatusPreconditionFailed, "human_input_form_expired", "The form has expired.")
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"form_content":            formContent,
		"inputs":                  formInputs,
		"resolved_default_values": map[string]any{},
		"user_actions":            formActions,
		"expiration_time":         expires,
	})
}

func (s *Server) submitHumanInputForm(c *call) {
	action, _ := c.json["action"].(string)
	inputs, _ := c.json["inputs"].(map[string]any)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.st.forms[c.params["form_token"]]
	if f == nil {
		writeError(c.w, http.StatusNotFound, "not_found", "Form not found.")
		return
	}
	if f.submitted {
		writeError(c.w, http.StatusPreconditionFailed, "human_input_form_submitted", "The form has already been submitted.")
		return
	}
	if s.cfg.now().Unix() > f.expires {
		writeError(c.w, http.StatusPreconditionFailed, "human_input_form_expired", "The form has expired.")
		return
	}
	known := false
	for _, a := range formActions {
		known = known || a.(map[string]any)["id"] == action
	}
	if !known {
		writeError(c.w, http.StatusBadRequest, "invalid_param", "Invalid action: "+action)
		return
	}
	f.submitted, f.action, f.data = true, action, inputs
	// The run goes on in the background from here; GET
	// /workflow/{id}/events follows it.
	if rn := s.st.runs[f.runID]; rn != nil && rn.state != nil {
		rn.state.resumeLocked()
	}
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// streamWorkflowEvents follows a run the way Dify does: a finished run is
// one synthesized workflow_finished; a live one is, with
// include_state_snapshot=true, a snapshot of the run so far and then the
// live events, or else a ping and the live events only.
func (s *Server) streamWorkflowEvents(c *call) {
	q := c.r.URL.Query()
	snapshot := strings.EqualFold(q.Get("include_state_snapshot"), "true")
	continueOnPause := strings.EqualFold(q.Get("continue_on_pause"), "true")
	s.mu.Lock()
	rn := s.st.runs[c.params["workflow_run_id"]]
	if rn == nil || rn.owner != sessionOf(c.user) {
		s.mu.Unlock()
		writeError(c.w, http.StatusNotFound, "not_found", "Workflow run not found")
		return
	}
	if runEnded(rn.status) || rn.log == nil {
		ev := map[string]any{
			"event": "workflow_finished", "task_id": rn.id, "workflow_run_id": rn.id, "data": rn.finishedData(),
		}
		s.mu.Unlock()
		startStream(c.w)
		em := &emitter{ctx: c.r.Context(), w: c.w}
		em.send(ev)
		em.flushPending()
		return
	}
	lg := rn.log
	next := len(lg.events)
	var first []map[string]any
	if snapshot {
		first = s.snapshotLocked(rn)
	}
	paused := rn.status == "paused"
	s.mu.Unlock()

	startStream(c.w)
	em := &emitter{ctx: c.r.Context(), w: c.w}
	if !snapshot {
		em.ping()
	}
	for _, ev := range first {
		em.send(ev)
	}
	em.flushPending()
	if paused && snapshot && !continueOnPause {
		return
	}
	s.relay(em, lg, next, continueOnPause, s.cfg.reattachIdle)
}

// snapshotLocked rebuilds the state of a live run for a reattached stream:
// workflow_started, message_replace with the stored answer, the node
// executions so far without their details, and for a paused run its
// human_input_required and workflow_paused events. The events carry the
// run id as task_id. s.mu must be held.
func (s *Server) snapshotLocked(rn *run) []map[string]any {
	now := s.cfg.now().Unix()
	m := s.st.msgs[rn.message]
	answer := ""
	if m != nil {
		answer = m.answer
	}
	chat := s.cfg.mode != ModeWorkflow
	ev := func(name string) map[string]any {
		if !chat {
			// A workflow app's events name no conversation or message.
			return map[string]any{"event": name, "task_id": rn.id}
		}
		return map[string]any{
			"event": name, "task_id": rn.id, "conversation_id": rn.conv, "message_id": rn.message,
			"created_at": now,
		}
	}
	started := ev("workflow_started")
	started["workflow_run_id"] = rn.id
	started["data"] = map[string]any{
		"id": rn.id, "workflow_id": rn.workflowID, "inputs": rn.inputs, "created_at": rn.created,
	}
	out := []map[string]any{started}
	if chat {
		replace := ev("message_replace")
		replace["answer"] = answer
		replace["reason"] = ""
		out = append(out, replace)
	}
	for _, ne := range rn.nodes {
		ns := ev("node_started")
		ns["workflow_run_id"] = rn.id
		ns["data"] = nodeStartedData(ne.n, ne.index, ne.pred, ne.id, nil, ne.created)
		out = append(out, ns)
		if ne.finished {
			nf := ev("node_finished")
			nf["workflow_run_id"] = rn.id
			nf["data"] = nodeFinishedData(ne.n, ne.index, ne.pred, ne.id, nil, nil, ne.status, "", ne.created, ne.created)
			out = append(out, nf)
		}
	}
	for _, pe := range rn.pauseEvents {
		cp := make(map[string]any, len(pe))
		for k, v := range pe {
			cp[k] = v
		}
		cp["task_id"] = rn.id
		out = append(out, cp)
	}
	return out
}

// pageBounds returns the slice bounds of page (from 1) of limit items in a
// list of n, clamped to the list, without overflowing for huge pages.
func pageBounds(page, limit, n int) (from, to int) {
	if limit <= 0 || page <= 1 {
		return 0, min(max(limit, 0), n)
	}
	if page-1 > n/limit {
		return n, n
	}
	from = min((page-1)*limit, n)
	return from, min(from+limit, n)
}
