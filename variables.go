package chatflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// VariableValue decodes the value of a conversation variable into a Go value
// by its value_type. Dify sends every value as a string (or null): the
// server renders the stored value with Python's str(), so a number 42 comes
// as "42", a boolean as "True", an object {"a": 1} as "{'a': 1}". JSON
// renderings ("true", `{"a": 1}`) are accepted too.
//
//	value_type                       result
//	string, secret                   string, as sent
//	number, integer, float           float64 (Python's inf and nan included;
//	                                 integers beyond 2^53 are rounded)
//	boolean                          bool
//	object                           map[string]any
//	array[...]                       []any; the element type is checked
//	                                 for array[string], array[number],
//	                                 array[boolean] and array[object]
//	file                             map[string]any when the value is a
//	                                 dict literal or JSON object, else the
//	                                 string as sent
//	none, or a null value            nil
//	any other type                   string, as sent
//
// Inside objects and arrays, numbers are float64, strings string, True and
// False bool and None nil, as encoding/json would give for JSON. A value that
// does not decode as its type is an error naming the variable (name and id);
// the error never quotes the value.
func VariableValue(v ConversationVariable) (any, error) {
	if v.Value == nil {
		return nil, nil
	}
	s := *v.Value
	got, err := decodeVariable(v.ValueType, s)
	if err != nil {
		return nil, fmt.Errorf("chatflow: conversation variable %q (id %s): value of type %q: %w",
			v.Name, v.ID, v.ValueType, err)
	}
	return got, nil
}

// decodeVariable decodes s, a value rendered by the server, by its type.
func decodeVariable(valueType, s string) (any, error) {
	t := strings.ToLower(strings.TrimSpace(valueType))
	switch t {
	case "string", "secret":
		return s, nil
	case "none":
		return nil, nil
	case "number", "integer", "float":
		return parseLiteralAs(s, "a number", func(x any) bool { _, ok := x.(float64); return ok })
	case "boolean":
		return parseLiteralAs(s, "a boolean", func(x any) bool { _, ok := x.(bool); return ok })
	case "object":
		return parseLiteralAs(s, "an object", isObject)
	case "file":
		if x, err := parseLiteral(s); err == nil && isObject(x) {
			return x, nil
		}
		return s, nil
	}
	if elem, ok := strings.CutPrefix(t, "array"); ok && (elem == "" || strings.HasPrefix(elem, "[")) {
		var check func(any) bool
		what := "an array"
		switch elem {
		case "[string]":
			check, what = func(x any) bool { _, ok := x.(string); return ok }, "an array of strings"
		case "[number]", "[integer]", "[float]":
			check, what = func(x any) bool { _, ok := x.(float64); return ok }, "an array of numbers"
		case "[boolean]":
			check, what = func(x any) bool { _, ok := x.(bool); return ok }, "an array of booleans"
		case "[object]":
			check, what = isObject, "an array of objects"
		}
		return parseLiteralAs(s, what, func(x any) bool {
			a, ok := x.([]any)
			if !ok {
				return false
			}
			for _, e := range a {
				if check != nil && !check(e) {
					return false
				}
			}
			return true
		})
	}
	return s, nil
}

func isObject(x any) bool { _, ok := x.(map[string]any); return ok }

// parseLiteralAs parses s and checks that the result is what the type says.
func parseLiteralAs(s, what string, ok func(any) bool) (any, error) {
	x, err := parseLiteral(s)
	if err != nil {
		return nil, err
	}
	if !ok(x) {
		return nil, fmt.Errorf("not %s (got %s)", what, kindOf(x))
	}
	return x, nil
}

// kindOf names the kind of a parsed value, for errors.
func kindOf(x any) string {
	switch x := x.(type) {
	case nil:
		return "None"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		if len(x) == 0 {
			return "an empty array"
		}
		return "an array with " + kindOf(x[0])
	}
	return fmt.Sprintf("%T", x)
}

// maxLiteralDepth bounds the nesting of objects and arrays in a value, so
// that a hostile value cannot exhaust the stack.
const maxLiteralDepth = 500

