package chatflow

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
)

func TestAnnotationsPages(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var calls atomic.Int32
	const total = 7
	mux.HandleFunc("GET /apps/annotations", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		q := r.URL.Query()
		page, _ := strconv.Atoi(q.Get("page"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		if q.Get("keyword") != "refund" || limit != 3 {
			t.Errorf("query = %s", r.URL.RawQuery)
		}
		data := []map[string]any{}
		for i := (page-1)*limit + 1; i <= min(page*limit, total); i++ {
			data = append(data, map[string]any{"id": uuidN(6, i), "question": "q", "answer": "a", "hit_count": i, "created_at": 1700000000})
		}
		b, _ := json.Marshal(map[string]any{"data": data, "has_more": page*limit < total, "limit": limit, "total": total, "page": page})
		writeJSON(w, 200, string(b))
	})
	var ids []string
	for a, err := range c.Annotations(context.Background(), WithKeyword("refund"), WithPageSize(3)) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	if len(ids) != total || ids[6] != uuidN(6, 7) || calls.Load() != 3 {
		t.Errorf("ids %v in %d requests", ids, calls.Load())
	}
}

func TestAnnotationCRUD(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	id := uuidN(6, 1)
	mux.HandleFunc("POST /apps/annotations", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"question":"Q?","answer":"A."}`)
		writeJSON(w, 201, `{"id":"`+id+`","question":"Q?","answer":"A.","hit_count":0,"created_at":1700000000,"account":{"id":"x"}}`)
	})
	mux.HandleFunc("PUT /apps/annotations/{id}", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"question":"Q2?","answer":"A2."}`)
		writeJSON(w, 200, `{"id":"`+r.PathValue("id")+`","question":"Q2?","answer":"A2.","hit_count":3,"created_at":1700000000}`)
	})
	mux.HandleFunc("DELETE /apps/annotations/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != id {
			t.Errorf("id = %s", r.PathValue("id"))
		}
		w.WriteHeader(204)
	})
	ctx := context.Background()
	a, err := c.CreateAnnotation(ctx, "Q?", "A.")
	if err != nil || a.ID != id || a.Question != "Q?" {
		t.Fatalf("CreateAnnotation = %+v, %v", a, err)
	}
	a, err = c.UpdateAnnotation(ctx, id, "Q2?", "A2.")
	if err != nil || a.Answer != "A2." || a.HitCount != 3 {
		t.Fatalf("UpdateAnnotation = %+v, %v", a, err)
	}
	if err := c.DeleteAnnotation(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func TestAnnotationReply(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	job := uuidN(6, 9)
	mux.HandleFunc("POST /apps/annotation-reply/{action}", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"embedding_provider_name":"openai","embedding_model_name":"text-embedding-3-small","score_threshold":0.9}`)
		writeJSON(w, 200, `{"job_id":"`+job+`","job_status":"waiting","action":"`+r.PathValue("action")+`"}`)
	})
	mux.HandleFunc("GET /apps/annotation-reply/{action}/status/{job}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("action") != "disable" || r.PathValue("job") != job {
			t.Errorf("path = %s", r.URL.Path)
		}
		writeJSON(w, 200, `{"job_id":"`+job+`","job_status":"completed","error_msg":""}`)
	})
	ctx := context.Background()
	s := AnnotationReplySettings{EmbeddingProviderName: "openai", EmbeddingModelName: "text-embedding-3-small", ScoreThreshold: 0.9}
	for _, f := range []func(context.Context, AnnotationReplySettings) (*AnnotationReplyJob, error){c.EnableAnnotationReply, c.DisableAnnotationReply} {
		j, err := f(ctx, s)
		if err != nil || j.JobID != job || j.JobStatus != "waiting" {
			t.Errorf("job = %+v, %v", j, err)
		}
	}
	st, err := c.AnnotationReplyStatus(ctx, AnnotationReplyDisable, job)
	if err != nil || st.JobStatus != "completed" {
		t.Errorf("status = %+v, %v", st, err)
	}
}
