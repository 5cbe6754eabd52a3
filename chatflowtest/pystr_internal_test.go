package chatflowtest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestPythonStr checks the rendering of variable values against what
// CPython 3 prints for str(json.loads(raw)) (the table was made with it).
func TestPythonStr(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"42", "42"},
		{"4.5", "4.5"},
		{"true", "True"},
		{"false", "False"},
		{"{\"a\": 1}", "{'a': 1}"},
		{"[\"x\", 1]", "['x', 1]"},
		{"\"hi\"", "hi"},
		{"\"it's {}\"", "it's {}"},
		{"{\"b\":null,\"a\":[true,1.0]}", "{'b': None, 'a': [True, 1.0]}"},
		{"[\"it's\"]", "[\"it's\"]"},
		{"[\"a'b\\\"c\"]", "['a\\'b\"c']"},
		{"[\"\\n\\\\\\t\\r\\u0001\\u007f\"]", "['\\n\\\\\\t\\r\\x01\\x7f']"},
		{"1", "1"},
		{"1.0", "1.0"},
		{"1e16", "1e+16"},
		{"1e15", "1000000000000000.0"},
		{"0.00001", "1e-05"},
		{"0.0001", "0.0001"},
		{"12345678901234567890", "12345678901234567890"},
		{"-0", "0"},
		{"-0.0", "-0.0"},
		{"{\"k\":\"é\\u00a0\\u2028😀\\ud834\\udd73\"}", "{'k': 'é\\xa0\\u2028😀\\U0001d173'}"},
		{"1e400", "inf"},
		{"-1e400", "-inf"},
		{"{\"a\":1,\"b\":3,\"a\":2}", "{'a': 2, 'b': 3}"},
		{"[]", "[]"},
		{"{}", "{}"},
		{"[[],{}]", "[[], {}]"},
		{"1.5e300", "1.5e+300"},
		{"123456789.125", "123456789.125"},
		{"1E2", "100.0"},
		{"0.1", "0.1"},
		{"[0.30000000000000004, -1e-7]", "[0.30000000000000004, -1e-07]"},
		{"{\"x\":{\"y\":[null,false]}}", "{'x': {'y': [None, False]}}"},
	} {
		got, err := pythonStr([]byte(tc.raw))
		if err != nil || got != tc.want {
			t.Errorf("pythonStr(%s) = %#v, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
	if got, err := pythonStr([]byte("null")); got != nil || err != nil {
		t.Errorf("pythonStr(null) = %#v, %v; want nil", got, err)
	}
	for _, bad := range []string{"", "[1,", "{\"a\"", "nul"} {
		if _, err := pythonStr([]byte(bad)); err == nil {
			t.Errorf("pythonStr(%q): no error", bad)
		}
	}
}

// FuzzPythonStr: any JSON value renders without error or panic; null is
// nil, a string is itself, anything else a non-empty string.
func FuzzPythonStr(f *testing.F) {
	for _, s := range []string{`42`, `-0.0`, `1e400`, `"it's"`, `{"a":[null,true,"x'\""]}`, `[[],{}]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := pythonStr(raw)
		if !json.Valid(raw) {
			return
		}
		if err != nil {
			t.Fatalf("pythonStr(%s): %v", raw, err)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // 1e400 is a number too
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("json.Valid but %v", err)
		}
		switch v := v.(type) {
		case nil:
			if got != nil {
				t.Fatalf("pythonStr(%s) = %#v, want nil", raw, got)
			}
		case string:
			if got != v {
				t.Fatalf("pythonStr(%s) = %#v, want the string itself", raw, got)
			}
		default:
			if s, ok := got.(string); !ok || s == "" {
				t.Fatalf("pythonStr(%s) = %#v, want a non-empty string", raw, got)
			}
		}
	})
}
