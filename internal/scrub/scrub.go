// Package scrub keeps an API key out of everything a client hands back:
// reply bodies and headers (a server or proxy may echo the request back),
// error texts (net/http quotes status lines, header lines and redirect
// URLs) and log lines.
package scrub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// The order matters: the key is removed from whole texts first, and only
// then is anything cut to length. A text that a server or net/http cut
// before it reached us may still end with the start of the key (or begin
// with its end): such a fragment, minFragment bytes or longer, is removed
// too.

const (
	// Redacted replaces the key, or a fragment of it.
	Redacted = "[REDACTED]"
	// minScrubKey is the shortest key that is scrubbed: replacing a very
	// short key would mangle ordinary text, and such a key is no secret.
	minScrubKey = 8
	// minFragment is the shortest start (or end) of the key that is
	// removed from the end (or start) of a text that may have been cut.
	minFragment = 6
)

// Secret is what the scrubbing code knows of the API key: a closure that
// returns it, since fmt prints what any field holds (even behind a pointer,
// with a verb such as %s that the field's type does not take) but never
// what a function captured. A nil *Secret scrubs nothing. Its methods are
// safe for concurrent use.
type Secret struct {
	get    func() (key []byte, str string)
	pieces func() map[string]struct{} // the key's runs of runWidth bytes, made on first use
}

// New returns the Secret of key, or nil (which scrubs nothing) for a key
// too short to scrub without mangling ordinary text; such a key is no
// secret.
func New(key string) *Secret {
	if len(key) < minScrubKey {
		return nil
	}
	b := []byte(key)
	return &Secret{
		get: func() ([]byte, string) { return b, key },
		pieces: sync.OnceValue(func() map[string]struct{} {
			m := make(map[string]struct{}, len(b))
			for i := 0; i+runWidth <= len(b); i++ {
				m[string(b[i:i+runWidth])] = struct{}{}
			}
			return m
		}),
	}
}

// runWidth is the length of the pieces of the key that Runs removes: a
// text that holds enough pieces of a key holds the key.
const runWidth = 8

