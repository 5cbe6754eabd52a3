package chatflow

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
)

// convStore serves GET /conversations like Dify: newest first by default,
// cursor last_id (exclusive), has_more.
func convStore(t *testing.T, mux *http.ServeMux, n int, calls *atomic.Int32) {
	t.Helper()
	mux.HandleFunc("GET /conversations", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		q := r.URL.Query()
		limit := 20
		if s := q.Get("limit"); s != "" {
			limit, _ = strconv.Atoi(s)
		}
		// Item i (0-based) has id uuidN(1, n-i): newest first.
		start := 0
		if last := q.Get("last_id"); last != "" {
			start = -1
			for i := range n {
				if uuidN(1, n-i) == last {
					start = i + 1
				}
			}
			if start < 0 {
				writeJSON(w, 404, `{"code":"not_found","message":"Last Conversation Not Exists.","status":404}`)
				return
			}
		}
		end := min(start+limit, n)
		data := []map[string]any{}
		for i := start; i < end; i++ {
			data = append(data, map[string]any{
				"id": uuidN(1, n-i), "name": "c" + strconv.Itoa(n-i), "inputs": map[string]any{},
				"status": "normal", "introduction": "", "created_at": 1700000000 + n - i,
				"updated_at": 1700000000 + n - i, "extra_field": true,
			})
		}
		b, _ := json.Marshal(map[string]any{"limit": limit, "has_more": end < n, "data": data})
		writeJSON(w, 200, string(b))
	})
}

func TestConversationsPagesThroughAll(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	convStore(t, mux, 45, &calls)
	var got []string
	for conv, err := range c.Conversations(context.Background(), "u1") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, conv.ID)
	}
	if len(got) != 45 {
		t.Fatalf("got %d conversations, want 45", len(got))
	}
	for i, id := range got {
		if id != uuidN(1, 45-i) {
			t.Fatalf("conversation %d = %s, want %s", i, id, uuidN(1, 45-i))
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (pages of 20)", n)
	}
}

func TestConversationsQuery(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("GET /conversations", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch calls.Add(1) {
		case 1:
			if q.Get("user") != "u1" || q.Get("limit") != "100" || q.Get("sort_by") != "created_at" || q.Has("last_id") {
				t.Errorf("first query = %s", r.URL.RawQuery)
			}
			writeJSON(w, 200, `{"limit":100,"has_more":true,"data":[{"id":"`+uuidN(1, 1)+`"},{"id":"`+uuidN(1, 2)+`"}]}`)
		default:
			if q.Get("last_id") != uuidN(1, 2) {
				t.Errorf("second query = %s, want last_id of the last item", r.URL.RawQuery)
			}
			writeJSON(w, 200, `{"limit":100,"has_more":false,"data":[]}`)
		}
	})
	n := 0
	for _, err := range c.Conversations(context.Background(), "u1", WithPageSize(500), WithSortBy(SortByCreatedAt)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 || calls.Load() != 2 {
		t.Errorf("yielded %d in %d requests, want 2 in 2", n, calls.Load())
	}
}

func TestConversationsEarlyBreakStopsFetching(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	convStore(t, mux, 45, &calls)
	n := 0
	for _, err := range c.Conversations(context.Background(), "u1", WithPageSize(10)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 10 { // the last item of the first page
			break
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d requests after breaking on the first page, want 1", calls.Load())
	}
}

func TestConversationsRepeatedCursorStops(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("GET /conversations", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		// A broken server: the same page whatever the cursor.
		writeJSON(w, 200, `{"limit":2,"has_more":true,"data":[{"id":"`+uuidN(1, 1)+`"},{"id":"`+uuidN(1, 2)+`"}]}`)
	})
	var items, errs int
	var last error
	for _, err := range c.Conversations(context.Background(), "u1") {
		if err != nil {
			errs++
			last = err
			continue
		}
		items++
	}
	if items != 2 || errs != 1 || !errors.Is(last, ErrPaginationStuck) {
		t.Errorf("items %d, errors %d (%v); want 2 items then ErrPaginationStuck", items, errs, last)
	}
	if calls.Load() > 3 {
		t.Errorf("%d requests", calls.Load())
	}
}

func TestConversationsErrorIsYieldedOnce(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("GET /conversations", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			writeJSON(w, 200, `{"limit":1,"has_more":true,"data":[{"id":"`+uuidN(1, 1)+`"}]}`)
			return
		}
		writeJSON(w, 404, `{"code":"not_found","message":"Last Conversation Not Exists.","status":404}`)
	})
	var items, errs int
	for _, err := range c.Conversations(context.Background(), "u1") {
		if err != nil {
			errs++
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Message != "Last Conversation Not Exists." {
				t.Errorf("err = %#v", err)
			}
			continue
		}
		items++
	}
	if items != 1 || errs != 1 || calls.Load() != 2 {
		t.Errorf("items %d, errors %d, requests %d; want 1, 1, 2", items, errs, calls.Load())
	}
}

func TestConversationsEmptyPageEnds(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("GET /conversations", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 200, `{"limit":20,"has_more":true,"data":[]}`)
	})
	for _, err := range c.Conversations(context.Background(), "") {
		t.Errorf("yielded %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d requests, want 1", calls.Load())
	}
}