// errLiteral is the class of every parse error of parseLiteral.
var errLiteral = errors.New("malformed value")

// parseLiteral parses one value written as a Python literal (what Python's
// str() and repr() produce for dicts, lists, tuples, strings, numbers,
// True, False and None) or as JSON, with space around it allowed.
// Numbers become float64, lists and tuples []any, dicts map[string]any.
func parseLiteral(s string) (any, error) {
	p := literalParser{s: s}
	p.space()
	x, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.errorf("unexpected text after the value")
	}
	return x, nil
}

// literalParser reads one Python or JSON literal from s.
type literalParser struct {
	s string
	i int
}

func (p *literalParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errLiteral, p.i, fmt.Sprintf(format, args...))
}

func (p *literalParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *literalParser) value(depth int) (any, error) {
	if p.i >= len(p.s) {
		return nil, p.errorf("missing value")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		if depth >= maxLiteralDepth {
			return nil, p.errorf("nested too deeply")
		}
		return p.dict(depth + 1)
	case c == '[' || c == '(':
		if depth >= maxLiteralDepth {
			return nil, p.errorf("nested too deeply")
		}
		return p.list(depth+1, c)
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || c == '+' || c == '.' || ('0' <= c && c <= '9'):
		return p.number()
	case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		return p.word()
	}
	return nil, p.errorf("unexpected character")
}

// word reads True, False, None (or JSON's true, false, null) and Python's
// inf and nan.
func (p *literalParser) word() (any, error) {
	start := p.i
	for p.i < len(p.s) && isWordByte(p.s[p.i]) {
		p.i++
	}
	switch p.s[start:p.i] {
	case "True", "true":
		return true, nil
	case "False", "false":
		return false, nil
	case "None", "null":
		return nil, nil
	case "inf", "Infinity":
		return math.Inf(1), nil
	case "nan", "NaN":
		return math.NaN(), nil
	default:
		p.i = start
		return nil, p.errorf("an unknown word")
	}
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// number reads an integer or a decimal number, with an optional sign and
// exponent, or a signed inf or nan.
func (p *literalParser) number() (any, error) {
	start := p.i
	if c := p.s[p.i]; c == '-' || c == '+' {
		p.i++
		if p.i < len(p.s) && isWordByte(p.s[p.i]) && !isDigit(p.s[p.i]) {
			x, err := p.word()
			if err != nil {
				return nil, err
			}
			f, ok := x.(float64)
			if !ok {
				p.i = start
				return nil, p.errorf("a sign before a word that is not a number")
			}
			if c == '-' {
				f = -f
			}
			return f, nil
		}
	}
	digits := p.digits()
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		digits += p.digits()
	}
	if digits == 0 {
		p.i = start
		return nil, p.errorf("a number without digits")
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, p.errorf("an exponent without digits")
		}
	}
	if p.i < len(p.s) && isWordByte(p.s[p.i]) {
		return nil, p.errorf("unexpected character in a number")
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil {
		p.i = start
		return nil, p.errorf("number out of range")
	}
	return f, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (p *literalParser) digits() int {
	start := p.i
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
	return p.i - start
}

// str reads a string in single or double quotes with Python's escapes
// (and JSON's, which are a subset but for \/).
func (p *literalParser) str() (string, error) {
	quote := p.s[p.i]
	p.i++
	var b strings.Builder
	for {
		// Copy the run of plain bytes up to the next quote or backslash.
		j := p.i
		for j < len(p.s) && p.s[j] != quote && p.s[j] != '\\' && p.s[j] != '\n' {
			j++
		}
		b.WriteString(p.s[p.i:j])
		p.i = j
		if p.i >= len(p.s) || p.s[p.i] == '\n' {
			return "", p.errorf("unterminated string")
		}
		if p.s[p.i] == quote {
			p.i++
			return validUTF8(b.String()), nil
		}
		// A backslash.
		p.i++
		if p.i >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		c := p.s[p.i]
		p.i++
		switch c {
		case '\\', '\'', '"', '/':
			b.WriteByte(c)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\n': // a line continuation
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if p.i+n > len(p.s) {
				p.i--
				return "", p.errorf("short \\%c escape", c)
			}
			v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
			if err != nil || strings.ContainsAny(p.s[p.i:p.i+n], "+-") {
				p.i--
				return "", p.errorf("bad \\%c escape", c)
			}
			p.i += n
			r := rune(v)
			if c == 'u' && 0xD800 <= r && r < 0xDC00 && strings.HasPrefix(p.s[p.i:], `\u`) && p.i+6 <= len(p.s) {
				// A JSON surrogate pair.
				if lo, err := strconv.ParseUint(p.s[p.i+2:p.i+6], 16, 32); err == nil && 0xDC00 <= lo && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (rune(lo) - 0xDC00)
					p.i += 6
				}
			}
			if r > utf8.MaxRune {
				return "", p.errorf("escape beyond Unicode")
			}
			b.WriteRune(r) // a lone surrogate becomes U+FFFD
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := rune(c - '0')
			for k := 0; k < 2 && p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '7'; k++ {
				v = v*8 + rune(p.s[p.i]-'0')
				p.i++
			}
			b.WriteRune(v)
		default:
			// Python keeps an unknown escape as written.
			b.WriteByte('\\')
			p.i--
		}
	}
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += n
	}
	return b.String()
}

