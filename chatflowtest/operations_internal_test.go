package chatflowtest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/difykit/chatflow/internal/difyroute"
	"github.com/difykit/chatflow/internal/spectest"
)

// TestOperationTable: the table covers every operation of the description
// and names only real operations and parameters; its decorated entries
// are exactly the endpoints the server facts name.
func TestOperationTable(t *testing.T) {
	// The description the fake routes with.
	rt, _, err := spectest.Find("GET", "/info")
	if err != nil {
		t.Fatal(err)
	}
	doc := rt.Spec
	seen := map[string]bool{}
	usedUUIDParams := map[string]bool{} // path parameters of the description
	for path, item := range doc.Paths.Map() {
		if knowledgeAPI(path) {
			continue // Dify's upstream file also describes the knowledge API, which the fake does not play
		}
		pathParams := regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1)
		if strings.HasPrefix(path, "/datasets") || strings.HasPrefix(path, "/workspaces") {
			// The knowledge base API (Dify's published description, put
			// in place by scripts/check-upstream, has it): no app's.
			continue
		}
		for method, o := range item.Operations() {
			id := o.OperationID
			seen[id] = true
			op, ok := operations[id]
			if !ok || op.serve == nil {
				t.Errorf("%s %s (%s): not served", method, path, id)
				continue
			}
			for _, m := range pathParams {
				usedUUIDParams[m[1]] = true
			}
			for _, name := range op.lenientQuery {
				found := false
				for _, p := range append(item.Parameters, o.Parameters...) {
					found = found || (p.Value != nil && p.Value.In == "query" && p.Value.Name == name)
				}
				if !found {
					t.Errorf("%s: lenient query parameter %s is not one of its parameters", id, name)
				}
			}
			want := (method == "GET" && path == "/messages") ||
				(method == "POST" && path == "/messages/{message_id}/feedbacks") ||
				(method == "GET" && path == "/app/feedbacks") ||
				strings.HasPrefix(path, "/apps/annotation")
			if op.decorated != want {
				t.Errorf("%s %s: decorated = %v, want %v", method, path, op.decorated, want)
			}
		}
	}
	// Every parameter the fake and the client take for UUID-routed is a
	// path parameter of the description.
	for _, name := range difyroute.UUIDParams() {
		if !usedUUIDParams[name] {
			t.Errorf("difyroute names %s, which no path of the description has", name)
		}
	}
	// The other app types' operations: routed by the table, and found
	// there by findExtra.
	for id, op := range operations {
		if seen[id] {
			continue
		}
		if op.method == "" || op.path == "" || op.serve == nil || op.modes == 0 {
			t.Errorf("operation %s is not in the description and has no route, handler or mode", id)
			continue
		}
		path := strings.NewReplacer("{workflow_id}", "wf-1", "{task_id}", "task-1").Replace(op.path)
		if got, _, ok := findExtra(op.method, path); !ok || got != id {
			t.Errorf("findExtra(%s %s) = %q, %v; want %s", op.method, path, got, ok, id)
		}
	}
}

// knowledgeAPI reports whether path belongs to Dify's knowledge (datasets)
// API rather than to an app's Service API.
func knowledgeAPI(path string) bool {
	return strings.HasPrefix(path, "/datasets") || strings.HasPrefix(path, "/workspaces/")
}
