package transport

import (
	"net/http"
	"testing"
	"time"
)

func TestAPIErrorRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if d := parseRetryAfter("7", now); d != 7*time.Second {
		t.Errorf("seconds: %v", d)
	}
	if d := parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); d != 90*time.Second {
		t.Errorf("date: %v", d)
	}
	for _, v := range []string{"", "-3", "soon", now.Add(-time.Minute).Format(http.TimeFormat)} {
		if d := parseRetryAfter(v, now); d != 0 {
			t.Errorf("parseRetryAfter(%q) = %v, want 0", v, d)
		}
	}
	// Far in the future, in either form: capped at 24 hours.
	for _, v := range []string{
		"999999999999", "9223372036854775807",
		now.AddDate(200, 0, 0).Format(http.TimeFormat), "Fri, 31 Dec 9999 23:59:59 GMT",
	} {
		if d := parseRetryAfter(v, now); d != maxRetryAfter {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, d, maxRetryAfter)
		}
	}
}
