package scrub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// testKey is an API key of the usual shape.
const testKey = "app-test-secret-key-123"

// secretPart is the part of testKey after its "app-" prefix.
var secretPart = strings.TrimPrefix(testKey, "app-")

// keyRun returns an 8-byte run of the key's secret that s holds, or "".
func keyRun(s string) string {
	for i := 0; i+8 <= len(secretPart); i++ {
		if strings.Contains(s, secretPart[i:i+8]) {
			return secretPart[i : i+8]
		}
	}
	return ""
}

// errNoKey checks err with every verb that could print what it holds.
func errNoKey(t *testing.T, err error) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if r := keyRun(fmt.Sprintf(verb, err)); r != "" {
			t.Errorf("%s of the error shows %q of the key", verb, r)
		}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if r := keyRun(e.Error()); r != "" {
			t.Errorf("a wrapped error shows %q of the key", r)
		}
	}
}

// TestScrubFragments: the scrubber removes the key whole, then a start of
// it left at the end of a text and an end of it left at the start; short
// keys and short fragments are left alone.
func TestScrubFragments(t *testing.T) {
	t.Parallel()
	s := New(testKey)
	tests := []struct{ in, want string }{
		{"x " + testKey + " y", "x " + Redacted + " y"},
		{"cut: " + testKey[:12], "cut: " + Redacted},
		{"cut: " + testKey[:minFragment], "cut: " + Redacted},
		{"cut: " + testKey[:minFragment-1], "cut: " + testKey[:minFragment-1]},
		{testKey[len(testKey)-10:] + " rest", Redacted + " rest"},
		{testKey + testKey, Redacted + Redacted},
		{"nothing here", "nothing here"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := s.Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(s.Bytes([]byte(tt.in))); got != tt.want {
			t.Errorf("Bytes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if New("short") != nil {
		t.Error("a key shorter than minScrubKey is scrubbed (it would mangle ordinary text)")
	}
	var none *Secret
	if got := none.Text("abc " + testKey); got != "abc "+testKey {
		t.Errorf("nil secret changed the text: %q", got)
	}
	// The scrubbed error still matches what the original matched, and
	// prints the scrubbed text with every verb.
	orig := fmt.Errorf("boom %s: %w", testKey, context.Canceled)
	err := s.Err(orig)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("scrubbed error lost its match: %v", err)
	}
	errNoKey(t, err)
}

// FuzzScrubReader: whatever surrounds the key and however the body is
// split into reads, the scrubbed body shows no run of the key that the
// text around it did not already hold, and a body with nothing of the key
// comes out unchanged.
func FuzzScrubReader(f *testing.F) {
	f.Add([]byte("hello "), []byte(" world"), uint8(3), true)
	f.Add([]byte(testKey[:9]), []byte(""), uint8(1), true)
	f.Add([]byte("app-app-"), []byte(testKey[:12]), uint8(5), true)
	f.Add([]byte("no key at all"), []byte("a"), uint8(2), false)
	s := New(testKey)
	f.Fuzz(func(t *testing.T, a, b []byte, step uint8, withKey bool) {
		body := string(a) + string(b)
		if withKey {
			body = string(a) + testKey + string(b)
		}
		rd := NewReader(&chunked{b: []byte(body), step: int(step%16) + 1}, s)
		r := &rd
		var out []byte
		buf := make([]byte, int(step%7)+1)
		for {
			n, err := r.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				break
			}
		}
		if keyRun(string(a)) == "" && keyRun(string(b)) == "" {
			if r := keyRun(string(out)); r != "" {
				t.Errorf("scrubbed %q still shows %q: %q", body, r, out)
			}
		}
		if !strings.Contains(body, testKey[:minFragment]) && !strings.Contains(body, testKey[len(testKey)-minFragment:]) &&
			string(out) != body {
			t.Errorf("body %q without the key came out as %q", body, out)
		}
	})
}

// chunked returns its bytes step at a time.
type chunked struct {
	b    []byte
	step int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.step)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// containsStart finds the key's start where bytes.Contains and
// strings.Contains do.
func FuzzContainsStart(f *testing.F) {
	f.Add("text with app-abcdef inside", "app-ab")
	f.Add("app-ap-app-a", "app-a")
	f.Add("xx-y-yx-y", "x-y")
	f.Add("abc", "-abc")
	f.Add("no dash here", "here")
	f.Add(strings.Repeat("pq", 300)+"app-te"+strings.Repeat("p", 40), "app-te") // falls back to a plain search
	f.Add(strings.Repeat("Zp", 50)+"xZ", "pZq")
	f.Add("ZZZ", "ZZZZ")
	f.Fuzz(func(t *testing.T, s, frag string) {
		if frag == "" {
			return
		}
		want := strings.Contains(s, frag)
		if got := containsStart(s, frag); got != want {
			t.Fatalf("containsStart(%q, %q) = %v, strings.Contains %v", s, frag, got, want)
		}
		if got := containsStart([]byte(s), []byte(frag)); got != want {
			t.Fatalf("containsStart([]byte(%q), %q) = %v, bytes.Contains %v", s, frag, got, want)
		}
	})
}

func BenchmarkContainsStart(b *testing.B) {
	chunk := []byte(strings.Repeat(`data: {"event":"message","answer":"a panda appears","task_id":"app-like"}`+"\n\n", 400))
	frag := []byte("app-Zq")
	b.ReportAllocs()
	for b.Loop() {
		if containsStart(chunk, frag) {
			b.Fatal("found")
		}
	}
}
