package chatflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/difykit/chatflow/gen"
)

// blockingReply is a blocking chat reply shaped like Dify's: the answer,
// usage and three cited passages.
var blockingReply = func() []byte {
	resources := make([]map[string]any, 3)
	for i := range resources {
		resources[i] = map[string]any{
			"position": i + 1, "dataset_id": uuidN(7, i), "dataset_name": "Handbook",
			"document_id": uuidN(8, i), "document_name": fmt.Sprintf("chapter-%d.md", i),
			"segment_id": uuidN(9, i), "score": 0.82 - float64(i)/10,
			"content": "Opening hours are nine to five on weekdays; the office is closed on public holidays.",
		}
	}
	b, _ := json.Marshal(map[string]any{
		"event": "message", "task_id": uuidN(1, 1), "id": uuidN(2, 1), "message_id": uuidN(2, 1),
		"conversation_id": uuidN(3, 1), "mode": "advanced-chat",
		"answer": "The office is open from nine to five on weekdays and closed on public holidays. Anything else?",
		"metadata": map[string]any{
			"annotation_reply": nil,
			"usage": map[string]any{
				"prompt_tokens": 1033, "prompt_unit_price": "0.001", "prompt_price_unit": "0.001", "prompt_price": "0.0010330",
				"completion_tokens": 128, "completion_unit_price": "0.002", "completion_price_unit": "0.001", "completion_price": "0.0002560",
				"total_tokens": 1161, "total_price": "0.0012890", "currency": "USD", "latency": 0.7682,
			},
			"retriever_resources": resources,
		},
		"created_at": 1705407629,
	})
	return b
}()

// handBlockingReply is what a hand-written client decodes the reply into.
type handBlockingReply struct {
	Event          string `json:"event"`
	TaskID         string `json:"task_id"`
	ID             string `json:"id"`
	MessageID      string `json:"message_id"`
	ConversationID string `json:"conversation_id"`
	Mode           string `json:"mode"`
	Answer         string `json:"answer"`
	Metadata       struct {
		Usage struct {
			PromptTokens        int     `json:"prompt_tokens"`
			PromptUnitPrice     string  `json:"prompt_unit_price"`
			PromptPriceUnit     string  `json:"prompt_price_unit"`
			PromptPrice         string  `json:"prompt_price"`
			CompletionTokens    int     `json:"completion_tokens"`
			CompletionUnitPrice string  `json:"completion_unit_price"`
			CompletionPriceUnit string  `json:"completion_price_unit"`
			CompletionPrice     string  `json:"completion_price"`
			TotalTokens         int     `json:"total_tokens"`
			TotalPrice          string  `json:"total_price"`
			Currency            string  `json:"currency"`
			Latency             float64 `json:"latency"`
		} `json:"usage"`
		RetrieverResources []struct {
			Position     int     `json:"position"`
			DatasetID    string  `json:"dataset_id"`
			DatasetName  string  `json:"dataset_name"`
			DocumentID   string  `json:"document_id"`
			DocumentName string  `json:"document_name"`
			SegmentID    string  `json:"segment_id"`
			Score        float64 `json:"score"`
			Content      string  `json:"content"`
		} `json:"retriever_resources"`
	} `json:"metadata"`
	CreatedAt int64 `json:"created_at"`
}

// handSendBlocking is the blocking chat call written by hand with net/http
// and encoding/json: the baseline of BenchmarkBlockingChat.
func handSendBlocking(ctx context.Context, hc *http.Client, base string, body *gen.ChatRequest) (*handBlockingReply, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(body); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat-messages", &buf)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", DefaultUserAgent)
	return handDo[handBlockingReply](hc, req)
}

