package chatflow

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestAppInfo(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"name":"Helper","description":"d","tags":["a"],"mode":"advanced-chat","author_name":"Ann","icon":"🤖"}`)
	})
	info, err := c.AppInfo(context.Background())
	if err != nil || info.Name != "Helper" || info.Mode != "advanced-chat" || info.AuthorName != "Ann" || len(info.Tags) != 1 {
		t.Errorf("AppInfo = %+v, %v", info, err)
	}
}

func TestAppParametersCaptured(t *testing.T) {
	t.Parallel()
	body := surfaceCapture(t, "reply-parameters-01.json")
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /parameters", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, string(body)) })
	p, err := c.AppParameters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.SystemParameters.WorkflowFileUploadLimit != 10 || p.SystemParameters.FileSizeLimit != 15 {
		t.Errorf("system parameters = %+v", p.SystemParameters)
	}
	if _, ok := p.FileUpload.Get("allowed_file_extensions"); !ok {
		t.Errorf("file_upload extras not kept: %+v", p.FileUpload)
	}
}

func TestAppParametersForm(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /parameters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"opening_statement":"Hi","suggested_questions":["q"],
		"user_input_form":[{"text-input":{"label":"Name","variable":"name","required":true,"default":""}},
		{"select":{"label":"Lang","variable":"lang","required":false,"default":"en","options":["en","fr"]}}],
		"file_upload":null,"system_parameters":{"file_size_limit":15},"unknown_feature":{"enabled":true}}`)
	})
	p, err := c.AppParameters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.OpeningStatement != "Hi" || len(p.UserInputForm) != 2 {
		t.Fatalf("parameters = %+v", p)
	}
	sel, err := p.UserInputForm[1].AsAppParametersResponseUserInputForm2()
	if err != nil || sel.Select.Variable != "lang" || len(sel.Select.Options) != 2 {
		t.Errorf("select = %+v, %v", sel, err)
	}
}

func TestAppMetaCaptured(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"reply-meta-01.json", "reply-meta-02.json"} {
		body := surfaceCapture(t, name)
		c, mux, _ := setup(t)
		mux.HandleFunc("GET /meta", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, string(body)) })
		m, err := c.AppMeta(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "reply-meta-01.json" {
			icon, ok := m.ToolIcons["crawl_job"]
			s, err := icon.AsAppMetaResponseToolIcons0()
			if !ok || err != nil || !strings.HasSuffix(s, "/icon") {
				t.Errorf("tool icon = %v, %v", s, err)
			}
		}
	}
}

