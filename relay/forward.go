package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/difykit/chatflow/gen"
)

// This file sends the requests other than chat runs on, through the
// generated client of c.API() (so with the client's auth, retries and
// limits), and hands the reply back.

// withQuery replaces the query of the request sent upstream with the
// browser's, whose user is replaced by user.
func withQuery(r *http.Request, user string) gen.RequestEditorFn {
	q := url.Values{}
	for k, v := range r.URL.Query() {
		q[k] = v
	}
	q.Set("user", user)
	raw := q.Encode()
	return func(_ context.Context, req *http.Request) error {
		req.URL.RawQuery = raw
		return nil
	}
}

// sendJSON reads the browser's JSON body, sets its user and sends it with
// send.
func (h *Handler) sendJSON(w http.ResponseWriter, r *http.Request, c call, send func(ctx context.Context, body io.Reader) (*http.Response, error)) {
	m := h.jsonBody(w, r, c.user)
	if m == nil {
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		h.writeError(w, http.StatusBadRequest, "invalid_param", "The request body is not a JSON object.")
		return
	}
	h.reply(w, r)(send(r.Context(), bytes.NewReader(b)))
}

// sendMultipart rebuilds the browser's upload with its user and sends it
// with send.
func (h *Handler) sendMultipart(w http.ResponseWriter, r *http.Request, c call, send func(ctx context.Context, contentType string, body io.Reader) (*http.Response, error)) {
	body, ct, ok := h.multipartBody(w, r, c.user)
	if !ok {
		return
	}
	h.reply(w, r)(send(r.Context(), ct, bytes.NewReader(body.Bytes())))
}

// reply returns the function that hands an upstream reply to the browser:
// its status, Content-Type and body, with every piece of the key removed,
// or the error in Dify's shape.
func (h *Handler) reply(w http.ResponseWriter, r *http.Request) func(*http.Response, error) {
	return func(resp *http.Response, err error) {
		if err != nil {
			if r.Context().Err() == nil {
				h.writeDifyError(w, h.upstreamError(err))
			}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body) // bounded by the client's WithMaxReplyBytes
		if err != nil {
			if r.Context().Err() == nil {
				h.writeDifyError(w, h.upstreamError(err))
			}
			return
		}
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", h.sec.text(ct))
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(h.sec.bytes(b))
	}
}

func (h *Handler) stop(w http.ResponseWriter, r *http.Request, c call) {
	h.sendJSON(w, r, c, func(ctx context.Context, body io.Reader) (*http.Response, error) {
		return h.raw().StopChatMessageGenerationWithBody(ctx, c.ids[0], "application/json", body)
	})
}

func (h *Handler) conversations(w http.ResponseWriter, r *http.Request, c call) {
	h.reply(w, r)(h.raw().GetConversationsList(r.Context(), &gen.GetConversationsListParams{User: &c.user}, withQuery(r, c.user)))
}

func (h *Handler) deleteConversation(w http.ResponseWriter, r *http.Request, c call) {
	h.sendJSON(w, r, c, func(ctx context.Context, body io.Reader) (*http.Response, error) {
		return h.raw().DeleteConversationWithBody(ctx, c.ids[0], "application/json", body)
	})
}

func (h *Handler) renameConversation(w http.ResponseWriter, r *http.Request, c call) {
	h.sendJSON(w, r, c, func(ctx context.Context, body io.Reader) (*http.Response, error) {
		return h.raw().RenameConversationWithBody(ctx, c.ids[0], "application/json", body)
	})
}

func (h *Handler) variables(w http.ResponseWriter, r *http.Request, c call) {
	h.reply(w, r)(h.raw().GetConversationVariables(r.Context(), c.ids[0], &gen.GetConversationVariablesParams{User: &c.user}, withQuery(r, c.user)))
}

func (h *Handler) messages(w http.ResponseWriter, r *http.Request, c call) {
	p := &gen.GetConversationHistoryParams{User: &c.user, ConversationID: r.URL.Query().Get("conversation_id")}
	h.reply(w, r)(h.raw().GetConversationHistory(r.Context(), p, withQuery(r, c.user)))
}

func (h *Handler) feedback(w http.ResponseWriter, r *http.Request, c call) {
	h.sendJSON(w, r, c, func(ctx context.Context, body io.Reader) (*http.Response, error) {
		return h.raw().PostChatMessageFeedbackWithBody(ctx, c.ids[0], "application/json", body)
	})
}

func (h *Handler) suggested(w http.ResponseWriter, r *http.Request, c call) {
	h.reply(w, r)(h.raw().GetSuggestedQuestions(r.Context(), c.ids[0], &gen.GetSuggestedQuestionsParams{User: c.user}, withQuery(r, c.user)))
}

func (h *Handler) parameters(w http.ResponseWriter, r *http.Request, c call) {
	h.reply(w, r)(h.raw().GetChatAppParameters(r.Context(), withQuery(r, c.user)))
}

func (h *Handler) meta(w http.ResponseWriter, r *http.Request, c call) {
	h.reply(w, r)(h.raw().GetChatAppMeta(r.Context(), withQuery(r, c.user)))
}

func (h *Handler) info(w http.ResponseWriter, r *http.Request, c call) {
	h.reply(w, r)(h.raw().GetChatAppInfo(r.Context(), withQuery(r, c.user)))
}

func (h *Handler) site(w http.ResponseWriter, r *http.Request, c call) {
	h.reply(w, r)(h.raw().GetChatWebAppSettings(r.Context(), withQuery(r, c.user)))
}

func (h *Handler) upload(w http.ResponseWriter, r *http.Request, c call) {
	h.sendMultipart(w, r, c, func(ctx context.Context, ct string, body io.Reader) (*http.Response, error) {
		return h.raw().UploadChatFileWithBody(ctx, ct, body)
	})
}

func (h *Handler) audioToText(w http.ResponseWriter, r *http.Request, c call) {
	h.sendMultipart(w, r, c, func(ctx context.Context, ct string, body io.Reader) (*http.Response, error) {
		return h.raw().AudioToTextWithBody(ctx, ct, body)
	})
}

func (h *Handler) textToAudio(w http.ResponseWriter, r *http.Request, c call) {
	h.sendJSON(w, r, c, func(ctx context.Context, body io.Reader) (*http.Response, error) {
		return h.raw().TextToAudioChatWithBody(ctx, "application/json", body)
	})
}

func (h *Handler) form(w http.ResponseWriter, r *http.Request, c call) {
	h.reply(w, r)(h.raw().GetChatflowHumanInputForm(r.Context(), c.ids[0], withQuery(r, c.user)))
}

func (h *Handler) submitForm(w http.ResponseWriter, r *http.Request, c call) {
	h.sendJSON(w, r, c, func(ctx context.Context, body io.Reader) (*http.Response, error) {
		return h.raw().SubmitChatflowHumanInputFormWithBody(ctx, c.ids[0], "application/json", body)
	})
}

// raw is the generated client of the relay's chatflow.Client.
func (h *Handler) raw() gen.ClientInterface { return h.c.API().ClientInterface }
