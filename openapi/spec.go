// Package openapi holds the chatflow API description that the client is
// generated from, with the overlay of corrections applied, for tools and tests
// that validate requests and replies against it (kin-openapi).
//
// It is kept apart from the root package so that kin-openapi and the YAML
// libraries never end up in a binary that only uses the client.
package openapi

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/speakeasy-api/openapi/overlay/loader"
	"gopkg.in/yaml.v3"
)

//go:embed chatflow.json overlay.yaml
var files embed.FS

// Raw returns the bytes of the API description as written (no overlay).
func Raw() []byte {
	b, _ := files.ReadFile("chatflow.json")
	return b
}

// Overlay returns the bytes of the overlay that corrects the description.
func Overlay() []byte {
	b, _ := files.ReadFile("overlay.yaml")
	return b
}

var (
	once    sync.Once
	loaded  *openapi3.T
	loadErr error
)

// Spec returns the API description with the overlay applied, parsed and
// validated. The result is shared: treat it as read-only.
func Spec() (*openapi3.T, error) {
	once.Do(func() { loaded, loadErr = Load(Raw(), Overlay()) })
	return loaded, loadErr
}

// Load applies overlay (strictly: every action must match) to the
// description in spec and returns the result, parsed and validated.
func Load(spec, overlay []byte) (*openapi3.T, error) {
	node, err := loader.LoadSpecificationFromReader(bytes.NewReader(spec))
	if err != nil {
		return nil, fmt.Errorf("openapi: parse description: %w", err)
	}
	ov, err := loader.LoadOverlayFromReader(bytes.NewReader(overlay))
	if err != nil {
		return nil, fmt.Errorf("openapi: parse overlay: %w", err)
	}
	if err := ov.Validate(); err != nil {
		return nil, fmt.Errorf("openapi: invalid overlay: %w", err)
	}
	if warnings, err := ov.ApplyToStrict(node); err != nil {
		return nil, fmt.Errorf("openapi: apply overlay: %w (%v)", err, warnings)
	}
	merged, err := yaml.Marshal(node)
	if err != nil {
		return nil, fmt.Errorf("openapi: encode description: %w", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(merged)
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
