package openapi_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/difykit/chatflow/internal/spec"
	"github.com/difykit/chatflow/openapi"
)

func TestSpecLoadsWithOverlay(t *testing.T) {
	t.Parallel()
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Components.Schemas["ErrorResponse"]; !ok {
		t.Error("overlay not applied: no ErrorResponse schema")
	}
	// Our description has the chatflow operations that the generator
	// config keeps; Dify's published file (a drop-in replacement) has those
	// and more.
	want := len(includedOperationIDs(t))
	n := 0
	for _, item := range doc.Paths.Map() {
		n += len(item.Operations())
	}
	if n < want {
		t.Errorf("description has %d operations, want at least %d", n, want)
	}
}

// includedOperationIDs reads include-operation-ids from oapi-codegen.yaml,
// the one place that says which (and so how many) operations there are.
func includedOperationIDs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var config struct {
		OutputOptions struct {
			IncludeOperationIDs []string `yaml:"include-operation-ids"`
		} `yaml:"output-options"`
	}
	if err := yaml.Unmarshal(raw, &config); err != nil {
		t.Fatal(err)
	}
	if len(config.OutputOptions.IncludeOperationIDs) == 0 {
		t.Fatal("oapi-codegen.yaml: no include-operation-ids")
	}
	return config.OutputOptions.IncludeOperationIDs
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
	doc, err := spec.Load()
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

// The server facts of issue 10 that the overlay states: each would be lost
// silently if an overlay action stopped matching its target.
func TestOverlayServerFacts(t *testing.T) {
	t.Parallel()
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	errorBody := func(op, status string) {
		t.Helper()
		method, path, _ := strings.Cut(op, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s: no such operation", op)
			return
		}
		r := item.GetOperation(method).Responses.Value(status)
		if r == nil || r.Value == nil {
			t.Errorf("%s: no %s response", op, status)
			return
		}
		mt := r.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/ErrorResponse" {
			t.Errorf("%s: %s response is not an ErrorResponse", op, status)
		}
	}
	for _, op := range []string{
		"GET /messages",
		"POST /messages/{message_id}/feedbacks",
		"GET /app/feedbacks",
		"GET /apps/annotations",
		"POST /apps/annotations",
		"PUT /apps/annotations/{annotation_id}",
		"DELETE /apps/annotations/{annotation_id}",
		"POST /apps/annotation-reply/{action}",
		"GET /apps/annotation-reply/{action}/status/{job_id}",
	} {
		errorBody(op, "422")
	}
	errorBody("GET /apps/annotation-reply/{action}/status/{job_id}", "404")
	// The fake, like a server behind its size limit, refuses an oversized
	// JSON body with 413 request_entity_too_large.
	for _, op := range []string{
		"POST /chat-messages",
		"POST /messages/{message_id}/feedbacks",
		"POST /conversations/{conversation_id}/name",
		"PUT /conversations/{conversation_id}/variables/{variable_id}",
		"POST /apps/annotations",
		"POST /text-to-audio",
	} {
		errorBody(op, "413")
	}

	logs := doc.Paths.Find("/workflows/logs").Get
	if p := logs.Parameters.GetByInAndName("query", "status"); p == nil {
		t.Error("workflow logs: no status filter")
	} else if got := fmt.Sprint(p.Schema.Value.Enum); got != "[succeeded failed stopped]" {
		t.Errorf("workflow logs status filter enum = %s, want [succeeded failed stopped]", got)
	}

	branch := doc.Components.Schemas["ParallelBranchEventData"].Value.Properties
	for _, f := range []string{"parallel_id", "parallel_branch_id", "parent_parallel_id", "parent_parallel_start_node_id", "iteration_id", "loop_id", "created_at", "status", "error"} {
		if _, ok := branch[f]; !ok {
			t.Errorf("ParallelBranchEventData lacks %s", f)
		}
	}
	if _, ok := branch["parallel_start_node_id"]; ok {
		t.Error("ParallelBranchEventData still has parallel_start_node_id, which the server does not send")
	}

	blocking := doc.Components.Schemas["ChatCompletionResponse"].Value.Properties
	for _, f := range []string{"event", "task_id", "workflow_run_id", "data"} {
		if _, ok := blocking[f]; !ok {
			t.Errorf("ChatCompletionResponse lacks %s (workflow_paused reply)", f)
		}
	}
	if d := blocking["data"]; d != nil {
		for _, f := range []string{"status", "paused_nodes", "outputs", "reasons", "human_input_forms"} {
			if _, ok := d.Value.Properties[f]; !ok {
				t.Errorf("ChatCompletionResponse.data lacks %s", f)
			}
		}
	}
}

// The overlay replaces the description's event-name enum with EventName,
// from which the root package's event plumbing is generated: an event that
// the description (ours or a newer upstream file) names must not be lost
// there. When this fails, add the name to EventName in overlay.yaml and run
// go generate.
func TestEventNameCoversDescription(t *testing.T) {
	t.Parallel()
	var raw struct {
		Components struct {
			Schemas struct {
				ChunkChatEvent struct {
					Properties struct {
						Event struct {
							Enum []string `json:"enum"`
						} `json:"event"`
					} `json:"properties"`
					Discriminator struct {
						Mapping map[string]string `json:"mapping"`
					} `json:"discriminator"`
				} `json:"ChunkChatEvent"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapi.Raw(), &raw); err != nil {
		t.Fatal(err)
	}
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]bool{}
	for _, v := range doc.Components.Schemas["EventName"].Value.Enum {
		ours[v.(string)] = true
	}
	base := raw.Components.Schemas.ChunkChatEvent
	if len(base.Properties.Event.Enum) == 0 {
		t.Fatal("the description lists no event names (ChunkChatEvent.event.enum)")
	}
	for _, n := range base.Properties.Event.Enum {
		if !ours[n] {
			t.Errorf("event %q of the description is missing from the overlay's EventName", n)
		}
	}
	for n := range base.Discriminator.Mapping {
		if !ours[n] {
			t.Errorf("event %q has a payload schema but is missing from the overlay's EventName", n)
		}
	}
}
