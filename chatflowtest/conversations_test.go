package chatflowtest_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/difykit/chatflow/gen"
)

func ids(t *testing.T, r reply) []string {
	t.Helper()
	var out []string
	for _, d := range r.json(t)["data"].([]any) {
		out = append(out, d.(map[string]any)["id"].(string))
	}
	return out
}

func TestConversationsPerUserAndPaging(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	var convs []string // oldest first
	for i := range 5 {
		convs = append(convs, chat(t, s, "alice", "", fmt.Sprintf("question %d", i))["conversation_id"].(string))
	}
	chat(t, s, "bob", "", "bob's question")

	// Default order: most recently updated first.
	r := do(t, s, "GET", "/conversations?user=alice", nil)
	got := ids(t, r)
	if len(got) != 5 || got[0] != convs[4] || got[4] != convs[0] {
		t.Fatalf("conversations = %v, want newest first of %v", got, convs)
	}
	v := r.json(t)
	if v["limit"] != float64(20) || v["has_more"] != false {
		t.Errorf("limit/has_more = %v/%v", v["limit"], v["has_more"])
	}
	first := v["data"].([]any)[0].(map[string]any)
	if first["name"] != "question 4" || first["status"] != "normal" {
		t.Errorf("conversation = %v", first)
	}

	// Paging with last_id and limit visits each conversation once.
	var seen []string
	last := ""
	for {
		q := url.Values{"user": {"alice"}, "limit": {"2"}}
		if last != "" {
			q.Set("last_id", last)
		}
		r := do(t, s, "GET", "/conversations?"+q.Encode(), nil)
		page := ids(t, r)
		seen = append(seen, page...)
		if r.json(t)["has_more"] != true {
			break
		}
		last = page[len(page)-1]
	}
	if fmt.Sprint(seen) != fmt.Sprint(got) {
		t.Errorf("paged = %v, want %v", seen, got)
	}

	// Oldest first by creation; a new message moves a conversation up in
	// the updated_at order.
	if got := ids(t, do(t, s, "GET", "/conversations?user=alice&sort_by=created_at", nil)); got[0] != convs[0] {
		t.Errorf("created_at order = %v", got)
	}
	chat(t, s, "alice", convs[0], "again")
	if got := ids(t, do(t, s, "GET", "/conversations?user=alice", nil)); got[0] != convs[0] {
		t.Errorf("after a new message, order = %v", got)
	}

	// Bob sees only his own; the anonymous user has none.
	if got := ids(t, do(t, s, "GET", "/conversations?user=bob", nil)); len(got) != 1 {
		t.Errorf("bob's conversations = %v", got)
	}
	if got := ids(t, do(t, s, "GET", "/conversations", nil)); len(got) != 0 {
		t.Errorf("anonymous conversations = %v", got)
	}

	wantError(t, do(t, s, "GET", "/conversations?user=alice&last_id=00000000-0000-4000-8000-000000000000", nil), 404, "not_found")
	wantError(t, do(t, s, "GET", "/conversations?user=alice&limit=101", nil), 400, "invalid_param")
	wantError(t, do(t, s, "GET", "/conversations?user=alice&sort_by=name", nil), 400, "invalid_param")
}

func TestMessagesPaging(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	cid := ""
	var msgs []string
	for i := range 7 {
		v := chat(t, s, "alice", cid, fmt.Sprintf("q%d", i))
		cid = v["conversation_id"].(string)
		msgs = append(msgs, v["message_id"].(string))
	}
	r := do(t, s, "GET", "/messages?user=alice&limit=3&conversation_id="+cid, nil)
	page := ids(t, r)
	if fmt.Sprint(page) != fmt.Sprint(msgs[4:]) || r.json(t)["has_more"] != true {
		t.Fatalf("latest page = %v (has_more %v), want %v", page, r.json(t)["has_more"], msgs[4:])
	}
	m := r.json(t)["data"].([]any)[2].(map[string]any)
	if m["query"] != "q6" || m["answer"] != "You said: q6" || m["conversation_id"] != cid || m["parent_message_id"] != msgs[5] {
		t.Errorf("message = %v", m)
	}
	r = do(t, s, "GET", "/messages?user=alice&limit=3&conversation_id="+cid+"&first_id="+msgs[4], nil)
	if page := ids(t, r); fmt.Sprint(page) != fmt.Sprint(msgs[1:4]) || r.json(t)["has_more"] != true {
		t.Errorf("second page = %v", page)
	}
	r = do(t, s, "GET", "/messages?user=alice&limit=3&conversation_id="+cid+"&first_id="+msgs[1], nil)
	if page := ids(t, r); fmt.Sprint(page) != fmt.Sprint(msgs[:1]) || r.json(t)["has_more"] != false {
		t.Errorf("last page = %v", page)
	}
	wantError(t, do(t, s, "GET", "/messages?user=bob&conversation_id="+cid, nil), 404, "not_found")
	wantError(t, do(t, s, "GET", "/messages?user=alice&conversation_id="+cid+"&first_id="+cid, nil), 404, "not_found")
}