func TestConversationsContextCanceled(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	convStore(t, mux, 45, &calls)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errs int
	n := 0
	for _, err := range c.Conversations(ctx, "u1") {
		if err != nil {
			errs++
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v", err)
			}
			continue
		}
		n++
		if n == 20 {
			cancel()
		}
	}
	if n != 20 || errs != 1 {
		t.Errorf("yielded %d items and %d errors, want 20 and 1", n, errs)
	}
}

// The iterators can be ranged over more than once; each range starts over.
func TestConversationsRestartable(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	convStore(t, mux, 5, &calls)
	seq := c.Conversations(context.Background(), "u1")
	for range 2 {
		n := 0
		for _, err := range seq {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 5 {
			t.Errorf("n = %d", n)
		}
	}
}

// A real reply (captured from a Dify server) decodes.
func TestConversationsCapturedReply(t *testing.T) {
	t.Parallel()
	body := surfaceCapture(t, "reply-conversations-01.json")
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /conversations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, string(body))
	})
	for _, err := range c.Conversations(context.Background(), "u1") {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestNumberedPagesStuckServer(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("GET /apps/annotations", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 200, `{"data":[{"id":"`+uuidN(2, 1)+`","question":"q","answer":"a","hit_count":0,"created_at":1700000000}],"has_more":true,"limit":1,"total":9,"page":1}`)
	})
	var items, errs int
	for _, err := range c.Annotations(context.Background(), WithPageSize(1)) {
		if err != nil {
			if !errors.Is(err, ErrPaginationStuck) {
				t.Errorf("err = %v", err)
			}
			errs++
			continue
		}
		items++
	}
	if items != 1 || errs != 1 || calls.Load() != 2 {
		t.Errorf("items %d, errors %d, requests %d; want 1, 1, 2", items, errs, calls.Load())
	}
}

// TestNumberedPagesRepeated: a server that ignores the page number hands
// out its first page again and again. Each of the three page-number lists
// yields the page's items once and then ErrPaginationStuck, after two
// requests, whether or not the items carry ids.
func TestNumberedPagesRepeated(t *testing.T) {
	t.Parallel()
	feedback := func(id string) map[string]any {
		return map[string]any{"id": id, "app_id": "a", "message_id": uuidN(3, 1), "rating": "like", "content": nil,
			"from_source": "api", "from_end_user_id": uuidN(8, 99), "from_account_id": nil,
			"created_at": "2026-01-12T09:25:38", "updated_at": "2026-01-12 09:25:38"}
	}
	annotation := func(id string) map[string]any {
		return map[string]any{"id": id, "question": "q", "answer": "a", "hit_count": 0, "created_at": 1700000000}
	}
	workflowLog := func(id string) map[string]any {
		return map[string]any{"id": id, "created_from": "service-api", "created_by_role": "end_user", "created_at": 1732690000,
			"workflow_run": map[string]any{"id": uuidN(8, 50), "status": "succeeded", "elapsed_time": 0.5, "total_tokens": 0,
				"total_steps": 2, "created_at": 1732690000, "finished_at": 1732690001}}
	}
	type list struct {
		path string
		item func(id string) map[string]any
		read func(c *Client) iter.Seq2[string, error]
	}
	lists := []list{
		{"/app/feedbacks", feedback, func(c *Client) iter.Seq2[string, error] {
			return mapSeq(c.AppFeedbacks(context.Background(), WithPageSize(2)), func(f AppFeedback) string { return f.ID })
		}},
		{"/apps/annotations", annotation, func(c *Client) iter.Seq2[string, error] {
			return mapSeq(c.Annotations(context.Background(), WithPageSize(2)), func(a Annotation) string { return a.ID })
		}},
		{"/workflows/logs", workflowLog, func(c *Client) iter.Seq2[string, error] {
			return mapSeq(c.WorkflowLogs(context.Background(), nil, WithPageSize(2)), func(l WorkflowLog) string { return l.ID })
		}},
	}
	for _, l := range lists {
		for _, withIDs := range []bool{true, false} {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				ids := []string{uuidN(4, 1), uuidN(4, 2)}
				if !withIDs {
					ids = []string{"", ""}
				}
				b, _ := json.Marshal(map[string]any{"data": []any{l.item(ids[0]), l.item(ids[1])},
					"has_more": true, "limit": 2, "total": 100, "page": 1})
				writeJSON(w, 200, string(b))
			}))
			c, err := NewClient(testKey, WithBaseURL(srv.URL+"/v1"), WithMaxRetries(0))
			if err != nil {
				t.Fatal(err)
			}
			var items, errs int
			for _, err := range l.read(c) {
				if err != nil {
					if !errors.Is(err, ErrPaginationStuck) {
						t.Errorf("%s (ids %v): err = %v", l.path, withIDs, err)
					}
					errs++
					continue
				}
				if items++; items > 20 {
					break // stuck for good
				}
			}
			if items != 2 || errs != 1 || calls.Load() != 2 {
				t.Errorf("%s (ids %v): %d items, %d errors in %d requests; want 2, 1, 2", l.path, withIDs, items, errs, calls.Load())
			}
			srv.Close()
		}
	}
}

// mapSeq yields f of each item of seq.
func mapSeq[T, U any](seq iter.Seq2[T, error], f func(T) U) iter.Seq2[U, error] {
	return func(yield func(U, error) bool) {
		for v, err := range seq {
			var u U
			if err == nil {
				u = f(v)
			}
			if !yield(u, err) {
				return
			}
		}
	}
}
