package openapi_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/difykit/chatflow/internal/overlay"
	"github.com/difykit/chatflow/openapi"
)

// The embedded effective description is what applying the overlay to the
// description gives now: a change to chatflow.json or overlay.yaml without
// go generate ./... fails here, not only in CI's drift check.
func TestEffectiveIsUpToDate(t *testing.T) {
	t.Parallel()
	want, err := overlay.Apply(openapi.Raw(), openapi.Overlay())
	if err != nil {
		t.Fatal(err)
	}
	got := openapi.Effective()
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	i := 0
	for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
		i++
	}
	line := func(l []string) string {
		if i < len(l) {
			return l[i]
		}
		return "(end of file)"
	}
	t.Fatalf("openapi/effective.json is stale (run go generate ./...): first difference at line %d:\n  embedded: %s\n  now:      %s", i+1, line(gl), line(wl))
}

// Apply is deterministic: go generate ./... must leave the tree unchanged.
func TestApplyIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := overlay.Apply(openapi.Raw(), openapi.Overlay())
	if err != nil {
		t.Fatal(err)
	}
	b, err := overlay.Apply(openapi.Raw(), openapi.Overlay())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two applications of the overlay gave different bytes")
	}
}
