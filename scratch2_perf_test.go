package chatflow

import (
	"context"
	"net/http"
	"testing"

	"github.com/difykit/chatflow/chatflowtest"
)

func BenchmarkScratchFakeSend(b *testing.B) {
	srv := chatflowtest.NewServer(chatflowtest.WithAPIKey(testKey))
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	c, _ := NewClient(testKey, WithBaseURL(srv.URL), WithHTTPClient(hc))
	ctx := context.Background()
	req := ChatRequest{Query: "When are you open?", User: "u1", Inputs: map[string]any{}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendMessage(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
