package chatflowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Dify answers a conversation variable's value as Python's str() of the
// stored value. The fake stores a value as the JSON text it was given and
// renders it the way Python would after json.loads: an integer literal (no
// fraction, no exponent) is a Python int, any other number a Python float
// (so 1 renders "1" and 1.0 renders "1.0", as Dify keeps int and float apart),
// objects keep their key order.

// jsonValue is v as stored JSON text; a value JSON cannot encode is null.
func jsonValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// pythonStr renders the JSON value raw as Python's str() of json.loads(raw).
// JSON null gives nil (the reply's value stays null).
func pythonStr(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return nil, nil
	case string:
		return t, nil
	}
	var b strings.Builder
	if err := writeRepr(dec, tok, &b); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// writeRepr writes Python's repr() of the JSON value that starts with tok.
func writeRepr(dec *json.Decoder, tok json.Token, b *strings.Builder) error {
	switch t := tok.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if t {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case string:
		b.WriteString(pyQuote(t))
	case json.Number:
		b.WriteString(pyNumber(string(t)))
	case json.Delim:
		switch t {
		case '[':
			b.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				el, err := dec.Token()
				if err != nil {
					return err
				}
				if err := writeRepr(dec, el, b); err != nil {
					return err
				}
			}
			b.WriteByte(']')
		case '{':
			// json.loads keeps the last of duplicate keys, at the place of
			// the first.
			var keys []string
			vals := map[string]string{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				vt, err := dec.Token()
				if err != nil {
					return err
				}
				var vb strings.Builder
				if err := writeRepr(dec, vt, &vb); err != nil {
					return err
				}
				if _, seen := vals[k]; !seen {
					keys = append(keys, k)
				}
				vals[k] = vb.String()
			}
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(pyQuote(k))
				b.WriteString(": ")
				b.WriteString(vals[k])
			}
			b.WriteByte('}')
		default:
			return fmt.Errorf("unexpected %v", t)
		}
		// The closing delimiter.
		if _, err := dec.Token(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unexpected token %v", tok)
	}
	return nil
}

// pyNumber renders a JSON number literal as Python prints the int or float
// json.loads makes of it.
func pyNumber(lit string) string {
	if !strings.ContainsAny(lit, ".eE") {
		if n, ok := new(big.Int).SetString(lit, 10); ok {
			return n.String()
		}
	}
	f, _ := strconv.ParseFloat(lit, 64) // out of range: ±Inf, as in Python
	return pyFloat(f)
}

// pyFloat renders f as Python's repr(): the shortest digits that read back
// as f, in positional notation with at least one fraction digit for
// exponents -4..15, in scientific notation (e+16, e-05) otherwise.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	i := strings.LastIndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyQuote renders s as Python's repr() of a str: single quotes unless s
// holds a single quote and no double quote, backslash escapes for the quote,
// the backslash, control and other unprintable characters.
func pyQuote(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}
