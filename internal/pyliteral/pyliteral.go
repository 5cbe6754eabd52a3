// Package pyliteral parses the values Dify renders with Python's str():
// Python literals (dicts, lists, tuples, strings, numbers, True, False,
// None) and JSON, into the Go values encoding/json would give for JSON.
// Errors say where the text went wrong but never quote it.
package pyliteral

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxLiteralDepth bounds the nesting of objects and arrays in a value, so
// that a hostile value cannot exhaust the stack.
const maxLiteralDepth = 500

// ErrMalformed is wrapped by every error of Parse.
var ErrMalformed = errors.New("malformed value")

// Parse parses one value written as a Python literal (what Python's
// str() and repr() produce for dicts, lists, tuples, strings, numbers,
// True, False and None) or as JSON, with space around it allowed.
// Numbers become float64, lists and tuples []any, dicts map[string]any.
func Parse(s string) (any, error) {
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
	return fmt.Errorf("%w at byte %d: %s", ErrMalformed, p.i, fmt.Sprintf(format, args...))
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
