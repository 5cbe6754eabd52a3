package chatflow

import (
	"reflect"
	"strings"
	"testing"

	"github.com/difykit/chatflow/openapi"
)

// Every operation of the API description has a typed method on Client.
func TestEveryOperationHasATypedMethod(t *testing.T) {
	t.Parallel()
	doc, err := openapi.Spec()
	if err != nil {
		t.Fatal(err)
	}
	ct := reflect.TypeOf(&Client{})
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			name := strings.ToUpper(op.OperationID[:1]) + op.OperationID[1:]
			_, plain := ct.MethodByName(name + "WithResponse")
			_, body := ct.MethodByName(name + "WithBodyWithResponse")
			if !plain && !body {
				t.Errorf("%s %s (%s): no %sWithResponse method", method, path, op.OperationID, name)
			}
		}
	}
	if n < 31 {
		t.Errorf("only %d operations in the description", n)
	}
}
