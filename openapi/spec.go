// Package openapi holds the chatflow API description that the client is
// generated from, with the overlay of corrections applied, for tools and tests
// that validate requests and replies against it (kin-openapi).
//
// The overlay is applied when the code is generated, not at run time:
// effective.json is chatflow.json with overlay.yaml applied, written by
// internal/cmd/geneffective (go generate ./...), so that this package needs
// kin-openapi alone. Package internal/overlay applies an overlay for the
// generators and tests.
//
// It is kept apart from the root package so that kin-openapi never ends up in
// a binary that only uses the client.
package openapi

import (
	"bytes"
	_ "embed" // the description files
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// The files are embedded one by one, so that a program that never calls Raw
// or Overlay (the CLI) does not carry them.
var (
	//go:embed chatflow.json
	raw []byte
	//go:embed overlay.yaml
	overlay []byte
	//go:embed effective.json
	effective []byte
)

// Raw returns the bytes of the API description as written (no overlay).
func Raw() []byte { return bytes.Clone(raw) }

// Overlay returns the bytes of the overlay that corrects the description.
func Overlay() []byte { return bytes.Clone(overlay) }

// Effective returns the bytes of the effective API description: Raw with
// Overlay applied, as generated into effective.json.
func Effective() []byte { return bytes.Clone(effective) }

var (
	once    sync.Once
	loaded  *openapi3.T
	loadErr error
)

// Spec returns the effective API description (the overlay applied), parsed
// and validated. The result is shared: treat it as read-only.
func Spec() (*openapi3.T, error) {
	once.Do(func() { loaded, loadErr = Parse(effective) })
	return loaded, loadErr
}

// Parse parses an API description (JSON or YAML) and validates it.
func Parse(data []byte) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("openapi: load description: %w", err)
	}
	// Examples are documentation (upstream writes SSE examples as strings);
	// only the schemas matter here.
	if err := doc.Validate(openapi3.NewLoader().Context, openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("openapi: description is not valid: %w", err)
	}
	return doc, nil
}
