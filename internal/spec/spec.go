// Package spec parses the chatflow API description (package openapi's
// files) with kin-openapi, for the tools and tests that validate requests
// and replies against it, the generators and the fake server's tests. It
// is internal so that no kin-openapi type is part of the module's API, and
// kept apart from the client so that kin-openapi never ends up in a binary
// that only uses the client.
package spec

import (
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/difykit/chatflow/openapi"
)

// Load returns the effective API description (the overlay applied), parsed
// and validated. The result is shared: treat it as read-only.
var Load = sync.OnceValues(func() (*openapi3.T, error) {
	return Parse(openapi.Effective())
})

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
