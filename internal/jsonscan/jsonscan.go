// Package jsonscan is a small strict JSON scanner over strings: enough to
// find top-level keys without decoding the whole object, and to decode the
// flat "message" event of a stream, the most frequent one, without
// encoding/json. Whenever it meets something it does not handle exactly as
// encoding/json would, it gives up and the caller falls back to
// encoding/json.
package jsonscan

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isJSONSpace(s[i]) {
		i++
	}
	return i
}

// TrimSpace removes JSON white space around s.
func TrimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isJSONSpace(s[i]) {
		i++
	}
	for j > i && isJSONSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// scanString checks the JSON string starting at s[i] == '"' and returns
// the index after its closing quote, whether it holds escapes, and whether
// it holds bytes outside ASCII.
func scanString(s string, i int) (end int, esc, nonASCII, ok bool) {
	i++
	for {
		// Eight plain bytes at a time, then the word that holds another
		// byte one byte at a time.
		for i+8 <= len(s) && plainWord(s, i) {
			i += 8
		}
		if i >= len(s) {
			return 0, false, false, false
		}
		stop := min(i+8, len(s))
		for i < stop {
			c := s[i]
			if plainByte[c] {
				i++
				continue
			}
			switch {
			case c == '"':
				return i + 1, esc, nonASCII, true
			case c == '\\':
				esc = true
				if i+1 >= len(s) {
					return 0, false, false, false
				}
				switch s[i+1] {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					i += 2
				case 'u':
					if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
						return 0, false, false, false
					}
					i += 6
				default:
					return 0, false, false, false
				}
			case c < 0x20:
				return 0, false, false, false
			default: // outside ASCII
				nonASCII = true
				i++
			}
		}
	}
}

// plainWord reports whether the eight bytes of s at i are all plain string
// bytes (see plainByte): none is a quote, a backslash, a control character
// or outside ASCII. It never misses such a byte.
func plainWord(s string, i int) bool {
	_ = s[i+7]
	x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	special := (x - ones*0x20) & ^x // a byte below 0x20
	special |= (quote - ones) & ^quote
	special |= (backslash - ones) & ^backslash
	return (special|x)&highs == 0
}

// plainByte tells the bytes of a JSON string that need no attention: ASCII,
// not a control character, not a quote or a backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanNumber checks the JSON number starting at s[i] and returns the index
// after it and whether it is an integer (no fraction, no exponent).
func scanNumber(s string, i int) (end int, integer, ok bool) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return 0, false, false
	}
	switch {
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return 0, false, false
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		integer = false
		i++
		d := skipDigits(s, i)
		if d == i {
			return 0, false, false // no digit
		}
		i = d
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := skipDigits(s, i)
		if d == i {
			return 0, false, false // no digit
		}
		i = d
	}
	return i, integer, true
}

// skipDigits returns the index after the run of decimal digits that starts
// at s[i] (i itself when there is none).
func skipDigits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

const maxScanDepth = 64

// skipValue checks the JSON value starting at s[i] (no leading space) and
// returns the index after it.
func skipValue(s string, i, depth int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c == '"':
		end, _, _, ok := scanString(s, i)
		return end, ok
	case c == '{' || c == '[':
		if depth >= maxScanDepth {
			return 0, false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(s, i+1)
		if i < len(s) && s[i] == closing {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return 0, false
				}
				end, _, _, ok := scanString(s, i)
				if !ok {
					return 0, false
				}
				i = skipSpace(s, end)
				if i >= len(s) || s[i] != ':' {
					return 0, false
				}
				i = skipSpace(s, i+1)
			}
			var ok bool
			if i, ok = skipValue(s, i, depth+1); !ok {
				return 0, false
			}
			i = skipSpace(s, i)
			if i >= len(s) {
				return 0, false
			}
			if s[i] == closing {
				return i + 1, true
			}
			if s[i] != ',' {
				return 0, false
			}
			i = skipSpace(s, i+1)
		}
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == 'n':
		return literal(s, i, "null")
	default:
		end, _, ok := scanNumber(s, i)
		return end, ok
	}
}

