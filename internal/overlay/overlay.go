// Package overlay applies an OpenAPI Overlay 1.0 document (openapi/overlay.yaml)
// to an API description (openapi/chatflow.json, or Dify's published
// openapi_service.json put in its place).
//
// It is for the generators and tests only: the overlay and YAML libraries it
// needs stay out of package openapi, of chatflowtest and of the CLI, which use
// the effective description that internal/cmd/geneffective writes with it
// (openapi/effective.json).
package overlay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/speakeasy-api/openapi/overlay/loader"
	"gopkg.in/yaml.v3"
)

// Apply applies overlay to the description in spec, strictly (every action
// must match something), and returns the result as indented JSON, members in
// the order of the description (what the overlay adds comes after what was
// there), ending with a newline. The same inputs always give the same bytes.
func Apply(spec, overlay []byte) ([]byte, error) {
	node, err := loader.LoadSpecificationFromReader(bytes.NewReader(spec))
	if err != nil {
		return nil, fmt.Errorf("overlay: parse description: %w", err)
	}
	ov, err := loader.LoadOverlayFromReader(bytes.NewReader(overlay))
	if err != nil {
		return nil, fmt.Errorf("overlay: parse overlay: %w", err)
	}
	if err := ov.Validate(); err != nil {
		return nil, fmt.Errorf("overlay: invalid overlay: %w", err)
	}
	if warnings, err := ov.ApplyToStrict(node); err != nil {
		return nil, fmt.Errorf("overlay: apply: %w (%v)", err, warnings)
	}
	var compact bytes.Buffer
	if err := writeJSON(&compact, node); err != nil {
		return nil, fmt.Errorf("overlay: encode description: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("overlay: encode description: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// ApplyFiles reads the description at specPath and the overlay at
// overlayPath, and applies the overlay as Apply does.
func ApplyFiles(specPath, overlayPath string) ([]byte, error) {
	spec, err := os.ReadFile(specPath)
	if err != nil {
		return nil, err
	}
	overlay, err := os.ReadFile(overlayPath)
	if err != nil {
		return nil, err
	}
	return Apply(spec, overlay)
}

// writeJSON writes the YAML node n as compact JSON, keeping the order of
// mapping keys.
func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("document with %d nodes", len(n.Content))
		}
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: mapping key is not a plain scalar", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := writeJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, v); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	}
	return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return err
		}
		fmt.Fprint(buf, b)
	case "!!int", "!!float":
		// A JSON number is kept as written (1.0 stays 1.0); YAML-only forms
		// (0x1F, 1_000, .5) are converted.
		if isJSONNumber(n.Value) {
			buf.WriteString(n.Value)
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(b)
	default: // !!str, and !!timestamp or !!binary, kept as their text
		writeString(buf, n.Value)
	}
	return nil
}

// writeString writes s as a JSON string, without escaping <, > and & (the
// descriptions are read by people).
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Truncate(buf.Len() - 1)
}

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}