// BenchmarkBlockingChat compares the generated blocking chat call
// (SendChatMessageWithResponse in blocking mode) with the same call written
// by hand, against the same in-memory transport, in one run:
//
//	go test -run '^$' -bench BenchmarkBlockingChat -benchmem -count 6 .
//
// "generated" is the generated client alone (plain http.Client and an auth
// editor); "api" is the same call through Client.API (auth, retries,
// limits and error handling of the Client).
func BenchmarkBlockingChat(b *testing.B) {
	ctx := context.Background()
	rt := &memTransport{status: 200, body: blockingReply}
	const base = "https://dify.example/v1"
	body := ChatRequest{Query: "When are you open?", User: "u1", Inputs: map[string]any{}, ResponseMode: ResponseModeBlocking}
	check := func(b *testing.B, answer string) {
		if answer == "" {
			b.Fatal("no answer")
		}
	}
	b.Run("handwritten", func(b *testing.B) {
		hc := &http.Client{Transport: rt}
		b.ReportAllocs()
		for b.Loop() {
			r, err := handSendBlocking(ctx, hc, base, &body)
			if err != nil {
				b.Fatal(err)
			}
			check(b, r.Answer)
		}
	})
	b.Run("generated", func(b *testing.B) {
		auth := func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("User-Agent", DefaultUserAgent)
			return nil
		}
		g, err := gen.NewClientWithResponses(base, gen.WithHTTPClient(&http.Client{Transport: rt}), gen.WithRequestEditorFn(auth))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			r, err := g.SendChatMessageWithResponse(ctx, body)
			if err != nil || r.JSON200 == nil {
				b.Fatal(err)
			}
			check(b, r.JSON200.Answer)
		}
	})
	b.Run("api", func(b *testing.B) {
		c := benchClient(b, rt)
		b.ReportAllocs()
		for b.Loop() {
			r, err := c.API().SendChatMessageWithResponse(ctx, body)
			if err != nil || r.JSON200 == nil {
				b.Fatal(err)
			}
			check(b, r.JSON200.Answer)
		}
	})
}

// The generated blocking call decodes both kinds of 200 reply: the answer
// (with its metadata, in one pass), and the workflow_paused body of a run
// that waits for human input.
func TestBlockingReplyDecodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	body := ChatRequest{Query: "q", User: "u1", Inputs: map[string]any{}, ResponseMode: ResponseModeBlocking}

	c := benchClient(t, &memTransport{status: 200, body: blockingReply})
	r, err := c.API().SendChatMessageWithResponse(ctx, body)
	if err != nil || r.JSON200 == nil {
		t.Fatalf("answer: %v, %+v", err, r)
	}
	var got ChatCompletion = *r.JSON200
	if got.Event != EventMessage || got.Answer == "" || got.Metadata == nil ||
		got.Metadata.Usage.TotalTokens != 1161 || len(got.Metadata.RetrieverResources) != 3 ||
		got.Metadata.RetrieverResources[2].Position != 3 {
		t.Errorf("answer decoded as %+v (metadata %+v)", got, got.Metadata)
	}

	paused := `{"event":"workflow_paused","task_id":"t1","workflow_run_id":"run-1","data":{"workflow_run_id":"run-1","status":"paused",` +
		`"paused_nodes":["1775"],"outputs":{},"reasons":[{"type":"human_input_required","form_id":"f1","node_id":"1775"}],` +
		`"human_input_forms":[{"form_id":"f1","form_token":"tok-1","node_id":"1775","node_title":"Approve","expiration_time":1800000000}]}}`
	c = benchClient(t, &memTransport{status: 200, body: []byte(paused)})
	r, err = c.API().SendChatMessageWithResponse(ctx, body)
	if err != nil || r.JSON200 == nil {
		t.Fatalf("pause: %v, %+v", err, r)
	}
	p := r.JSON200
	if p.Event != EventWorkflowPaused || p.TaskID != "t1" || p.WorkflowRunID != "run-1" || p.Answer != "" {
		t.Errorf("pause decoded as %+v", p)
	}
	d := p.Data
	if d.Status != "paused" || len(d.PausedNodes) != 1 || d.PausedNodes[0] != "1775" || len(d.Reasons) != 1 ||
		d.Reasons[0]["form_id"] != "f1" || len(d.HumanInputForms) != 1 {
		t.Fatalf("pause data decoded as %+v", d)
	}
	form := d.HumanInputForms[0]
	if form.FormToken != "tok-1" || form.NodeTitle != "Approve" || form.ExpirationTime != 1800000000 {
		t.Errorf("pending form decoded as %+v", form)
	}
}

// The names the common tasks touch are in the root package.
func TestRootNames(t *testing.T) {
	t.Parallel()
	f := InputFile{Type: FileTypeImage, TransferMethod: TransferMethodLocalFile, UploadFileID: "u"}
	var ft FileType = f.Type
	var tm TransferMethod = f.TransferMethod
	if ft != "image" || tm != "local_file" || FileTypeDocument != "document" || TransferMethodRemoteURL != "remote_url" {
		t.Errorf("file constants: %q %q", ft, tm)
	}
	var edit RequestEditorFn = func(context.Context, *http.Request) error { return nil }
	if _, err := NewClient(testKey, WithRequestEditor(edit)); err != nil {
		t.Error(err)
	}
	var nd *NodeStartedEventData = NodeStartedEvent{}.Data
	_ = nd
	if ResponseModeBlocking != "blocking" || ResponseModeStreaming != "streaming" {
		t.Error("response mode constants")
	}
}
