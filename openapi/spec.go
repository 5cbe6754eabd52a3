// Package openapi holds the chatflow API description that the client is
// generated from, and the overlay of corrections to it, as bytes: it embeds
// the files and parses nothing (the module's tools and tests parse them
// with kin-openapi, internally).
//
// The overlay is applied when the code is generated, not at run time:
// effective.json is chatflow.json with overlay.yaml applied, written by
// internal/cmd/geneffective (go generate ./...).
package openapi

import (
	"bytes"
	_ "embed" // the description files
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
