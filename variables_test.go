package chatflow

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/difykit/chatflow/internal/pyliteral"
)

func variable(valueType string, value *string) ConversationVariable {
	return ConversationVariable{ID: "3f0c9a1e-7b2d-4c55-8e11-0a9b8c7d6e5f", Name: "profile", ValueType: valueType, Value: value}
}

// The values below are what Python's str() gives for the stored values
// (checked with CPython 3).
var pythonRenderings = []struct {
	valueType, value string
	want             any
}{
	{"string", "it's 'quoted' {not parsed}", "it's 'quoted' {not parsed}"},
	{"secret", "sk-123 'x'", "sk-123 'x'"},
	{"number", "42", 42.0},
	{"number", "-7", -7.0},
	{"number", "3.5", 3.5},
	{"number", "1e+16", 1e16},
	{"number", "1e-07", 1e-7},
	{"number", "-0.0", math.Copysign(0, -1)},
	{"integer", "12345678901234567890", 12345678901234567890.0},
	{"float", "0.1", 0.1},
	{"number", "inf", math.Inf(1)},
	{"number", "-inf", math.Inf(-1)},
	{"boolean", "True", true},
	{"boolean", "False", false},
	{"object", "{'a': 1}", map[string]any{"a": 1.0}},
	{"object", "{}", map[string]any{}},
	{"object", "{1: 'a', True: None}", map[string]any{"1": "a", "true": nil}},
	{"object", `{"it's": 'q"x', 'n': None, 'l': [1, 2.5, True, 'x\ny'], 'u': 'é\u2028\x00😀\t\\'}`,
		map[string]any{"it's": `q"x`, "n": nil, "l": []any{1.0, 2.5, true, "x\ny"}, "u": "é\u2028\x00😀\t\\"}},
	{"object", "{'nested': {'deep': [{'k': (1, 2)}]}}", map[string]any{"nested": map[string]any{"deep": []any{map[string]any{"k": []any{1.0, 2.0}}}}}},
	{"array[string]", "['a', \"b'c\"]", []any{"a", "b'c"}},
	{"array[number]", "[1, 2.5, -3]", []any{1.0, 2.5, -3.0}},
	{"array[boolean]", "[True, False]", []any{true, false}},
	{"array[object]", "[{'k': 'v'}]", []any{map[string]any{"k": "v"}}},
	{"array[any]", "[1, 'a', None, [], {}]", []any{1.0, "a", nil, []any{}, map[string]any{}}},
	{"array[string]", "[]", []any{}},
	{"array[number]", "(1,)", []any{1.0}},
	{"file", "{'id': 'f1', 'type': 'image'}", map[string]any{"id": "f1", "type": "image"}},
	{"file", "dify_model_identity='__dify__file__' id=None", "dify_model_identity='__dify__file__' id=None"},
	{"none", "None", nil},
	{"some-new-type", "as sent", "as sent"},
}

func TestVariableValuePython(t *testing.T) {
	for _, tc := range pythonRenderings {
		v := tc.value
		got, err := VariableValue(variable(tc.valueType, &v))
		if err != nil {
			t.Errorf("%s %q: %v", tc.valueType, tc.value, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) || (tc.want == nil) != (got == nil) {
			t.Errorf("%s %q = %#v, want %#v", tc.valueType, tc.value, got, tc.want)
		}
		if f, ok := tc.want.(float64); ok && math.Signbit(f) != math.Signbit(got.(float64)) {
			t.Errorf("%s %q: sign lost", tc.valueType, tc.value)
		}
	}
	nan := "nan"
	if got, err := VariableValue(variable("number", &nan)); err != nil || !math.IsNaN(got.(float64)) {
		t.Errorf("nan = %v, %v", got, err)
	}
}

func TestVariableValueJSON(t *testing.T) {
	for _, tc := range []struct {
		valueType, value string
		want             any
	}{
		{"number", "42", 42.0},
		{"number", "1.5E3", 1500.0},
		{"boolean", "true", true},
		{"boolean", "false", false},
		{"object", `{"a": 1, "b": [true, null, "x\"\/\u00e9\ud83d\ude00"]}`,
			map[string]any{"a": 1.0, "b": []any{true, nil, "x\"/é😀"}}},
		{"array[object]", `[{"k":"v"},{}]`, []any{map[string]any{"k": "v"}, map[string]any{}}},
		{"array[string]", ` ["a","b"] `, []any{"a", "b"}},
	} {
		v := tc.value
		got, err := VariableValue(variable(tc.valueType, &v))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s = %#v, %v; want %#v", tc.valueType, tc.value, got, err, tc.want)
		}
		var viaJSON any
		if err := json.Unmarshal([]byte(tc.value), &viaJSON); err != nil || !reflect.DeepEqual(got, viaJSON) {
			t.Errorf("%s: VariableValue disagrees with encoding/json: %#v vs %#v", tc.value, got, viaJSON)
		}
	}
}

