package overlay

import (
	"strings"
	"testing"
)

const testSpec = `{
  "openapi": "3.0.1",
  "info": {"title": "t", "version": "1"},
  "paths": {},
  "components": {"schemas": {"B": {"type": "string", "description": "<b> & c"}, "A": {"type": "integer", "maximum": 1.0}}}
}`

func TestApply(t *testing.T) {
	t.Parallel()
	ov := `overlay: 1.0.0
info: {title: t, version: "1"}
actions:
  - target: $.components.schemas
    update:
      C:
        type: integer
        minimum: 0x10
        maximum: 1_000
        multipleOf: .5
        default: &d 7
        example: *d
        nullable: yes_this_is_a_string
        readOnly: true
        x-null: ~
        200: numeric key
`
	got, err := Apply([]byte(testSpec), []byte(ov))
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	// The description's order is kept (B before A), additions come last,
	// numbers are kept as written or converted to JSON, HTML is not escaped.
	for _, want := range []string{
		`"B": {
        "type": "string",
        "description": "<b> & c"
      },
      "A": {
        "type": "integer",
        "maximum": 1.0
      },
      "C": {
        "type": "integer",
        "minimum": 16,
        "maximum": 1000,
        "multipleOf": 0.5,
        "default": 7,
        "example": 7,
        "nullable": "yes_this_is_a_string",
        "readOnly": true,
        "x-null": null,
        "200": "numeric key"
      }`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("result lacks\n%s\n\ngot:\n%s", want, s)
		}
	}
	if !strings.HasSuffix(s, "}\n") {
		t.Error("result does not end with a newline")
	}
}

func TestApplyStrict(t *testing.T) {
	t.Parallel()
	ov := `overlay: 1.0.0
info: {title: t, version: "1"}
actions:
  - target: $.components.schemas.Missing
    update: {type: string}
`
	if _, err := Apply([]byte(testSpec), []byte(ov)); err == nil {
		t.Error("an action that matches nothing was accepted")
	}
}
