package chatflowtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/internal/spectest"
)

// A scenario step: one request to the fake and what must come back. Every
// request meant to be valid is checked against the API description, and
// every reply (2xx and errors alike; streams event by event) is.
type step struct {
	name         string
	method, path string
	body         string // JSON body ("" for none); {name} placeholders are filled in
	upload       *fileUpload
	status       int
	code         string // the error code, for an error reply
	message      string // the error message, when it matters
	invalid      bool   // the request is wrong on purpose: not checked against the description
	unlisted     bool   // the description does not list this reply status for the operation: the reply is not checked against it
	save         func(v map[string]any, evs []event, h http.Header, vars map[string]string)
}

type fileUpload struct {
	name, contentType string
	size              int
}

// scenario is a fake configuration and the steps run against it, in order.
type scenario struct {
	name  string
	opts  []chatflowtest.Option
	steps []step
}

var scenarios = []scenario{{
	name: "default server",
	steps: []step{
		{name: "blocking chat", method: "POST", path: "/chat-messages", body: `{"inputs":{},"query":"hello world","user":"sam"}`, status: 200,
			save: func(v map[string]any, _ []event, _ http.Header, vars map[string]string) {
				vars["conv"], vars["msg"] = v["conversation_id"].(string), v["message_id"].(string)
			}},
		{name: "streaming chat", method: "POST", path: "/chat-messages", body: `{"inputs":{},"query":"more","user":"sam","conversation_id":"{conv}","response_mode":"streaming"}`, status: 200,
			save: func(_ map[string]any, evs []event, h http.Header, vars map[string]string) {
				if h.Get("X-Workflow-Run-ID") != "" {
					panic("the fake sent X-Workflow-Run-ID, which Dify 1.16.1 never sends")
				}
				vars["run"] = evs[0].data["workflow_run_id"].(string)
				vars["task"] = evs[0].data["task_id"].(string)
			}},
		{name: "malformed conversation id", method: "POST", path: "/chat-messages", body: `{"inputs":{},"query":"q","user":"sam","conversation_id":"12"}`, status: 400, code: "invalid_param", invalid: true},
		{name: "user only in the query", method: "POST", path: "/chat-messages?user=sam", body: `{"inputs":{},"query":"q"}`, status: 400, code: "invalid_param", message: "Arg user must be provided.", invalid: true},
		{name: "stop a finished task", method: "POST", path: "/chat-messages/{task}/stop", body: `{"user":"sam"}`, status: 200},
		{name: "stop an unknown task", method: "POST", path: "/chat-messages/whatever/stop", body: `{"user":"sam"}`, status: 200},
		{name: "reattach to a finished run", method: "GET", path: "/workflow/{run}/events?user=sam&include_state_snapshot=true", status: 200},
		{name: "reattach as another user", method: "GET", path: "/workflow/{run}/events?user=max", status: 404, code: "not_found", message: "Workflow run not found"},
		{name: "run detail", method: "GET", path: "/workflows/run/{run}", status: 200},
		{name: "workflow logs", method: "GET", path: "/workflows/logs?status=succeeded", status: 200},
		{name: "workflow logs, status running", method: "GET", path: "/workflows/logs?status=running", status: 400, code: "invalid_param", invalid: true},
		{name: "messages", method: "GET", path: "/messages?user=sam&conversation_id={conv}", status: 200},
		{name: "messages, limit 0", method: "GET", path: "/messages?user=sam&conversation_id={conv}&limit=0", status: 400, code: "invalid_param", invalid: true},
		{name: "feedback", method: "POST", path: "/messages/{msg}/feedbacks", body: `{"rating":"like","user":"sam"}`, status: 200},
		{name: "feedback, bad rating", method: "POST", path: "/messages/{msg}/feedbacks", body: `{"rating":"meh","user":"sam"}`, status: 400, code: "invalid_param", invalid: true},
		{name: "app feedbacks", method: "GET", path: "/app/feedbacks?page=1&limit=20", status: 200},
		{name: "app feedbacks, limit 0", method: "GET", path: "/app/feedbacks?limit=0", status: 400, code: "invalid_param", invalid: true, unlisted: true},
		{name: "variables", method: "GET", path: "/conversations/{conv}/variables?user=sam&variable_name=TOP", status: 200},
		{name: "rename", method: "POST", path: "/conversations/{conv}/name", body: `{"name":"renamed","user":"sam"}`, status: 200},
		{name: "upload", method: "POST", path: "/files/upload", upload: &fileUpload{"notes.txt", "text/plain", 10}, status: 201,
			save: func(v map[string]any, _ []event, _ http.Header, vars map[string]string) {
				vars["file"] = v["id"].(string)
			}},
		{name: "preview of a file no message uses", method: "GET", path: "/files/{file}/preview", status: 404, code: "file_not_found"},
		{name: "chat with the file", method: "POST", path: "/chat-messages", body: `{"inputs":{},"query":"see","user":"sam","files":[{"type":"document","transfer_method":"local_file","upload_file_id":"{file}"}]}`, status: 200},
		{name: "preview", method: "GET", path: "/files/{file}/preview", status: 200},
		{name: "upload, bad name", method: "POST", path: "/files/upload", upload: &fileUpload{"a|b.txt", "text/plain", 1}, status: 400, code: "invalid_param"},
		{name: "upload, image too large", method: "POST", path: "/files/upload", upload: &fileUpload{"big.png", "image/png", 10<<20 + 1}, status: 413, code: "file_too_large"},
		{name: "audio to text", method: "POST", path: "/audio-to-text", upload: &fileUpload{"v.wav", "audio/wav", 4}, status: 200},
		{name: "audio to text, x-wav", method: "POST", path: "/audio-to-text", upload: &fileUpload{"v.wav", "audio/x-wav", 4}, status: 415, code: "unsupported_audio_type"},
		{name: "site", method: "GET", path: "/site", status: 200},
		{name: "create annotation", method: "POST", path: "/apps/annotations", body: `{"question":"q","answer":"a"}`, status: 201},
		{name: "create annotation, no answer", method: "POST", path: "/apps/annotations", body: `{"question":"q"}`, status: 400, code: "invalid_param", invalid: true, unlisted: true},
		{name: "annotations, huge page", method: "GET", path: "/apps/annotations?page=99999&limit=100", status: 200},
		{name: "annotation reply", method: "POST", path: "/apps/annotation-reply/enable", body: `{"embedding_provider_name":"p","embedding_model_name":"m","score_threshold":0.8}`, status: 200,
			save: func(v map[string]any, _ []event, _ http.Header, vars map[string]string) {
				vars["job"] = v["job_id"].(string)
			}},
		{name: "annotation reply job", method: "GET", path: "/apps/annotation-reply/enable/status/{job}", status: 200},
		{name: "unknown annotation reply job", method: "GET", path: "/apps/annotation-reply/enable/status/00000000-0000-4000-8000-00000000dead", status: 404, code: "not_found", message: "The job does not exist."},
		{name: "delete, user only in the query", method: "DELETE", path: "/conversations/{conv}?user=sam", body: `{}`, status: 404, code: "not_found"},
		{name: "delete", method: "DELETE", path: "/conversations/{conv}", body: `{"user":"sam"}`, status: 204},
		{name: "delete again", method: "DELETE", path: "/conversations/{conv}", body: `{"user":"sam"}`, status: 404, code: "not_found", message: "Conversation Not Exists."},
	},
}, {
	name: "later source validation",
	opts: []chatflowtest.Option{chatflowtest.WithValidationStatus(422)},
	steps: []step{
		{name: "blocking chat", method: "POST", path: "/chat-messages", body: `{"inputs":{},"query":"hello","user":"sam"}`, status: 200,
			save: func(v map[string]any, _ []event, _ http.Header, vars map[string]string) {
				vars["conv"], vars["msg"] = v["conversation_id"].(string), v["message_id"].(string)
			}},
		{name: "messages, limit 0", method: "GET", path: "/messages?user=sam&conversation_id={conv}&limit=0", status: 422, code: "unprocessable_entity", invalid: true},
		{name: "feedback, bad rating", method: "POST", path: "/messages/{msg}/feedbacks", body: `{"rating":"meh","user":"sam"}`, status: 422, code: "unprocessable_entity", invalid: true},
		{name: "app feedbacks, limit 0", method: "GET", path: "/app/feedbacks?limit=0", status: 422, code: "unprocessable_entity", invalid: true},
		{name: "create annotation, no answer", method: "POST", path: "/apps/annotations", body: `{"question":"q"}`, status: 422, code: "unprocessable_entity", invalid: true},
		{name: "conversations, limit 0", method: "GET", path: "/conversations?user=sam&limit=0", status: 400, code: "invalid_param", invalid: true},
	},
}, {
	name: "features off",
	opts: []chatflowtest.Option{chatflowtest.WithSpeechToText(false), chatflowtest.WithSiteEnabled(false), chatflowtest.WithBlockedExtensions("exe")},
	steps: []step{
		{name: "site off", method: "GET", path: "/site", status: 403, code: "forbidden"},
		{name: "speech to text off", method: "POST", path: "/audio-to-text", upload: &fileUpload{"v.wav", "audio/wav", 4}, status: 400, code: "invalid_param", message: "Speech to text is not enabled"},
		{name: "blocked extension", method: "POST", path: "/files/upload", upload: &fileUpload{"x.exe", "application/octet-stream", 4}, status: 400, code: "invalid_param"},
	},
}}

