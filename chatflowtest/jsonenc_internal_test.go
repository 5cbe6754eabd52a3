package chatflowtest

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAppendJSONMatchesMarshal checks appendJSON byte for byte against
// json.Marshal, on hand-picked values and on random nested ones.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	check := func(v any) {
		t.Helper()
		want, werr := json.Marshal(v)
		got, gerr := appendJSON(nil, v)
		if (werr != nil) != (gerr != nil) || string(got) != string(want) {
			t.Fatalf("appendJSON(%#v) = %s, %v; json.Marshal gives %s, %v", v, got, gerr, want, werr)
		}
	}
	for _, v := range []any{
		nil, "", "plain", `q"uote`, `back\slash`, "<html>&", "tab\there", "héllo", "\u2028", "bad \xff utf8",
		true, false, 0, -1, math.MaxInt64, int64(math.MinInt64), 0.1, 1e21, 1.5e-7, float32(0.3), math.NaN(),
		map[string]any(nil), map[string]any{}, []any(nil), []any{}, []string{"a", "<"}, []map[string]any{{"k": 1}, nil},
		map[string]any{"b": 1, "a": []any{"x", nil, map[string]any{"z": true, "y": "é"}}, "<": ">"},
		struct{ A int }{1}, []int{1, 2},
	} {
		check(v)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "a", "node_id", "<", "é", "\n", "\"", "\\", "sys.query", "0000d1f7-0000-4000-8000-000000011b80"}
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := rng.IntN(10); {
		case depth > 3 || k < 3:
			return []any{nil, true, rng.IntN(1000) - 500, strs[rng.IntN(len(strs))], rng.Float64() * 100, int64(rng.Uint64() >> 1)}[rng.IntN(6)]
		case k < 6:
			m := map[string]any{}
			for range rng.IntN(5) {
				m[strs[rng.IntN(len(strs))]] = gen(depth + 1)
			}
			return m
		case k < 8:
			a := []any{}
			for range rng.IntN(4) {
				a = append(a, gen(depth+1))
			}
			return a
		default:
			return []map[string]any{{strs[rng.IntN(len(strs))]: gen(depth + 1)}}
		}
	}
	for range 5000 {
		check(gen(0))
	}
}

// TestAppendJSONObjectFirstKey checks that the named key leads and the
// others keep their sorted order.
func TestAppendJSONObjectFirstKey(t *testing.T) {
	m := map[string]any{"answer": "hi", "event": "message", "task_id": "t", "conversation_id": "c"}
	got, err := appendJSONObject(nil, m, "event")
	want := `{"event":"message","answer":"hi","conversation_id":"c","task_id":"t"}`
	if err != nil || string(got) != want {
		t.Fatalf("got %s, %v; want %s", got, err, want)
	}
	if got, _ := appendJSONObject(nil, map[string]any{"b": 1, "a": 2}, "event"); string(got) != `{"a":2,"b":1}` {
		t.Fatalf("without the first key: %s", got)
	}
}
