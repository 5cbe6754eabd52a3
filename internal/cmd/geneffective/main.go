// Command geneffective writes openapi/effective.json: the API description
// with the overlay applied (strictly), which package openapi embeds so that
// the fake server and the tests validate against it with kin-openapi alone,
// without the overlay and YAML libraries.
//
//	go run ./internal/cmd/geneffective -spec openapi/chatflow.json -overlay openapi/overlay.yaml -o openapi/effective.json
//
// The result is checked (parsed and validated as package openapi does) before
// it is written. It does not import package openapi, which embeds the file it
// writes, so it runs even when that file is missing.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/difykit/chatflow/internal/cmd/internal/gencommon"
	"github.com/difykit/chatflow/internal/overlay"
)

func main() {
	spec := gencommon.SpecFlag()
	ov := flag.String("overlay", "openapi/overlay.yaml", "the overlay applied to it")
	out := flag.String("o", "openapi/effective.json", "the JSON file to write")
	gencommon.Main("geneffective", func() error { return run(*spec, *ov, *out) })
}

func run(specPath, overlayPath, outPath string) error {
	effective, err := overlay.ApplyFiles(specPath, overlayPath)
	if err != nil {
		return err
	}
	doc, err := openapi3.NewLoader().LoadFromData(effective)
	if err != nil {
		return fmt.Errorf("load the effective description: %w", err)
	}
	if err := doc.Validate(openapi3.NewLoader().Context, openapi3.DisableExamplesValidation()); err != nil {
		return fmt.Errorf("the effective description is not valid: %w", err)
	}
	if old, err := os.ReadFile(outPath); err == nil && bytes.Equal(old, effective) {
		return nil // unchanged: leave the file (and its time stamp) alone
	}
	return os.WriteFile(outPath, effective, 0o644)
}
