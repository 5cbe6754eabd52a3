package chatflow

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
)

var testConv = uuidN(9, 1)

// messageStore serves GET /messages like Dify: pages walk backwards from the
// newest message (cursor first_id), each page oldest first, has_more when
// older messages exist. With inclusive, a page also repeats the cursor
// message at its end, as a careless server could.
func messageStore(t *testing.T, mux *http.ServeMux, n int, inclusive bool, calls *atomic.Int32) {
	t.Helper()
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		q := r.URL.Query()
		if q.Get("conversation_id") != testConv || q.Get("user") != "u1" {
			t.Errorf("query = %s", r.URL.RawQuery)
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit == 0 {
			limit = 20
		}
		end := n // messages 1..end are older than the cursor (exclusive)
		if first := q.Get("first_id"); first != "" {
			end = -1
			for i := 1; i <= n; i++ {
				if uuidN(3, i) == first {
					end = i - 1
				}
			}
			if end < 0 {
				writeJSON(w, 404, `{"code":"not_found","message":"First Message Not Exists.","status":404}`)
				return
			}
		}
		start := max(end-limit, 0) // page holds start+1..end
		data := []map[string]any{}
		for i := start + 1; i <= end; i++ {
			data = append(data, messageJSON(i))
		}
		if inclusive && end < n {
			data = append(data, messageJSON(end+1))
		}
		b, _ := json.Marshal(map[string]any{"limit": limit, "has_more": start > 0, "data": data})
		writeJSON(w, 200, string(b))
	})
}

// messageJSON is message i shaped like a real reply: nulls, extra fields,
// legacy feedback null.
func messageJSON(i int) map[string]any {
	return map[string]any{
		"id": uuidN(3, i), "conversation_id": testConv, "parent_message_id": nil,
		"inputs": map[string]any{}, "query": "q" + strconv.Itoa(i), "answer": "a" + strconv.Itoa(i),
		"message_files": []any{map[string]any{"id": "f", "type": "image", "url": "u", "belongs_to": nil}},
		"feedback":      nil, "retriever_resources": []any{}, "created_at": 1700000000 + i,
		"agent_thoughts": []any{}, "status": "normal", "error": nil,
		"metadata":       map[string]any{"usage": map[string]any{"total_tokens": 3, "time_to_first_token": 0.5}},
		"message_tokens": 1, "answer_tokens": 2, "total_price": "0.001", "currency": "USD",
		"provider_response_latency": 1.5, "new_field_from_a_newer_server": map[string]any{"x": 1},
	}
}

func collectMessages(t *testing.T, c *Client, opts ...ListOption) ([]string, error) {
	t.Helper()
	var ids []string
	for m, err := range c.Messages(context.Background(), testConv, "u1", opts...) {
		if err != nil {
			return ids, err
		}
		ids = append(ids, m.ID)
	}
	return ids, nil
}

func TestMessagesNewestFirstExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, inclusive := range []bool{false, true} {
		t.Run("inclusive="+strconv.FormatBool(inclusive), func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			var calls atomic.Int32
			messageStore(t, mux, 45, inclusive, &calls)
			ids, err := collectMessages(t, c, WithPageSize(10))
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 45 {
				t.Fatalf("got %d messages, want 45: %v", len(ids), ids)
			}
			for k, id := range ids {
				if want := uuidN(3, 45-k); id != want {
					t.Fatalf("message %d = %s, want %s (newest first)", k, id, want)
				}
			}
			if calls.Load() != 5 {
				t.Errorf("%d requests, want 5", calls.Load())
			}
		})
	}
}