func TestAppSite(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /site", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"title":"My bot","chat_color_theme":null,"chat_color_theme_inverted":false,"icon_type":"emoji",
		"icon":"🤖","icon_background":"#fff","icon_url":null,"description":null,"copyright":null,"privacy_policy":null,
		"custom_disclaimer":"","default_language":"en-US","show_workflow_steps":true,"use_icon_as_answer_icon":false}`)
	})
	s, err := c.AppSite(context.Background())
	if err != nil || s.Title != "My bot" || !s.ShowWorkflowSteps || s.DefaultLanguage != "en-US" {
		t.Errorf("AppSite = %+v, %v", s, err)
	}
}

// Every helper returns the server's error as an *APIError: 401 for all,
// plus the statuses the operation documents, and an HTML page from a proxy.
func TestHelpersReturnAPIErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	id := uuidN(5, 1)
	calls := []struct {
		route    string
		statuses []int
		call     func(c *Client) error
	}{
		{"GET /conversations", []int{400, 404}, func(c *Client) error { return firstErr(c.Conversations(ctx, "u")) }},
		{"GET /messages", []int{400, 404}, func(c *Client) error { return firstErr(c.Messages(ctx, id, "u")) }},
		{"GET /conversations/{id}/variables", []int{400, 404}, func(c *Client) error { return firstErr(c.ConversationVariables(ctx, id, "u")) }},
		{"POST /conversations/{id}/name", []int{400, 404}, func(c *Client) error { _, err := c.RenameConversation(ctx, id, "u", "n"); return err }},
		{"PUT /conversations/{id}/variables/{vid}", []int{400, 404}, func(c *Client) error {
			_, err := c.UpdateConversationVariable(ctx, id, id, "u", "v")
			return err
		}},
		{"DELETE /conversations/{id}", []int{400, 404}, func(c *Client) error { return c.DeleteConversation(ctx, id, "u") }},
		{"POST /chat-messages/{id}/stop", []int{400}, func(c *Client) error { return c.StopMessage(ctx, id, "u") }},
		{"GET /messages/{id}/suggested", []int{400, 404, 500}, func(c *Client) error { _, err := c.SuggestedQuestions(ctx, id, "u"); return err }},
		{"POST /messages/{id}/feedbacks", []int{400, 404}, func(c *Client) error { return c.SendFeedback(ctx, id, "u", RatingLike, "") }},
		{"GET /app/feedbacks", nil, func(c *Client) error { return firstErr(c.AppFeedbacks(ctx)) }},
		{"POST /files/upload", []int{400, 413, 415}, func(c *Client) error {
			_, err := c.UploadFile(ctx, "u", "a.txt", strings.NewReader("x"))
			return err
		}},
		{"GET /files/{id}/preview", []int{404}, func(c *Client) error { _, err := c.PreviewFile(ctx, id, "u", false); return err }},
		{"POST /audio-to-text", []int{400, 413, 415, 500}, func(c *Client) error {
			_, err := c.AudioToText(ctx, "u", "a.mp3", strings.NewReader("x"))
			return err
		}},
		{"POST /text-to-audio", []int{400, 500}, func(c *Client) error { _, err := c.TextToAudio(ctx, TextToAudioRequest{Text: "x"}); return err }},
		{"GET /info", nil, func(c *Client) error { _, err := c.AppInfo(ctx); return err }},
		{"GET /parameters", []int{400}, func(c *Client) error { _, err := c.AppParameters(ctx); return err }},
		{"GET /meta", nil, func(c *Client) error { _, err := c.AppMeta(ctx); return err }},
		{"GET /site", nil, func(c *Client) error { _, err := c.AppSite(ctx); return err }},
		{"GET /apps/annotations", nil, func(c *Client) error { return firstErr(c.Annotations(ctx)) }},
		{"POST /apps/annotations", nil, func(c *Client) error { _, err := c.CreateAnnotation(ctx, "q", "a"); return err }},
		{"PUT /apps/annotations/{id}", []int{404}, func(c *Client) error { _, err := c.UpdateAnnotation(ctx, id, "q", "a"); return err }},
		{"DELETE /apps/annotations/{id}", []int{404}, func(c *Client) error { return c.DeleteAnnotation(ctx, id) }},
		{"POST /apps/annotation-reply/{action}", nil, func(c *Client) error {
			_, err := c.EnableAnnotationReply(ctx, AnnotationReplySettings{EmbeddingModelName: "m", EmbeddingProviderName: "p", ScoreThreshold: 0.9})
			return err
		}},
		{"GET /apps/annotation-reply/{action}/status/{job}", []int{400}, func(c *Client) error {
			_, err := c.AnnotationReplyStatus(ctx, AnnotationReplyEnable, id)
			return err
		}},
		{"GET /workflows/run/{id}", []int{400, 404}, func(c *Client) error { _, err := c.WorkflowRun(ctx, id); return err }},
		{"GET /workflows/logs", []int{400}, func(c *Client) error { return firstErr(c.WorkflowLogs(ctx, nil)) }},
		{"GET /end-users/{id}", []int{404}, func(c *Client) error { _, err := c.EndUser(ctx, id); return err }},
		{"GET /form/human_input/{token}", []int{404, 412}, func(c *Client) error { _, err := c.HumanInputForm(ctx, "tok-1"); return err }},
		{"POST /form/human_input/{token}", []int{400, 404, 412}, func(c *Client) error {
			return c.SubmitHumanInputForm(ctx, "tok-1", "u", "approve", nil)
		}},
	}
	for _, tc := range calls {
		for _, status := range append([]int{401, 403}, tc.statuses...) {
			c, mux, _ := setup(t)
			mux.HandleFunc(tc.route, func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, status, `{"code":"some_code","message":"Some message.","status":`+strconv.Itoa(status)+`}`)
			})
			err := tc.call(c)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.Code != "some_code" || apiErr.Message != "Some message." {
				t.Errorf("%s answering %d: err = %v", tc.route, status, err)
			}
		}
		// A proxy's HTML page.
		c, mux, _ := setup(t)
		mux.HandleFunc(tc.route, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = w.Write([]byte("<html><title>502 Bad Gateway</title></html>"))
		})
		var apiErr *APIError
		if err := tc.call(c); !errors.As(err, &apiErr) || apiErr.StatusCode != 502 {
			t.Errorf("%s answering 502 HTML: err = %v", tc.route, err)
		}
	}
}
