package chatflowtest

import (
	"encoding/json"
	"slices"
	"strconv"
)

// appendJSON appends the JSON of v to b, byte for byte what json.Marshal
// writes, without reflection for the values the fake builds its replies
// from (maps of any with sorted keys, slices, strings, integers, booleans,
// nil); anything else, and strings that need escaping, go through
// encoding/json. It is the fake's hot path: every event of every stream.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, v)
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case map[string]any:
		return appendJSONObject(b, v, "")
	case []any:
		return appendJSONArray(b, v)
	case []map[string]any:
		return appendJSONArray(b, v)
	case []string:
		return appendJSONArray(b, v)
	}
	j, err := json.Marshal(v)
	return append(b, j...), err
}

// appendJSONObject appends the object m with its keys sorted, except
// first, when m has it, which comes first (Dify's events start with
// "event").
func appendJSONObject(b []byte, m map[string]any, first string) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != first {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if _, ok := m[first]; ok {
		keys = slices.Insert(keys, 0, first)
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSONString(b, k); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = appendJSON(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendJSONArray[T any](b []byte, v []T) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, e := range v {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSON(b, e); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendJSONString quotes s; a string with a byte encoding/json escapes
// (quote, backslash, control characters, <, >, &, anything outside ASCII)
// is left to encoding/json.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, err := json.Marshal(s)
			return append(b, j...), err
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
