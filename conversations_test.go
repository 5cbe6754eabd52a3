package chatflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRenameConversation(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	id := uuidN(1, 1)
	mux.HandleFunc("POST /conversations/{id}/name", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != id {
			t.Errorf("id = %s", r.PathValue("id"))
		}
		testHeader(t, r, "Content-Type", "application/json")
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["auto_generate"] == true {
			if body["user"] != "u1" || body["name"] != nil {
				t.Errorf("auto body = %v", body)
			}
		} else if body["name"] != "Trip to Rome" || body["user"] != "u1" {
			t.Errorf("body = %v", body)
		}
		writeJSON(w, 200, `{"id":"`+id+`","name":"Trip to Rome","inputs":{"city":"Rome"},"status":"normal",
		"introduction":"","created_at":1732690000,"updated_at":1732690100,"from_source":"api","extra":[1,2]}`)
	})
	ctx := context.Background()
	conv, err := c.RenameConversation(ctx, id, "u1", "Trip to Rome")
	if err != nil || conv.Name != "Trip to Rome" || conv.UpdatedAt != 1732690100 || conv.Inputs["city"] != "Rome" {
		t.Fatalf("RenameConversation = %+v, %v", conv, err)
	}
	conv, err = c.AutoRenameConversation(ctx, id, "u1")
	if err != nil || conv.Name == "" {
		t.Fatalf("AutoRenameConversation = %+v, %v", conv, err)
	}
	if _, err := c.RenameConversation(ctx, id, "u1", ""); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := c.RenameConversation(ctx, "..", "u1", "x"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("err = %v", err)
	}
}

func TestConversationVariables(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	conv := uuidN(1, 1)
	var calls atomic.Int32
	mux.HandleFunc("GET /conversations/{id}/variables", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		q := r.URL.Query()
		if r.PathValue("id") != conv || q.Get("user") != "u1" || q.Get("limit") != "2" {
			t.Errorf("request %s?%s", r.URL.Path, r.URL.RawQuery)
		}
		start := 0
		if last := q.Get("last_id"); last != "" {
			for i := 1; i <= 5; i++ {
				if uuidN(12, i) == last {
					start = i
				}
			}
		}
		data := []map[string]any{}
		for i := start + 1; i <= min(start+2, 5); i++ {
			v := map[string]any{"id": uuidN(12, i), "name": "v" + strconv.Itoa(i), "value_type": "string",
				"value": "x", "description": "", "created_at": 1732690000, "updated_at": 1732690000}
			if i == 2 {
				v["value_type"], v["value"] = "object", `{"a": 1}` // older servers: a string rendering
			}
			if i == 3 {
				v["value_type"], v["value"] = "array[number]", []int{1, 2}
			}
			data = append(data, v)
		}
		b, _ := json.Marshal(map[string]any{"limit": 2, "has_more": start+2 < 5, "data": data})
		writeJSON(w, 200, string(b))
	})
	var got []ConversationVariable
	for v, err := range c.ConversationVariables(context.Background(), conv, "u1", WithPageSize(2)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 5 || calls.Load() != 3 || got[1].Value == nil || *got[1].Value != `{"a": 1}` ||
		got[2].Value == nil || *got[2].Value != `[1,2]` {
		t.Errorf("got %+v in %d requests", got, calls.Load())
	}
}

// The server's variable_name filter is a case-insensitive substring match;
// WithVariableName keeps its promise of the exact name by filtering.
func TestConversationVariablesByName(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /conversations/{id}/variables", func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Get("variable_name") != "name" || q.Get("limit") != "100" {
			t.Errorf("query = %s", r.URL.RawQuery)
		}
		writeJSON(w, 200, `{"limit":100,"has_more":false,"data":[
			{"id":"v1","name":"user_name","value_type":"string","value":"a"},
			{"id":"v2","name":"Name","value_type":"string","value":"b"},
			{"id":"v3","name":"name","value_type":"string","value":"c"},
			{"id":"v4","name":"names","value_type":"string","value":"d"}]}`)
	})
	var got []string
	for v, err := range c.ConversationVariables(context.Background(), uuidN(1, 1), "u1", WithVariableName("name")) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v.ID)
	}
	if len(got) != 1 || got[0] != "v3" {
		t.Errorf("WithVariableName(\"name\") yielded %v, want [v3]", got)
	}
}

// Without WithPageSize, the variables iterator asks for the largest page,
// so that variables created in the same second are not split across pages.
func TestConversationVariablesLargestPage(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	var mu sync.Mutex
	var limits []string
	mux.HandleFunc("GET /conversations/{id}/variables", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		limits = append(limits, r.URL.Query().Get("limit"))
		writeJSON(w, 200, `{"limit":100,"has_more":false,"data":[]}`)
	})
	_ = firstErr(c.ConversationVariables(context.Background(), uuidN(1, 1), "u1"))
	_ = firstErr(c.ConversationVariables(context.Background(), uuidN(1, 1), "u1", WithPageSize(7)))
	mu.Lock()
	defer mu.Unlock()
	if len(limits) != 2 || limits[0] != "100" || limits[1] != "7" {
		t.Errorf("limits sent = %v, want [100 7]", limits)
	}
}

func TestUpdateConversationVariable(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	conv, vid := uuidN(1, 1), uuidN(12, 1)
	mux.HandleFunc("PUT /conversations/{id}/variables/{vid}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != conv || r.PathValue("vid") != vid {
			t.Errorf("path = %s", r.URL.Path)
		}
		testJSONBody(t, r, `{"value":{"items":[1,2]},"user":"u1"}`)
		writeJSON(w, 200, `{"id":"`+vid+`","name":"cart","value_type":"object","value":{"items":[1,2]},"description":"",
		"created_at":1732690000,"updated_at":1732690200}`)
	})
	v, err := c.UpdateConversationVariable(context.Background(), conv, vid, "u1", map[string]any{"items": []int{1, 2}})
	if err != nil || v.Name != "cart" || v.UpdatedAt != 1732690200 {
		t.Fatalf("UpdateConversationVariable = %+v, %v", v, err)
	}
	if _, err := c.UpdateConversationVariable(context.Background(), conv, ".", "u1", 1); !errors.Is(err, ErrInvalidID) {
		t.Errorf("err = %v", err)
	}
}

func TestDeleteConversationReplies(t *testing.T) {
	t.Parallel()
	for _, legacy := range []bool{false, true} {
		c, mux, _ := setup(t)
		mux.HandleFunc("DELETE /conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
			testJSONBody(t, r, `{"user":"u1"}`)
			if legacy {
				writeJSON(w, 200, `{"result":"success"}`)
				return
			}
			w.WriteHeader(204)
		})
		if err := c.DeleteConversation(context.Background(), uuidN(1, 1), "u1"); err != nil {
			t.Errorf("legacy %v: %v", legacy, err)
		}
	}
}

func TestSuccessRepliesMustNotBeHTML(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("DELETE /conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><title>Sign in to the Wi-Fi</title></html>")
	})
	err := c.DeleteConversation(context.Background(), "c1", "u")
	if err == nil || !strings.Contains(err.Error(), "status 200") {
		t.Fatalf("err = %v, want an error for a 200 HTML page", err)
	}
}