func TestVariableValueNull(t *testing.T) {
	for _, vt := range []string{"string", "number", "object", "array[string]", ""} {
		if got, err := VariableValue(variable(vt, nil)); got != nil || err != nil {
			t.Errorf("%s null = %#v, %v; want nil, nil", vt, got, err)
		}
	}
}

// A malformed value is an error naming the variable (name and id) and the
// type, without quoting the value; never a panic.
func TestVariableValueMalformed(t *testing.T) {
	for _, tc := range []struct{ valueType, value string }{
		{"number", "forty-two"},
		{"number", "0x2a"},
		{"number", "1_000"},
		{"number", ""},
		{"number", "1e400"},
		{"number", "True"},
		{"number", "[1]"},
		{"boolean", "yes"},
		{"boolean", "1"},
		{"object", "[1, 2]"},
		{"object", "{'a': 1"},
		{"object", "{'a' 1}"},
		{"object", "{'a': 1,, }"},
		{"object", "{'a': 'unterminated}"},
		{"object", "{[1]: 2}"},
		{"object", "{'a': Nonesuch}"},
		{"object", "{'a': 1} trailing"},
		{"object", "{'a': b'bytes'}"},
		{"object", "{'a': set()}"},
		{"object", `{'a': '\x4'}`},
		{"object", `{'a': '\U00110000'}`},
		{"object", strings.Repeat("[", 100000)},
		{"object", strings.Repeat("{'a': ", 1000) + "1" + strings.Repeat("}", 1000)},
		{"array[string]", "['a', 1]"},
		{"array[number]", "[1, 'a']"},
		{"array[boolean]", "[True, None]"},
		{"array[object]", "[{}, []]"},
		{"array[any]", "{'a': 1}"},
		{"array[any]", "'a'"},
	} {
		v := tc.value
		got, err := VariableValue(variable(tc.valueType, &v))
		if err == nil {
			t.Errorf("%s %.40q = %#v, want an error", tc.valueType, tc.value, got)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, `"profile"`) || !strings.Contains(msg, "3f0c9a1e-7b2d-4c55-8e11-0a9b8c7d6e5f") || !strings.Contains(msg, tc.valueType) {
			t.Errorf("%s %.40q: error %q does not name the variable and its type", tc.valueType, tc.value, msg)
		}
		if len(tc.value) >= 4 && strings.Contains(msg, tc.value) {
			t.Errorf("error %q quotes the value", msg)
		}
		if got != nil {
			t.Errorf("%s %.40q: a value (%#v) with the error", tc.valueType, tc.value, got)
		}
	}
}

