package chatflow

import (
	"fmt"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testKey)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"nothing here":                       "nothing here",
		"key " + testKey + " end":            "key [REDACTED] end",
		"piece " + testKey[3:11] + "!":       "piece [REDACTED]!",
		"short " + testKey[3:10] + "!":       "short " + testKey[3:10] + "!", // 7 bytes: no piece
		testKey[:9] + " and " + testKey[10:]: "[REDACTED] and [REDACTED]",
		"":                                   "",
	} {
		if got := string(c.Redact([]byte(in))); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := fmt.Sprintf("%+v %#v", c, c); strings.Contains(got, testKey[3:11]) || strings.Contains(got, secretPart[:8]) {
		t.Errorf("a piece of the key is printed: %s", got)
	}
	short, _ := NewClient("abc")
	if got := string(short.Redact([]byte("abc abc"))); got != "abc abc" {
		t.Errorf("a key too short to scrub: %q", got)
	}
}

func TestRedactRuns(t *testing.T) {
	t.Parallel()
	c, err := NewClient("app-abcdefghijklmnop")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ in, want string }{
		{"key app-abcdefghijklmnop!", "key [REDACTED]!"},
		{"a piece: defghijk.", "a piece: [REDACTED]."},
		{"two: app-abc and klmnop", "two: app-abc and klmnop"}, // pieces shorter than 8
		{"cdefghijklm|ghijklmn", "[REDACTED]|[REDACTED]"},
		{"abcdefghabcdefgh", "[REDACTED]"},
		{"ends with app-abcd", "ends with [REDACTED]"},
	} {
		if got := string(c.Redact([]byte(tt.in))); got != tt.want {
			t.Errorf("Redact(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	clean := []byte("nothing to remove in this text")
	if got := c.Redact(clean); &got[0] != &clean[0] {
		t.Error("a clean text was copied")
	}
}