// list reads a list ([...]) or a tuple ((...)); a trailing comma is allowed.
func (p *literalParser) list(depth int, open byte) ([]any, error) {
	closer := byte(']')
	if open == '(' {
		closer = ')'
	}
	p.i++
	out := []any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == closer {
			p.i++
			return out, nil
		}
		x, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated array")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case closer:
			p.i++
			return out, nil
		default:
			return nil, p.errorf("expected , or %c in an array", closer)
		}
	}
}

// dict reads a dict ({key: value, ...}). Keys are strings, or numbers,
// booleans and None, which become the text JSON would give them; a later
// duplicate key wins, as in Python.
func (p *literalParser) dict(depth int) (map[string]any, error) {
	p.i++
	out := map[string]any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return out, nil
		}
		keyAt := p.i
		k, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		var key string
		switch k := k.(type) {
		case string:
			key = k
		case float64:
			key = p.s[keyAt:p.i]
		case bool:
			key = strconv.FormatBool(k)
		case nil:
			key = "null"
		default:
			p.i = keyAt
			return nil, p.errorf("an object key that is not a string or number")
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.errorf("expected : after an object key")
		}
		p.i++
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		out[key] = v
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated object")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return out, nil
		default:
			return nil, p.errorf("expected , or } in an object")
		}
	}
}

// variableWire is a conversation variable as it comes over the wire, with
// its value kept raw: the server sends a string, but a value of another JSON
// type (from a server that sends JSON) is kept as its JSON text rather than
// failing the whole page.
type variableWire struct {
	CreatedAt   int64           `json:"created_at"`
	Description string          `json:"description"`
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	UpdatedAt   int64           `json:"updated_at"`
	Value       json.RawMessage `json:"value"`
	ValueType   string          `json:"value_type"`
}

// variable converts w, keeping a string value as it is and any other
// non-null JSON value as its JSON text.
func (w *variableWire) variable() ConversationVariable {
	v := ConversationVariable{
		CreatedAt: w.CreatedAt, Description: w.Description, ID: w.ID,
		Name: w.Name, UpdatedAt: w.UpdatedAt, ValueType: w.ValueType,
	}
	raw := strings.TrimSpace(string(w.Value))
	switch {
	case raw == "" || raw == "null":
	case raw[0] == '"':
		var s string
		if json.Unmarshal(w.Value, &s) == nil {
			v.Value = &s
		} else {
			v.Value = &raw
		}
	default:
		v.Value = &raw
	}
	return v
}

// variablesPageWire is a page of conversation variables as sent.
type variablesPageWire struct {
	Data    []variableWire `json:"data"`
	HasMore bool           `json:"has_more"`
	Limit   int            `json:"limit"`
}