// Against a server that renders values with str(), as Dify does, the
// iterator's values decode by their type; a server that sends a JSON value
// of another type does not fail the page, and the value still decodes.
func TestConversationVariablesDecodeValues(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /conversations/{id}/variables", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"limit":100,"has_more":false,"data":[
			{"id":"v1","name":"count","value_type":"number","value":"42"},
			{"id":"v2","name":"flag","value_type":"boolean","value":"True"},
			{"id":"v3","name":"prefs","value_type":"object","value":"{'lang': 'en', 'n': None}"},
			{"id":"v4","name":"empty","value_type":"string","value":null},
			{"id":"v5","name":"json","value_type":"array[number]","value":[1, 2]},
			{"id":"v6","name":"jsonnum","value_type":"number","value":7}]}`)
	})
	mux.HandleFunc("PUT /conversations/{id}/variables/{vid}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"id":"v3","name":"prefs","value_type":"object","value":"{'lang': 'fr'}"}`)
	})
	want := map[string]any{
		"count": 42.0, "flag": true, "prefs": map[string]any{"lang": "en", "n": nil},
		"empty": nil, "json": []any{1.0, 2.0}, "jsonnum": 7.0,
	}
	n := 0
	for v, err := range c.ConversationVariables(context.Background(), uuidN(1, 1), "u1") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		got, err := VariableValue(v)
		if err != nil || !reflect.DeepEqual(got, want[v.Name]) {
			t.Errorf("%s = %#v, %v; want %#v", v.Name, got, err, want[v.Name])
		}
	}
	if n != len(want) {
		t.Errorf("%d variables, want %d", n, len(want))
	}
	v, err := c.UpdateConversationVariable(context.Background(), uuidN(1, 1), uuidN(2, 1), "u1", map[string]any{"lang": "fr"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := VariableValue(*v); err != nil || !reflect.DeepEqual(got, map[string]any{"lang": "fr"}) {
		t.Errorf("updated value = %#v, %v", got, err)
	}
}

// FuzzVariableValue feeds arbitrary values of every type to VariableValue:
// it must never panic, an error must name the variable, and a value that is
// valid JSON must decode as encoding/json decodes it.
func FuzzVariableValue(f *testing.F) {
	for _, tc := range pythonRenderings {
		f.Add(tc.valueType, tc.value)
	}
	for _, s := range []string{`{"a":[1,{"b":null}],"c":"\ud83d\ude00\u0000"}`, `[1e5, -0, 0.5]`, `"\xff"`, "'\\777'", "{'a': '\\\n'}", "(", "-", "+nan", "[-inf]", "{None: 1.}"} {
		f.Add("object", s)
		f.Add("array[any]", s)
	}
	f.Fuzz(func(t *testing.T, valueType, value string) {
		v := variable(valueType, &value)
		got, err := VariableValue(v)
		if err != nil {
			if !strings.Contains(err.Error(), v.ID) {
				t.Fatalf("error %q does not name the variable", err)
			}
			if got != nil {
				t.Fatalf("a value with the error: %#v", got)
			}
		}
		x, perr := pyliteral.Parse(value)
		var viaJSON any
		if json.Valid([]byte(value)) && json.Unmarshal([]byte(value), &viaJSON) == nil {
			if perr != nil {
				t.Fatalf("valid JSON %q: %v", value, perr)
			}
			if !reflect.DeepEqual(x, viaJSON) {
				t.Fatalf("%q: parsed %#v, encoding/json %#v", value, x, viaJSON)
			}
		}
	})
}

// testdata/python_str_values.jsonl holds CPython's str() of random nested
// values with json.dumps of the same values: each rendering must decode to
// what encoding/json makes of the JSON.
func TestVariableValueCPythonRenderings(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/python_str_values.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		var tc struct{ Python, JSON string }
		if err := json.Unmarshal([]byte(line), &tc); err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal([]byte(tc.JSON), &want); err != nil {
			t.Fatal(err)
		}
		n++
		vt := "array[any]"
		switch want.(type) {
		case map[string]any:
			vt = "object"
		case string:
			vt = "string" // str() of a string is the string itself
		case float64:
			vt = "number"
		case bool:
			vt = "boolean"
		case nil:
			vt = "none"
		}
		got, err := VariableValue(variable(vt, &tc.Python))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s %q = %#v, %v; want %#v", vt, tc.Python, got, err, want)
		}
	}
	if n < 100 {
		t.Errorf("only %d renderings", n)
	}
}
