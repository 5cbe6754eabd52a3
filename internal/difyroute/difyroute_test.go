package difyroute

import "testing"

func TestIsUUID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"4b9a6d52-0c1e-4d7b-9e53-3f2a8c1d0e77": true,
		"4B9A6D52-0C1E-4D7B-9E53-3F2A8C1D0E77": true,
		"4b9a6d520c1e4d7b9e533f2a8c1d0e77":     false, // Werkzeug's converter wants the dashes
		"4b9a6d52-0c1e-4d7b-9e53-3f2a8c1d0e7g": false,
		"4b9a6d52-0c1e-4d7b-9e53-3f2a8c1d0e7":  false,
		"4b9a6d52+0c1e-4d7b-9e53-3f2a8c1d0e77": false,
		"conv-1":                               false,
		"":                                     false,
	} {
		if got := IsUUID(s); got != want {
			t.Errorf("IsUUID(%q) = %v", s, got)
		}
	}
}

func TestUUIDParam(t *testing.T) {
	t.Parallel()
	for _, name := range UUIDParams() {
		if !UUIDParam(name) {
			t.Errorf("UUIDParam(%q) = false for a name UUIDParams lists", name)
		}
	}
	for _, name := range []string{"workflow_run_id", "task_id", "workflow_id", "form_token", "action"} {
		if UUIDParam(name) {
			t.Errorf("UUIDParam(%q) = true; Dify routes it as a plain string", name)
		}
	}
}
