package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzLimitBody checks the reply size limit: a body of at most max bytes
// reads whole, a longer one fails with ErrReplyTooLarge and never yields
// more than max bytes.
func FuzzLimitBody(f *testing.F) {
	f.Add([]byte(`{"a":1}`), uint16(7))
	f.Add([]byte(`{"a":1}`), uint16(6))
	f.Add([]byte(``), uint16(1))
	f.Add(bytes.Repeat([]byte("x"), 5000), uint16(4096))
	f.Fuzz(func(t *testing.T, body []byte, max uint16) {
		limit := int64(max) + 1
		resp := &http.Response{Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body))}
		req := httptest.NewRequest("GET", "/v1/meta", nil)
		// The body as send hands it over: an attempt, which enforces the limit.
		ctx, cancel := context.WithCancelCause(context.Background())
		newAttempt(ctx, cancel, nil, nil, req).setBody(resp)
		defer resp.Body.Close()
		got, err := io.ReadAll(limitBody(req, resp, limit).Body)
		if int64(len(body)) <= limit {
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("%d bytes under limit %d: got %d bytes, err %v", len(body), limit, len(got), err)
			}
			return
		}
		if !errors.Is(err, ErrReplyTooLarge) {
			t.Fatalf("%d bytes over limit %d: err = %v", len(body), limit, err)
		}
		if int64(len(got)) > limit {
			t.Fatalf("read %d bytes past limit %d", len(got), limit)
		}
	})
}
