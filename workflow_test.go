package chatflow

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkflowRun(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	run := uuidN(7, 1)
	mux.HandleFunc("GET /workflows/run/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case run:
			writeJSON(w, 200, `{"id":"`+run+`","workflow_id":"`+uuidN(7, 2)+`","status":"partial-succeeded",
			"inputs":"{\"sys.query\": \"hi\"}","outputs":{"answer":"yo"},"error":null,"total_steps":4,"total_tokens":120,
			"created_at":1732690000,"finished_at":1732690003,"elapsed_time":2.75,"exceptions_count":1}`)
		default:
			writeJSON(w, 200, `{"id":"`+r.PathValue("id")+`","status":"running","inputs":{"x":1},"outputs":null,"finished_at":null}`)
		}
	})
	wr, err := c.WorkflowRun(context.Background(), run)
	if err != nil || wr.Status != "partial-succeeded" || wr.TotalSteps != 4 || wr.ElapsedTime != 2.75 || wr.Outputs["answer"] != "yo" {
		t.Fatalf("WorkflowRun = %+v, %v", wr, err)
	}
	if s, ok := wr.Inputs.(string); !ok || s == "" {
		t.Errorf("legacy string inputs = %#v", wr.Inputs)
	}
	wr, err = c.WorkflowRun(context.Background(), uuidN(7, 3))
	if err != nil || wr.Status != "running" {
		t.Errorf("WorkflowRun = %+v, %v", wr, err)
	}
	if _, err := c.WorkflowRun(context.Background(), ""); !errors.Is(err, ErrInvalidID) {
		t.Errorf("err = %v", err)
	}
}

func TestWorkflowLogs(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	after := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mux.HandleFunc("GET /workflows/logs", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		q := r.URL.Query()
		page, _ := strconv.Atoi(q.Get("page"))
		if q.Get("status") != "failed" || q.Get("keyword") != "k" || q.Get("limit") != "2" || q.Get("created_at__after") == "" {
			t.Errorf("query = %s", r.URL.RawQuery)
		}
		data := []map[string]any{}
		for i := (page-1)*2 + 1; i <= min(page*2, 5); i++ {
			data = append(data, map[string]any{
				"id": uuidN(8, i), "created_from": "service-api", "created_by_role": "end_user", "created_by_account": nil,
				"created_by_end_user": map[string]any{"id": uuidN(8, 99), "type": "service_api", "is_anonymous": false, "session_id": "u1"},
				"created_at":          1732690000 + i, "details": nil,
				"workflow_run": map[string]any{"id": uuidN(8, 50+i), "version": "2026-01-01 00:00:00.000000", "status": "failed",
					"error": "boom", "elapsed_time": 0.5, "total_tokens": 0, "total_steps": 2, "created_at": 1732690000,
					"finished_at": 1732690001, "exceptions_count": 0, "triggered_from": "app-run"},
			})
		}
		b, _ := json.Marshal(map[string]any{"page": page, "limit": 2, "total": 5, "has_more": page*2 < 5, "data": data})
		writeJSON(w, 200, string(b))
	})
	failed := WorkflowLogStatusFailed
	filter := &WorkflowLogFilter{Status: &failed, CreatedAtAfter: &after}
	var ids []string
	for l, err := range c.WorkflowLogs(context.Background(), filter, WithPageSize(2), WithKeyword("k")) {
		if err != nil {
			t.Fatal(err)
		}
		if l.WorkflowRun.Status != "failed" || l.CreatedByEndUser.SessionID != "u1" {
			t.Errorf("log = %+v", l)
		}
		ids = append(ids, l.ID)
	}
	if len(ids) != 5 || calls.Load() != 3 {
		t.Errorf("ids %v in %d requests", ids, calls.Load())
	}
	if filter.Keyword != nil {
		t.Errorf("the caller's filter was changed: %+v", filter)
	}
}

// App feedbacks carry no has_more: paging ends at a short page.
func TestAppFeedbacks(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	mux.HandleFunc("GET /app/feedbacks", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		data := []map[string]any{}
		for i := (page-1)*limit + 1; i <= min(page*limit, 5); i++ {
			data = append(data, map[string]any{"id": uuidN(10, i), "app_id": "a", "message_id": uuidN(3, i), "rating": "like",
				"content": nil, "from_source": "api", "from_end_user_id": uuidN(8, 99), "from_account_id": nil,
				"created_at": "2026-01-12T09:25:38", "updated_at": "2026-01-12 09:25:38"})
		}
		b, _ := json.Marshal(map[string]any{"data": data})
		writeJSON(w, 200, string(b))
	})
	var got []AppFeedback
	for f, err := range c.AppFeedbacks(context.Background(), WithPageSize(2)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	if len(got) != 5 || calls.Load() != 3 || got[0].CreatedAt != "2026-01-12T09:25:38" || got[4].Rating != "like" {
		t.Errorf("got %d feedbacks in %d requests: %+v", len(got), calls.Load(), got)
	}
}

func TestEndUser(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	id := uuidN(8, 99)
	mux.HandleFunc("GET /end-users/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != id {
			writeJSON(w, 404, `{"code":"end_user_not_found","message":"End user not found.","status":404}`)
			return
		}
		writeJSON(w, 200, `{"id":"`+id+`","tenant_id":"t","app_id":"a","type":"service_api","external_user_id":"u1",
		"name":null,"is_anonymous":false,"session_id":"u1","created_at":"2026-01-12T09:25:38","updated_at":"2026-01-12 09:25:38.123456"}`)
	})
	u, err := c.EndUser(context.Background(), id)
	if err != nil || u.SessionID != "u1" || u.CreatedAt != "2026-01-12T09:25:38" {
		t.Errorf("EndUser = %+v, %v", u, err)
	}
	_, err = c.EndUser(context.Background(), uuidN(8, 1))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "end_user_not_found" || !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v", err)
	}
}