func TestMessagesEarlyBreak(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	messageStore(t, mux, 45, false, &calls)
	var last []Message
	for m, err := range c.Messages(context.Background(), testConv, "u1") {
		if err != nil {
			t.Fatal(err)
		}
		last = append(last, m)
		if len(last) == 3 {
			break
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d requests, want 1", calls.Load())
	}
	if last[0].ID != uuidN(3, 45) || last[0].Answer != "a45" || last[0].CreatedAt != 1700000045 || last[0].TotalPrice != "0.001" {
		t.Errorf("newest message = %+v", last[0])
	}
}

func TestMessagesSinglePage(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	messageStore(t, mux, 3, false, &calls)
	ids, err := collectMessages(t, c)
	if err != nil || len(ids) != 3 || calls.Load() != 1 {
		t.Errorf("ids %v, err %v, requests %d", ids, err, calls.Load())
	}
}

func TestMessagesStuckCursor(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"limit":2,"has_more":true,"data":[{"id":"`+uuidN(3, 1)+`"},{"id":"`+uuidN(3, 2)+`"}]}`)
	})
	ids, err := collectMessages(t, c)
	if len(ids) != 2 || !errors.Is(err, ErrPaginationStuck) {
		t.Errorf("ids %v, err %v; want 2 ids then ErrPaginationStuck", ids, err)
	}
}

func TestMessagesUnknownConversation(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"code":"not_found","message":"Conversation Not Exists.","status":404}`)
	})
	_, err := collectMessages(t, c)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestMessagesInvalidID(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t)
	for _, id := range []string{"", ".", ".."} {
		n := 0
		for _, err := range c.Messages(context.Background(), id, "u1") {
			n++
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("Messages(%q): %v", id, err)
			}
		}
		if n != 1 {
			t.Errorf("Messages(%q) yielded %d values, want one error", id, n)
		}
	}
}

func TestMessagesCapturedReply(t *testing.T) {
	t.Parallel()
	body := surfaceCapture(t, "reply-messages-01.json")
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, string(body))
	})
	var got []Message
	for m, err := range c.Messages(context.Background(), testConv, "u1") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 1 || got[0].ID != "6038bcae-fcea-41a8-b721-ed44da9354a5" || got[0].CreatedAt != 1768209938 {
		t.Errorf("got %+v", got)
	}
}

func TestSendFeedback(t *testing.T) {
	t.Parallel()
	msg := uuidN(3, 7)
	tests := []struct {
		name    string
		call    func(c *Client) error
		wantReq string
	}{
		{"like", func(c *Client) error { return c.SendFeedback(context.Background(), msg, "u1", RatingLike, "great") },
			`{"rating":"like","user":"u1","content":"great"}`},
		{"dislike", func(c *Client) error { return c.SendFeedback(context.Background(), msg, "u1", RatingDislike, "") },
			`{"rating":"dislike","user":"u1"}`},
		{"revoke", func(c *Client) error { return c.RevokeFeedback(context.Background(), msg, "u1") },
			`{"rating":null,"user":"u1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("POST /messages/{id}/feedbacks", func(w http.ResponseWriter, r *http.Request) {
				if r.PathValue("id") != msg {
					t.Errorf("id = %s", r.PathValue("id"))
				}
				testHeader(t, r, "Content-Type", "application/json")
				testJSONBody(t, r, tt.wantReq)
				writeJSON(w, 200, `{"result":"success"}`)
			})
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSendFeedbackErrors(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /messages/{id}/feedbacks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"code":"not_found","message":"Message Not Exists.","status":404}`)
	})
	if err := c.SendFeedback(context.Background(), uuidN(3, 1), "u1", RatingLike, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v", err)
	}
	if err := c.SendFeedback(context.Background(), "..", "u1", RatingLike, ""); !errors.Is(err, ErrInvalidID) {
		t.Errorf("err = %v", err)
	}
}

func TestSuggestedQuestions(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /messages/{id}/suggested", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "GET")
		if r.URL.Query().Get("user") != "u1" {
			t.Errorf("query = %s", r.URL.RawQuery)
		}
		if r.PathValue("id") == uuidN(3, 2) {
			writeJSON(w, 400, `{"code":"bad_request","message":"Suggested Questions Is Disabled.","status":400}`)
			return
		}
		writeJSON(w, 200, `{"result":"success","data":["Why?","How?"]}`)
	})
	qs, err := c.SuggestedQuestions(context.Background(), uuidN(3, 1), "u1")
	if err != nil || len(qs) != 2 || qs[0] != "Why?" {
		t.Errorf("SuggestedQuestions = %v, %v", qs, err)
	}
	_, err = c.SuggestedQuestions(context.Background(), uuidN(3, 2), "u1")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "bad_request" {
		t.Errorf("err = %v", err)
	}
}
