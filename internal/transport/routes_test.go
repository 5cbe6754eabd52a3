package transport

import (
	"errors"
	"net/http"
	"testing"
)

// TestRequestPathCheck: paths that fit no operation are refused, whatever
// made them (an empty or dot id, a stray slash, a segment too many or too
// few).
func TestRequestPathCheck(t *testing.T) {
	t.Parallel()
	const base = "https://dify.example.com/v1/"
	for _, tt := range []struct {
		method, path string
		ok           bool
	}{
		{"GET", "/v1/conversations", true},
		{"GET", "/v1/conversations/c1/variables", true},
		{"PUT", "/v1/conversations/c1/variables/v1", true},
		{"POST", "/v1/chat-messages/t%2F1/stop", true},
		{"GET", "/v1/conversations/", false},
		{"GET", "/v1/conversations/c1", false},
		{"DELETE", "/v1/conversations", false},
		{"DELETE", "/v1/conversations/", false},
		{"DELETE", "/v1/conversations/c1/", false},
		{"GET", "/v1/conversations//variables", false},
		{"GET", "/v1/conversations/./variables", false},
		{"GET", "/v1/conversations/../variables", false},
		{"PUT", "/v1/conversations/c1/variables/", false},
		{"PUT", "/v1/conversations/c1/variables/v1/x", false},
		{"GET", "/v1/", false},
		{"GET", "/v1", false},
		{"POST", "/v1/chat-messages/stop", false},
	} {
		req, err := http.NewRequest(tt.method, "https://dify.example.com"+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = checkRequestPath(req, base, parseRoutes(testRoutes))
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidID)) {
			t.Errorf("%s %s: err = %v, want ok %v", tt.method, tt.path, err, tt.ok)
		}
	}
}

// TestRequestPathCheckAllocs: the check that runs before every request
// allocates nothing (not parallel: AllocsPerRun counts the whole process).
func TestRequestPathCheckAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector allocates")
	}
	const base = "https://dify.example.com/v1/"
	req, _ := http.NewRequest("PUT", base+"conversations/c1/variables/v1", nil)
	routes := parseRoutes(testRoutes)
	if n := testing.AllocsPerRun(100, func() { _ = checkRequestPath(req, base, routes) }); n != 0 {
		t.Errorf("checkRequestPath allocates %v times", n)
	}
}
