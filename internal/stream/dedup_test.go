package stream

import (
	"testing"

	"github.com/difykit/chatflow/internal/jsonscan"
)

// DifyEventKey reads the ids with jsonscan's one pass where it can, and
// they are the ones encoding/json reads.
func FuzzDifyEventKey(f *testing.F) {
	f.Add("node_started", `{"event":"node_started","task_id":"t","data":{"id":"e1","node_id":"n","inputs":{"id":"x"}}}`)
	f.Add("iteration_next", `{"data":{"id":"e","index":3}}`)
	f.Add("node_retry", `{"data":{"ID":"e","retry_index":[1]}}`)
	f.Add("human_input_required", `{"data":{"form_token":"tok","id":"n"}}`)
	f.Add("message_file", `{"id":"f\u0031"}`)
	f.Fuzz(func(t *testing.T, name, data string) {
		_ = DifyEventKey(name, data) // never panics
		// The key is made of the ids: where the one pass reads them, it
		// reads what encoding/json reads.
		var fast, std jsonscan.IDs
		if jsonscan.DecodeIDs(data, &fast) && (!decodeIDs(data, &std) || fast != std) {
			t.Fatalf("DecodeIDs(%q) = %+v, encoding/json %+v", data, fast, std)
		}
	})
}
