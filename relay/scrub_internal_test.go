package relay

import "testing"

func TestSecretRemovesEveryPiece(t *testing.T) {
	t.Parallel()
	s := newSecret("app-abcdefghijklmnop")
	for _, c := range []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"key app-abcdefghijklmnop!", "key [REDACTED]!"},
		{"a piece: defghijk.", "a piece: [REDACTED]."},
		{"two: app-abc and klmnop", "two: app-abc and klmnop"}, // pieces shorter than 8
		{"cdefghijklm|ghijklmn", "[REDACTED]|[REDACTED]"},
		{"abcdefghabcdefgh", "[REDACTED]"},
		{"ends with app-abcd", "ends with [REDACTED]"},
		{"", ""},
	} {
		if got := string(s.bytes([]byte(c.in))); got != c.want {
			t.Errorf("bytes(%q) = %q; want %q", c.in, got, c.want)
		}
	}
	clean := []byte("nothing to remove in this text")
	if got := s.bytes(clean); &got[0] != &clean[0] {
		t.Error("a clean text was copied")
	}
	if newSecret("abc") != nil || newSecret("") != nil {
		t.Error("a key too short to be a secret is scrubbed")
	}
	if got := newSecret("short7k").text("the short7k key, short7 part"); got != "the [REDACTED] key, short7 part" {
		t.Errorf("short key: %q", got)
	}
}