func literal(s string, i int, lit string) (int, bool) {
	if strings.HasPrefix(s[i:], lit) {
		return i + len(lit), true
	}
	return 0, false
}

// unquote decodes the JSON string s[i:end] (quotes included) as
// encoding/json does. It reports false for invalid UTF-8, which
// encoding/json replaces byte by byte; the caller then falls back.
func unquote(s string, i, end int, esc, nonASCII bool) (string, bool) {
	raw := s[i+1 : end-1]
	if !esc {
		if nonASCII && !utf8.ValidString(raw) {
			return "", false
		}
		return raw, true
	}
	b := make([]byte, 0, len(raw))
	for k := 0; k < len(raw); {
		c := raw[k]
		if c != '\\' {
			if c < utf8.RuneSelf {
				b = append(b, c)
				k++
				continue
			}
			r, size := utf8.DecodeRuneInString(raw[k:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			b = append(b, raw[k:k+size]...)
			k += size
			continue
		}
		switch raw[k+1] {
		case '"', '\\', '/':
			b = append(b, raw[k+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[k+2 : k+6])
			k += 6
			if utf16.IsSurrogate(r) {
				if k+6 <= len(raw) && raw[k] == '\\' && raw[k+1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(raw[k+2:k+6])); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						k += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		}
		k += 2
	}
	return string(b), true
}

func hex4(h string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := h[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// TopLevelString returns the string value of key in the JSON object s as
// encoding/json would decode it into a string field tagged key: keys are
// matched without regard to case (after unescaping), the last match wins,
// and a null leaves the value unchanged. It returns "" if s has no such
// key, if the value that counts is not a string, or if s is not valid as
// far as it was read.
func TopLevelString(s, key string) string {
	var out [1]string
	TopLevelStrings(s, []string{key}, out[:])
	return out[0]
}

// slowTopLevelString is TopLevelString done by encoding/json itself, for
// the rare values the scanner leaves to it.
func slowTopLevelString(s, key string) string {
	t := reflect.StructOf([]reflect.StructField{{Name: "V", Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`json:"` + key + `"`)}})
	v := reflect.New(t)
	if json.Unmarshal([]byte(s), v.Interface()) != nil {
		return ""
	}
	return v.Elem().Field(0).String()
}

// EventName finds the "event" field of the JSON object s as encoding/json
// reads it (see TopLevelString). The fast path covers what Dify sends: the
// field first, a name without escapes, and no other key later that could
// match "event". s must begin with '{'. A name that is a key of names is
// returned as its value (names may be nil).
func EventName(s string, names map[string]string) string {
	if name, sure := FrontEventName(s, names); sure {
		return name
	}
	return TopLevelString(s, "event")
}

// FrontEventName is EventName's fast path: the name at the front of s,
// and whether it is surely the one EventName returns (false when s does
// not begin with an "event" field whose name has no escapes, or when a
// later key or an escape could be another "event" field). s must begin
// with '{'.
func FrontEventName(s string, names map[string]string) (name string, sure bool) {
	const prefix = `"event"`
	i := skipSpace(s, 1) // s[0] == '{'
	if !strings.HasPrefix(s[i:], prefix) {
		return "", false
	}
	i = skipSpace(s, i+len(prefix))
	if i >= len(s) || s[i] != ':' {
		return "", false
	}
	i = skipSpace(s, i+1)
	if i >= len(s) || s[i] != '"' {
		return "", false
	}
	j := strings.IndexByte(s[i+1:], '"')
	if j < 0 {
		return "", false
	}
	name = s[i+1 : i+1+j]
	if strings.IndexByte(name, '\\') >= 0 {
		return "", false
	}
	if n, ok := names[name]; ok {
		name = n
	}
	return name, !mayHoldEventKey(s[i+2+j:])
}

// mayHoldEventKey reports whether rest might hold a key that encoding/json
// matches to "event": some spelling of vent" in any case, or an escape,
// which could spell it in another way (no byte outside ASCII folds to a
// letter of "event"). It may report true for text that is only a value; the
// caller then takes the slow path.
func mayHoldEventKey(rest string) bool {
	// Three passes of IndexByte (vectorized) cost less than one of
	// IndexAny, which looks at every byte in turn.
	return strings.IndexByte(rest, '\\') >= 0 || holdsVent(rest, 'v') || holdsVent(rest, 'V')
}

// holdsVent reports whether rest holds v followed by "ent\"" in any case.
func holdsVent(rest string, v byte) bool {
	for {
		k := strings.IndexByte(rest, v)
		if k < 0 {
			return false
		}
		rest = rest[k+1:]
		if len(rest) >= 4 && rest[0]|0x20 == 'e' && rest[1]|0x20 == 'n' && rest[2]|0x20 == 't' && rest[3] == '"' {
			return true
		}
	}
}

// Message is the flat payload of a "message" event: the fields
// DecodeMessage fills, tagged as encoding/json would read them.
type Message struct {
	Answer         string `json:"answer"`
	ConversationID string `json:"conversation_id"`
	CreatedAt      int64  `json:"created_at"`
	Event          string `json:"event"`
	MessageID      string `json:"message_id"`
	TaskID         string `json:"task_id"`
}

// flatKeys are the keys of a "message" event that DecodeMessage fills.
var flatKeys = [...]string{"answer", "conversation_id", "created_at", "event", "message_id", "task_id"}

// foldsToFlatKey reports whether key is not one of flatKeys but
// encoding/json would still match it to one (it matches keys without
// regard to case), or might (keys outside ASCII).
func foldsToFlatKey(key string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, k := range flatKeys {
		if len(k) == len(key) && strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// DecodeMessage decodes the JSON object s into m, the hot path of a
// stream (one "message" event per token of the answer). Strings without
// escapes are taken from s without copying; an event name that is a key of
// names is taken as its value (names may be nil). It returns false, leaving
// m in any state, for input it does not decode exactly as encoding/json
// would (including every invalid input).
func DecodeMessage(s string, m *Message, names map[string]string) bool {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return skipSpace(s, i+1) == len(s)
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return false
		}
		end, esc, _, ok := scanString(s, i)
		if !ok || esc {
			return false
		}
		key := s[i+1 : end-1]
		i = skipSpace(s, end)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipSpace(s, i+1)
		if i >= len(s) {
			return false
		}
		var dst *string
		switch key {
		case "answer":
			dst = &m.Answer
		case "conversation_id":
			dst = &m.ConversationID
		case "message_id":
			dst = &m.MessageID
		case "task_id":
			dst = &m.TaskID
		case "event":
			v, null, end, ok := flatString(s, i)
			if !ok {
				return false
			}
			if !null {
				if n, known := names[v]; known {
					v = n
				}
				m.Event = v
			}
			i = end
		case "created_at":
			if s[i] == 'n' {
				if i, ok = literal(s, i, "null"); !ok {
					return false
				}
				break
			}
			end, integer, ok := scanNumber(s, i)
			if !ok || !integer {
				return false
			}
			n, err := strconv.ParseInt(s[i:end], 10, 64)
			if err != nil {
				return false
			}
			m.CreatedAt, i = n, end
		default:
			if foldsToFlatKey(key) {
				return false
			}
			if i, ok = skipValue(s, i, 0); !ok {
				return false
			}
		}
		if dst != nil {
			v, null, end, ok := flatString(s, i)
			if !ok {
				return false
			}
			if !null {
				*dst = v
			}
			i = end
		}
		i = skipSpace(s, i)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
		case '}':
			return skipSpace(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// flatString decodes the string or null at s[i] (encoding/json leaves a
// field unchanged for null).
func flatString(s string, i int) (v string, null bool, end int, ok bool) {
	if s[i] == 'n' {
		end, ok = literal(s, i, "null")
		return "", true, end, ok
	}
	if s[i] != '"' {
		return "", false, 0, false
	}
	end, esc, nonASCII, ok := scanString(s, i)
	if !ok {
		return "", false, 0, false
	}
	v, ok = unquote(s, i, end, esc, nonASCII)
	return v, false, end, ok
}