// TestScenarios runs the scenario list against the fake and checks every
// request and reply against the API description (kin-openapi).
func TestScenarios(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, sc.opts...)
			vars := map[string]string{}
			fill := func(in string) string {
				for k, v := range vars {
					in = strings.ReplaceAll(in, "{"+k+"}", v)
				}
				return in
			}
			for _, st := range sc.steps {
				ct := ""
				var raw []byte
				switch {
				case st.upload != nil:
					raw, ct = multipartBody(t, "file", st.upload.name, st.upload.contentType, make([]byte, st.upload.size), map[string]string{"user": "sam"})
				case st.body != "":
					raw, ct = []byte(fill(st.body)), "application/json"
				}
				newReq := func() *http.Request {
					var body io.Reader
					if raw != nil {
						body = bytes.NewReader(raw)
					}
					req, err := http.NewRequest(st.method, s.URL+fill(st.path), body)
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Authorization", "Bearer "+s.APIKey)
					if ct != "" {
						req.Header.Set("Content-Type", ct)
					}
					return req
				}
				if !st.invalid {
					if err := spectest.ValidateRequest(newReq(), "/v1"); err != nil {
						t.Errorf("%s: request does not match the description: %v", st.name, err)
					}
				}
				req := newReq()
				r := roundTrip(t, s, req)
				if r.status != st.status {
					t.Fatalf("%s: status %d, want %d (%s)", st.name, r.status, st.status, r.body)
				}
				var v map[string]any
				var evs []event
				if strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
					evs = readEvents(t, r.body)
					checkEvents(t, evs)
					// The status and headers of the stream reply.
					if err := spectest.ValidateResponse(req, "/v1", r.status, r.header, nil); err != nil && !strings.Contains(err.Error(), "body") {
						t.Errorf("%s: stream reply does not match the description: %v", st.name, err)
					}
				} else {
					if err := spectest.ValidateResponse(req, "/v1", r.status, r.header, r.body); err != nil && !st.unlisted {
						t.Errorf("%s: reply %d %s does not match the description: %v", st.name, r.status, r.body, err)
					}
					if len(r.body) > 0 && strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
						_ = json.Unmarshal(r.body, &v)
					}
				}
				if st.code != "" {
					if v["code"] != st.code || v["status"] != float64(st.status) {
						t.Errorf("%s: error body %s, want code %s", st.name, r.body, st.code)
					}
					if st.message != "" && v["message"] != st.message {
						t.Errorf("%s: message %v, want %q", st.name, v["message"], st.message)
					}
					if st.status == 422 {
						var fe []map[string]any
						if err := json.Unmarshal([]byte(v["message"].(string)), &fe); err != nil || len(fe) == 0 {
							t.Errorf("%s: 422 message is not a JSON array of field errors: %v", st.name, v["message"])
						}
					}
				}
				if st.save != nil {
					st.save(v, evs, r.header, vars)
				}
			}
		})
	}
}