func TestRenameAndDelete(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	cid := chat(t, s, "alice", "", "Tell me about   otters please")["conversation_id"].(string)
	r := do(t, s, "POST", "/conversations/"+cid+"/name", `{"name":"Otters","user":"alice"}`)
	wantStatus(t, r, 200)
	if v := r.json(t); v["name"] != "Otters" || v["id"] != cid {
		t.Errorf("renamed = %s", r.body)
	}
	r = do(t, s, "POST", "/conversations/"+cid+"/name", `{"auto_generate":true,"user":"alice"}`)
	if v := r.json(t); v["name"] != "Tell me about otters please" {
		t.Errorf("auto-generated name = %v", v["name"])
	}
	wantError(t, do(t, s, "POST", "/conversations/"+cid+"/name", `{"user":"alice"}`), 400, "invalid_param")
	wantError(t, do(t, s, "POST", "/conversations/"+cid+"/name", `{"name":"x","user":"bob"}`), 404, "not_found")

	wantError(t, do(t, s, "DELETE", "/conversations/"+cid, `{"user":"bob"}`), 404, "not_found")
	r = do(t, s, "DELETE", "/conversations/"+cid, `{"user":"alice"}`)
	wantStatus(t, r, 204)
	if len(r.body) != 0 {
		t.Errorf("204 with body %q", r.body)
	}
	wantError(t, do(t, s, "DELETE", "/conversations/"+cid, `{"user":"alice"}`), 404, "not_found")
	if got := ids(t, do(t, s, "GET", "/conversations?user=alice", nil)); len(got) != 0 {
		t.Errorf("after delete: %v", got)
	}
	// Malformed ids are a route-level 404, as with Dify's UUID converter.
	v := wantError(t, do(t, s, "DELETE", "/conversations/not-a-uuid", `{"user":"alice"}`), 404, "not_found")
	if v["message"] == "Conversation Not Exists." {
		t.Errorf("malformed id answered like an unknown conversation")
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	cid := chat(t, s, "alice", "", "hi")["conversation_id"].(string)
	r := do(t, s, "GET", "/conversations/"+cid+"/variables?user=alice", nil)
	data := r.json(t)["data"].([]any)
	if len(data) != 2 {
		t.Fatalf("variables = %s", r.body)
	}
	vid := ""
	for _, d := range data {
		if m := d.(map[string]any); m["name"] == "topic" {
			vid = m["id"].(string)
		}
	}
	r = do(t, s, "PUT", "/conversations/"+cid+"/variables/"+vid, `{"value":"otters","user":"alice"}`)
	wantStatus(t, r, 200)
	if r.json(t)["value"] != "otters" {
		t.Errorf("updated = %s", r.body)
	}
	r = do(t, s, "GET", "/conversations/"+cid+"/variables?user=alice&variable_name=topic", nil)
	if data := r.json(t)["data"].([]any); len(data) != 1 || data[0].(map[string]any)["value"] != "otters" {
		t.Errorf("by name = %s", r.body)
	}
	wantError(t, do(t, s, "PUT", "/conversations/"+cid+"/variables/"+vid, `{"value":42,"user":"alice"}`), 400, "bad_request")
	wantError(t, do(t, s, "PUT", "/conversations/"+cid+"/variables/"+cid, `{"value":"x","user":"alice"}`), 404, "not_found")
	wantError(t, do(t, s, "GET", "/conversations/"+cid+"/variables?user=bob", nil), 404, "not_found")
}

// TestGeneratedClient drives the fake with the generated client.
func TestGeneratedClient(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	c, err := gen.NewClientWithResponses(s.URL, gen.WithHTTPClient(s.Client()), gen.WithRequestEditorFn(bearer(s.APIKey)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	send, err := c.SendChatMessageWithResponse(ctx, gen.SendChatMessageJSONRequestBody{
		Inputs: map[string]any{}, Query: "hello", User: "carol", ResponseMode: gen.ChatRequestResponseModeBlocking,
	})
	if err != nil || send.JSON200 == nil {
		t.Fatalf("send: %v %s", err, send.Body)
	}
	user := "carol"
	list, err := c.GetConversationsListWithResponse(ctx, &gen.GetConversationsListParams{User: &user})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Data) != 1 || list.JSON200.Data[0].ID != send.JSON200.ConversationID {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	hist, err := c.GetConversationHistoryWithResponse(ctx, &gen.GetConversationHistoryParams{ConversationID: send.JSON200.ConversationID, User: &user})
	if err != nil || hist.JSON200 == nil || len(hist.JSON200.Data) != 1 || hist.JSON200.Data[0].Answer != send.JSON200.Answer {
		t.Fatalf("history: %v %s", err, hist.Body)
	}
	meta, err := c.GetChatAppMetaWithResponse(ctx)
	if err != nil || meta.JSON200 == nil {
		t.Fatalf("meta: %v %s", err, meta.Body)
	}
	del, err := c.DeleteConversationWithResponse(ctx, send.JSON200.ConversationID, gen.DeleteConversationJSONRequestBody{User: user})
	if err != nil || del.StatusCode() != 204 {
		t.Fatalf("delete: %v %d %s", err, del.StatusCode(), del.Body)
	}
}
