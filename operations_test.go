package chatflow

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/spec"
)

// generatedOperationIDs reads the operation ids that the generator config
// keeps (the chatflow operations).
func generatedOperationIDs(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("openapi/oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "include-operation-ids:"):
			in = true
		case in && strings.HasPrefix(trimmed, "- "):
			ids[strings.TrimSpace(strings.TrimPrefix(trimmed, "- "))] = true
		case in && trimmed != "" && !strings.HasPrefix(trimmed, "#"):
			in = false
		}
	}
	return ids
}

// Every operation that the generator config keeps has a typed method on
// the generated client that Client.API returns, and a route that the doer
// accepts. The config is the one place that says which operations exist.
func TestEveryOperationHasATypedMethod(t *testing.T) {
	t.Parallel()
	ids := generatedOperationIDs(t)
	if len(ids) == 0 || len(ids) != len(apiRoutes) {
		t.Fatalf("the generator config keeps %d operations, routes_gen.go has %d routes", len(ids), len(apiRoutes))
	}
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	ct := reflect.TypeOf(&gen.ClientWithResponses{})
	found := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !ids[op.OperationID] {
				continue
			}
			found++
			name := strings.ToUpper(op.OperationID[:1]) + op.OperationID[1:]
			_, plain := ct.MethodByName(name + "WithResponse")
			_, body := ct.MethodByName(name + "WithBodyWithResponse")
			if !plain && !body {
				t.Errorf("%s %s (%s): no %sWithResponse method", method, path, op.OperationID, name)
			}
		}
	}
	if found != len(ids) {
		t.Errorf("the description has %d of the %d configured operations", found, len(ids))
	}
}

// Client's own methods are the hand-written API: none of the generated
// methods leak into it.
func TestClientHasOnlyHandWrittenMethods(t *testing.T) {
	t.Parallel()
	ct := reflect.TypeOf(&Client{})
	for i := range ct.NumMethod() {
		name := ct.Method(i).Name
		if strings.HasSuffix(name, "WithResponse") || strings.HasSuffix(name, "WithBody") {
			t.Errorf("Client has the generated method %s", name)
		}
	}
	if _, ok := ct.MethodByName("API"); !ok {
		t.Error("Client has no API method")
	}
}
