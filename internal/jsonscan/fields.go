package jsonscan

import "strings"

// TopLevelStrings is TopLevelString for several keys in one pass over s:
// out[k] is what TopLevelString(s, keys[k]) returns. keys must be
// distinct lowercase ASCII; out must be as long as keys.
func TopLevelStrings(s string, keys []string, out []string) {
	clear(out)
	// slow marks the keys that met a value the scanner does not read as
	// a string: not a string (encoding/json then refuses the whole key),
	// or a string with invalid UTF-8 (which it replaces). encoding/json
	// decides those keys at the end.
	var slow uint64
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return
	}
	for {
		if i >= len(s) || s[i] != '"' {
			clear(out)
			return
		}
		end, esc, nonASCII, ok := scanString(s, i)
		if !ok {
			clear(out)
			return
		}
		k := s[i+1 : end-1]
		if esc {
			if k, ok = unquote(s, i, end, esc, nonASCII); !ok {
				k = "\uFFFD" // invalid UTF-8, which matches no key of ours
			}
		}
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			clear(out)
			return
		}
		i = skipSpace(s, i+1)
		if i >= len(s) {
			clear(out)
			return
		}
		match := -1
		for n, key := range keys {
			if k == key || strings.EqualFold(k, key) {
				match = n
				break
			}
		}
		if match >= 0 {
			val, null, vend, ok := flatString(s, i)
			switch {
			case ok:
				if !null {
					out[match] = val
				}
				i = vend
			default:
				slow |= 1 << match
				if i, ok = skipValue(s, i, 0); !ok {
					clear(out)
					return
				}
			}
		} else if i, ok = skipValue(s, i, 0); !ok {
			clear(out)
			return
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			clear(out)
			return
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			for n, key := range keys {
				if slow&(1<<n) != 0 {
					out[n] = slowTopLevelString(s, key)
				}
			}
			return
		default:
			clear(out)
			return
		}
	}
}

// IDs are the fields that tell the events of a stream apart: the event's
// own id and, in its data object, the execution id, the form token and
// the indexes of iterations, loops and retries (as raw JSON).
type IDs struct {
	ID         string // "id"
	DataID     string // "data"."id"
	FormToken  string // "data"."form_token"
	Index      string // "data"."index", raw JSON; "" when absent
	RetryIndex string // "data"."retry_index", raw JSON; "" when absent
}

// DecodeIDs decodes the JSON object s into v as encoding/json decodes it
// into
//
//	struct {
//		ID   string `json:"id"`
//		Data struct {
//			ID         string          `json:"id"`
//			FormToken  string          `json:"form_token"`
//			Index      json.RawMessage `json:"index"`
//			RetryIndex json.RawMessage `json:"retry_index"`
//		} `json:"data"`
//	}
//
// in one pass, without allocating for strings that hold no escapes. It
// returns false, leaving v in any state, for input it does not decode
// exactly as encoding/json would (including every input encoding/json
// refuses); the caller then uses encoding/json.
func DecodeIDs(s string, v *IDs) bool {
	i, ok := decodeIDsObject(s, skipSpace(s, 0), v, false)
	return ok && skipSpace(s, i) == len(s)
}

// decodeIDsObject decodes the object at s[i] (the top level, or data when
// inner) into v, and returns the index after it.
func decodeIDsObject(s string, i int, v *IDs, inner bool) (int, bool) {
	if i >= len(s) || s[i] != '{' {
		return 0, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, false
		}
		end, esc, _, ok := scanString(s, i)
		if !ok || esc {
			return 0, false
		}
		key := s[i+1 : end-1]
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return 0, false
		}
		i = skipSpace(s, i+1)
		if i >= len(s) {
			return 0, false
		}
		var dst *string
		raw := false
		switch {
		case key == "id" && inner:
			dst = &v.DataID
		case key == "id":
			dst = &v.ID
		case key == "data" && !inner:
			if s[i] == 'n' {
				if i, ok = literal(s, i, "null"); !ok {
					return 0, false
				}
				break
			}
			if i, ok = decodeIDsObject(s, i, v, true); !ok {
				return 0, false
			}
		case key == "form_token" && inner:
			dst = &v.FormToken
		case key == "index" && inner:
			dst, raw = &v.Index, true
		case key == "retry_index" && inner:
			dst, raw = &v.RetryIndex, true
		default:
			if foldsToIDKey(key, inner) {
				return 0, false
			}
			if i, ok = skipValue(s, i, 1); !ok {
				return 0, false
			}
		}
		if dst != nil && raw {
			end, ok := skipValue(s, i, 1)
			if !ok {
				return 0, false
			}
			*dst, i = s[i:end], end
		} else if dst != nil {
			val, null, end, ok := flatString(s, i)
			if !ok {
				return 0, false
			}
			if !null {
				*dst = val
			}
			i = end
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return 0, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// foldsToIDKey reports whether key is not one of DecodeIDs' keys at its
// level but encoding/json would still match it to one (without regard to
// case), or might (keys outside ASCII).
func foldsToIDKey(key string, inner bool) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= 0x80 {
			return true
		}
	}
	keys := []string{"id", "data"}
	if inner {
		keys = []string{"id", "form_token", "index", "retry_index"}
	}
	for _, k := range keys {
		if len(k) == len(key) && strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}
