package chatflow

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/difykit/chatflow/openapi"
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

// Every chatflow operation of the API description has a typed method on
// Client.
func TestEveryOperationHasATypedMethod(t *testing.T) {
	t.Parallel()
	ids := generatedOperationIDs(t)
	if len(ids) != 31 {
		t.Fatalf("the generator config keeps %d operations, want 31", len(ids))
	}
	doc, err := openapi.Spec()
	if err != nil {
		t.Fatal(err)
	}
	ct := reflect.TypeOf(&Client{})
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
