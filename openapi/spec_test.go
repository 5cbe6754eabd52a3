package openapi

import (
	"encoding/json"
	"os"
	"testing"
)

func TestSpecLoadsWithOverlay(t *testing.T) {
	t.Parallel()
	doc, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Components.Schemas["ErrorResponse"]; !ok {
		t.Error("overlay not applied: no ErrorResponse schema")
	}
	// Our description has exactly the 31 chatflow operations; Dify's
	// published file (a drop-in replacement) has those and more.
	n := 0
	for _, item := range doc.Paths.Map() {
		n += len(item.Operations())
	}
	if n < 31 {
		t.Errorf("description has %d operations, want at least 31", n)
	}
}

// The chatflow description keeps every operation id of Dify's published
// Service API for the chatflow app type, so the upstream file can replace it.
func TestSameOperationsAsUpstream(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../shared/upstream/memberships.json")
	if err != nil {
		t.Skip("upstream files not present:", err)
	}
	var m struct {
		Pages map[string]struct {
			Ops []string `json:"ops"`
		} `json:"pages"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	doc, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range m.Pages["chatflow"].Ops {
		var method, path string
		for i := range op {
			if op[i] == ' ' {
				method, path = op[:i], op[i+1:]
				break
			}
		}
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("missing operation %s", op)
		}
	}
}