// Runs returns b with the key, and every run of runWidth bytes of it or
// longer, replaced by Redacted; b itself when it holds none. It goes
// further than Bytes, for what a program passes on to others.
func (s *Secret) Runs(b []byte) []byte {
	if s == nil {
		return b
	}
	p := s.pieces()
	var out []byte
	last := 0
	for i := 0; i+runWidth <= len(b); {
		if _, ok := p[string(b[i:i+runWidth])]; !ok {
			i++
			continue
		}
		// Extend over overlapping pieces: one Redacted for one run.
		end := i + runWidth
		for j := i + 1; j <= end && j+runWidth <= len(b); j++ {
			if _, ok := p[string(b[j:j+runWidth])]; ok {
				end = j + runWidth
			}
		}
		out = append(out, b[last:i]...)
		out = append(out, Redacted...)
		last, i = end, end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// Format prints [REDACTED] whatever the verb.
func (s *Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// String returns [REDACTED], for printers that look for a Stringer.
func (s *Secret) String() string { return Redacted }

// GoString returns [REDACTED].
func (s *Secret) GoString() string { return Redacted }

// Bytes returns b without the key: every whole occurrence, then a start of
// the key at the end of b and an end of the key at its start. It returns b
// itself when there is nothing to remove.
func (s *Secret) Bytes(b []byte) []byte {
	if s == nil || len(b) < minFragment {
		return b
	}
	key, _ := s.get()
	if bytes.Contains(b, key) {
		b = bytes.ReplaceAll(b, key, []byte(Redacted))
	}
	if k := tailFragment(key, b); k >= minFragment {
		b = append(b[:len(b)-k:len(b)-k], Redacted...)
	}
	if k := headFragment(key, b); k >= minFragment {
		b = append([]byte(Redacted), b[k:]...)
	}
	return b
}

// Text is Bytes for a string.
func (s *Secret) Text(t string) string {
	if s == nil || len(t) < minFragment {
		return t
	}
	if !s.mayHold(t) {
		return t
	}
	return string(s.Bytes([]byte(t)))
}

// mayHold reports whether t may hold the key or a fragment of it that
// Bytes removes: the key and every start of it that long begin with its
// first minFragment bytes, and every end of it that long ends with its last
// minFragment bytes. Two searches for short strings cost much less than
// looking for every fragment, and almost every text fails both.
func (s *Secret) mayHold(t string) bool {
	_, str := s.get()
	return containsStart(t, str[:minFragment]) || strings.Contains(t, str[len(str)-minFragment:])
}

// containsStart reports whether s contains frag, the first bytes of the
// key, as strings.Contains does. A key like Dify's (app-...) begins with
// bytes that text is full of, which makes a plain search stop at almost
// every word: this one looks, with a vectorized byte search, for the byte
// of frag that text holds least often (see byteRank), checks frag around
// each match, and falls back to a plain search when that byte turns out to
// be frequent in s.
func containsStart[T ~string | ~[]byte](s, frag T) bool {
	if len(frag) == 0 {
		return true
	}
	r := 0
	for i := 1; i < len(frag); i++ {
		if byteRank[frag[i]] < byteRank[frag[r]] {
			r = i
		}
	}
	c := frag[r]
	fails := 0
	for off := r; off < len(s); {
		i := indexByte(s[off:], c)
		if i < 0 {
			return false
		}
		p := off + i - r
		if p+len(frag) > len(s) {
			return false
		}
		if string(s[p:p+len(frag)]) == string(frag) {
			return true
		}
		off += i + 1
		// Too many false matches for the bytes passed: search plainly.
		if fails++; fails > 4+off>>4 {
			return index(s[p+1:], frag) >= 0
		}
	}
	return false
}

// byteRank ranks bytes by how often they appear in the text of replies (JSON
// of English text, ids, hex digits, numbers): the higher, the more often.
var byteRank = func() (t [256]uint8) {
	for b := range 256 {
		switch {
		case b >= 'A' && b <= 'Z':
			t[b] = 60
		case b >= 0x21 && b < 0x7f:
			t[b] = 40
		default:
			t[b] = 20
		}
	}
	for _, g := range []struct {
		rank  uint8
		bytes string
	}{
		{255, ` et"`},
		{240, `aoinsr:,`},
		{220, `hldcumfb_-0123456789`},
		{180, "pgwyvk.{}\n"},
		{120, `xjqz/[]`},
	} {
		for i := range len(g.bytes) {
			t[g.bytes[i]] = g.rank
		}
	}
	return t
}()

// indexByte is strings.IndexByte or bytes.IndexByte.
func indexByte[T ~string | ~[]byte](s T, c byte) int {
	switch v := any(s).(type) {
	case string:
		return strings.IndexByte(v, c)
	case []byte:
		return bytes.IndexByte(v, c)
	}
	return strings.IndexByte(string(s), c)
}

// index is strings.Index or bytes.Index.
func index[T ~string | ~[]byte](s, sep T) int {
	switch v := any(s).(type) {
	case string:
		return strings.Index(v, string(sep))
	case []byte:
		return bytes.Index(v, []byte(sep))
	}
	return strings.Index(string(s), string(sep))
}

// tailFragment returns the length of the longest proper start of key that
// b ends with (0 if none).
func tailFragment[T ~string | ~[]byte](key []byte, b T) int {
	start := max(0, len(b)-(len(key)-1))
	for i := start; i < len(b); i++ {
		if b[i] == key[0] && sameBytes(b[i:], key[:len(b)-i]) {
			return len(b) - i
		}
	}
	return 0
}

// headFragment returns the length of the longest proper end of key that b
// starts with (0 if none).
func headFragment[T ~string | ~[]byte](key []byte, b T) int {
	for k := min(len(key)-1, len(b)); k >= minFragment; k-- {
		if sameBytes(b[:k], key[len(key)-k:]) {
			return k
		}
	}
	return 0
}

func sameBytes[T ~string | ~[]byte](a T, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(b) {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Err returns err unchanged when its text holds nothing of the key, and
// otherwise an error whose text has the key removed. A *url.Error (what
// net/http returns) is rebuilt with its URL scrubbed, so that errors.As
// still finds it; any other error is replaced by one that prints only the
// scrubbed text and still matches, through errors.Is, everything the
// original matched, but does not hand the original out.
func (s *Secret) Err(err error) error {
	if s == nil || err == nil {
		return err
	}
	msg := err.Error()
	clean := s.Text(msg)
	if clean == msg {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Error() == msg {
		return &url.Error{Op: ue.Op, URL: s.Text(ue.URL), Err: s.Err(ue.Err)}
	}
	return &scrubbedError{msg: clean, orig: err}
}

// scrubbedError is an error whose text had the API key removed.
type scrubbedError struct {
	msg  string
	orig error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.orig, target) }

// Format prints the scrubbed text for every verb, %#v included.
func (e *scrubbedError) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(e.msg))
		return
	}
	_, _ = io.WriteString(f, e.msg)
}

// Reader removes the key from a reply body while it is read. Bytes
// that could be the start of the key are held back until the next read
// tells whether they are; at the end of the body, a held-back start of the
// key of minFragment bytes or more is replaced too. The key contains no
// line break, so holding back never delays the end of a line (an event of
// a stream is never held up by it).
type Reader struct {
	rd   io.Reader
	sec  *Secret
	hold []byte // raw bytes that may start the key
	out  []byte // scrubbed bytes not yet returned
	err  error  // the error of rd, returned once hold and out are empty
}

// NewReader returns a Reader of rd that removes the key of s, which must
// not be nil. It is a value, so that it can live inside another struct.
func NewReader(rd io.Reader, s *Secret) Reader { return Reader{rd: rd, sec: s} }

// Read reads scrubbed bytes.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		if len(r.out) > 0 || len(r.hold) > 0 {
			return 0, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		return r.rd.Read(p)
	}
	for {
		if len(r.out) > 0 {
			n := copy(p, r.out)
			r.out = r.out[n:]
			return n, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		n, err := r.rd.Read(p)
		chunk := p[:n]
		if err != nil {
			r.err = err
		}
		key, _ := r.sec.get()
		// Without the key's first minFragment bytes, chunk can hold neither
		// the key nor a start of it longer than its last minFragment-1
		// bytes: only those need looking at.
		if len(r.hold) == 0 && (n == 0 || !containsStart(chunk, key[:minFragment]) && tailFragment(key, chunk[max(0, n-(minFragment-1)):]) == 0) {
			if n > 0 || err == nil {
				return n, nil
			}
			continue // the error, on the next turn
		}
		data := append(r.hold, chunk...)
		data = bytes.ReplaceAll(data, key, []byte(Redacted))
		k := tailFragment(key, data)
		if err != nil { // nothing more will come: decide now
			if k >= minFragment {
				data = append(data[:len(data)-k:len(data)-k], Redacted...)
			}
			k = 0
		}
		r.out = append(r.out[:0], data[:len(data)-k]...)
		r.hold = append(r.hold[:0:0], data[len(data)-k:]...)
	}
}

// Header scrubs the values of h in place.
func (s *Secret) Header(h map[string][]string) {
	if s == nil {
		return
	}
	for _, vs := range h {
		for i, v := range vs {
			vs[i] = s.Text(v)
		}
	}
}
