// Command genevents writes events_gen.go: the event plumbing of the root
// package, derived from the API description so that no list of event kinds
// is kept by hand. For every value of the EventName enum of the effective
// description (the overlay applied, as internal/cmd/geneffective writes it)
// it finds the payload schema that the ChunkChatEvent discriminator
// maps the name to, and the Go type oapi-codegen generated for that schema,
// and writes:
//
//   - a constant EventXxx holding the name;
//   - allEventNames, every name in the order of the enum;
//   - an alias XxxEvent of the payload type, and aliases of the named types
//     of its object fields (Data, Metadata);
//   - an accessor (Event).Xxx that decodes the event into its payload, with
//     pointer fields to structs (Data, Metadata) never nil;
//   - (Event).Payload, which dispatches on the name.
//
// Run it after geneffective and oapi-codegen (it reads their output):
//
//	go run ./internal/cmd/genevents -spec openapi/effective.json -gen gen/chatflow.gen.go -o events_gen.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"slices"
	"strings"

	"github.com/difykit/chatflow/internal/cmd/internal/gencommon"
	"github.com/difykit/chatflow/internal/spec"
)

func main() {
	spec := flag.String("spec", "openapi/effective.json", "the effective API description (the overlay applied), as geneffective writes it")
	genFile := flag.String("gen", "gen/chatflow.gen.go", "the code oapi-codegen generated from them")
	out := flag.String("o", "events_gen.go", "the Go file to write")
	flat := flag.String("flat", "StreamEventChatMessage", "the generated type that the hand-written fast decoder (decodeFlatMessage) fills")
	gencommon.Main("genevents", func() error { return run(*spec, *genFile, *flat, *out) })
}

// kind is one event kind.
type kind struct {
	name     string // the event name, "node_started"
	camel    string // its Go form, "NodeStarted"
	accessor string // the method of Event that decodes it
	goType   string // the generated payload type, "StreamEventNodeStarted"
	flat     bool   // goType has the fields of the -flat type: decodeFlatAs
	doc      string // the payload schema's description, one line
	fill     []field
}

// field is a field of a payload type whose type is a generated struct.
type field struct {
	name, goType string
	pointer      bool
}

func run(specPath, genPath, flatType, outPath string) error {
	effective, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	doc, err := spec.Parse(effective)
	if err != nil {
		return err
	}
	structs, err := generatedStructs(genPath)
	if err != nil {
		return err
	}

	names := doc.Components.Schemas["EventName"]
	if names == nil || names.Value == nil || len(names.Value.Enum) == 0 {
		return fmt.Errorf("the description has no EventName enum")
	}
	base := doc.Components.Schemas["ChunkChatEvent"]
	if base == nil || base.Value == nil || base.Value.Discriminator == nil {
		return fmt.Errorf("the description has no ChunkChatEvent discriminator")
	}
	mapping := base.Value.Discriminator.Mapping
	flatStruct, ok := structs[flatType]
	if !ok {
		return fmt.Errorf("-flat: no generated struct %s", flatType)
	}
	flatFields := fieldList(flatStruct)

	var kinds []kind
	seen := map[string]bool{}
	for _, v := range names.Value.Enum {
		name, ok := v.(string)
		if !ok || name == "" {
			return fmt.Errorf("EventName enum value %v is not a name", v)
		}
		if seen[name] {
			return fmt.Errorf("EventName lists %q twice", name)
		}
		seen[name] = true
		ref, ok := mapping[name]
		if !ok {
			return fmt.Errorf("event %q: the ChunkChatEvent discriminator maps it to no payload schema (add it in the overlay)", name)
		}
		schemaName, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/")
		if !ok {
			return fmt.Errorf("event %q: mapping %q is not a component schema", name, ref.Ref)
		}
		schema := doc.Components.Schemas[schemaName]
		if schema == nil || schema.Value == nil {
			return fmt.Errorf("event %q: no schema %s", name, schemaName)
		}
		goType := schemaName
		if n, ok := schema.Value.Extensions["x-go-type-name"].(string); ok {
			goType = n
		}
		st, ok := structs[goType]
		if !ok {
			return fmt.Errorf("event %q: oapi-codegen generated no struct %s (is %s in ChatStreamEvent.oneOf?)", name, goType, schemaName)
		}
		k := kind{name: name, camel: camel(name), goType: goType, doc: oneLine(schema.Value.Description)}
		k.flat = fieldList(st) == flatFields
		k.accessor = k.camel
		if reserved[k.accessor] {
			k.accessor += "Event"
		}
		for _, f := range st.Fields.List {
			t, pointer := f.Type, false
			if star, ok := t.(*ast.StarExpr); ok {
				t, pointer = star.X, true
			}
			id, ok := t.(*ast.Ident)
			if !ok || structs[id.Name] == nil || len(f.Names) != 1 {
				continue
			}
			k.fill = append(k.fill, field{name: f.Names[0].Name, goType: id.Name, pointer: pointer})
		}
		kinds = append(kinds, k)
	}

	return gencommon.WriteGo(outPath, render(kinds, flatType))
}

// article returns the indefinite article for an event name.
func article(name string) string {
	if strings.ContainsRune("aeiou", rune(name[0])) {
		return "an"
	}
	return "a"
}

// comment renders text as a Go comment wrapped near 80 columns.
func comment(indent, text string) string {
	var b strings.Builder
	line := indent + "//"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 78 && len(line) > len(indent)+2 {
			b.WriteString(line + "\n")
			line = indent + "//"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}

// reserved are the methods of Event that an accessor must not take.
var reserved = map[string]bool{"Name": true, "Raw": true, "String": true, "Payload": true, "Error": true, "Text": true}

// initialisms are the parts of event names written in capitals in Go.
var initialisms = map[string]string{"tts": "TTS", "id": "ID", "url": "URL", "api": "API", "llm": "LLM"}

// camel turns "human_input_form_filled" into "HumanInputFormFilled".
func camel(name string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if up, ok := initialisms[part]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// oneLine joins a description's lines and drops a final period.
func oneLine(s string) string {
	return strings.TrimSuffix(strings.Join(strings.Fields(s), " "), ".")
}

// generatedStructs returns the struct types declared in the generated file.
func generatedStructs(path string) (map[string]*ast.StructType, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	out := map[string]*ast.StructType{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			ts := s.(*ast.TypeSpec)
			if st, ok := ts.Type.(*ast.StructType); ok && !ts.Assign.IsValid() {
				out[ts.Name.Name] = st
			}
		}
	}
	return out, nil
}

// fieldList renders the fields of a struct (names, types, tags) for
// comparison; struct types with the same list convert to each other.
func fieldList(st *ast.StructType) string {
	var b strings.Builder
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			b.WriteString(n.Name + " ")
		}
		b.WriteString(types.ExprString(f.Type))
		if f.Tag != nil {
			b.WriteString(" " + f.Tag.Value)
		}
		b.WriteString(";")
	}
	return b.String()
}

func render(kinds []kind, flatType string) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("// Code generated by internal/cmd/genevents from the API description; DO NOT EDIT.\n\n")
	p("package chatflow\n\n")
	p("import \"github.com/difykit/chatflow/gen\"\n\n")

	p("// Names of the events of a chatflow stream, as returned by Event.Name: the\n")
	p("// values of the API description's event-name enum.\n")
	p("const (\n")
	for _, k := range kinds {
		b.WriteString(comment("\t", fmt.Sprintf("Event%s names %s %q event, decoded by Event.%s.", k.camel, article(k.name), k.name, k.accessor)))
		p("\tEvent%s = %q\n", k.camel, k.name)
	}
	p(")\n\n")

	p("// allEventNames lists every event name of the API description, in its order.\n")
	p("var allEventNames = []string{\n")
	for _, k := range kinds {
		p("\tEvent%s,\n", k.camel)
	}
	p("}\n\n")

	b.WriteString(comment("", fmt.Sprintf("flatPayload are the payload types with the fields of gen.%s, which decodeFlatAs decodes with the hand-written fast path.", flatType)))
	p("type flatPayload interface {\n\t")
	sep := ""
	for _, k := range kinds {
		if k.flat {
			p("%sgen.%s", sep, k.goType)
			sep = " | "
		}
	}
	p("\n}\n\n")

	p("// Payload types of the events, and the named types of their parts. Each\n")
	p("// is the same type as its gen counterpart.\n")
	p("type (\n")
	aliased := map[string]bool{}
	for _, k := range kinds {
		text := fmt.Sprintf("%sEvent is the payload of %s %q event.", k.camel, article(k.name), k.name)
		if k.doc != "" {
			text += " " + k.doc + "."
		}
		b.WriteString(comment("\t", text))
		p("\t%sEvent = gen.%s\n", k.camel, k.goType)
	}
	var parts []field
	users := map[string][]string{}
	for _, k := range kinds {
		for _, f := range k.fill {
			if !aliased[f.goType] {
				aliased[f.goType] = true
				parts = append(parts, f)
			}
			users[f.goType] = append(users[f.goType], fmt.Sprintf("%s of %sEvent", f.name, k.camel))
		}
	}
	slices.SortFunc(parts, func(a, b field) int { return strings.Compare(a.goType, b.goType) })
	for _, f := range parts {
		b.WriteString(comment("\t", fmt.Sprintf("%s is the type of the %s.", f.goType, strings.Join(users[f.goType], ", "))))
		p("\t%s = gen.%s\n", f.goType, f.goType)
	}
	p(")\n\n")

	for _, k := range kinds {
		var ptrs []string
		for _, f := range k.fill {
			if f.pointer {
				ptrs = append(ptrs, f.name)
			}
		}
		text := fmt.Sprintf("%s decodes %s %q event into its payload, a %sEvent.", k.accessor, article(k.name), k.name, k.camel)
		switch len(ptrs) {
		case 0:
		case 1:
			text += fmt.Sprintf(" Its %s is never nil, even when the event lacks it.", ptrs[0])
		default:
			text += fmt.Sprintf(" Its %s are never nil, even when the event lacks them.", strings.Join(ptrs, " and "))
		}
		text += " Called on an event of another kind it returns a *WrongEventError."
		b.WriteString(comment("", text))
		p("func (e Event) %s() (%sEvent, error) {\n", k.accessor, k.camel)
		if k.flat {
			p("\treturn decodeFlatAs[%sEvent](e, Event%s)\n}\n\n", k.camel, k.camel)
			continue
		}
		if len(ptrs) == 0 {
			p("\treturn decodeAs[%sEvent](e, Event%s)\n}\n\n", k.camel, k.camel)
			continue
		}
		p("\tv, err := decodeAs[%sEvent](e, Event%s)\n", k.camel, k.camel)
		for _, f := range k.fill {
			if f.pointer {
				p("\tif v.%s == nil {\n\t\tv.%s = new(%s)\n\t}\n", f.name, f.name, f.goType)
			}
		}
		p("\treturn v, err\n}\n\n")
	}

	p("// Payload decodes the event into the payload type of its kind and returns a\n")
	p("// pointer to it, such as *NodeStartedEvent for \"node_started\"; for an event\n")
	p("// of a kind this library does not know it returns the raw JSON\n")
	p("// (json.RawMessage).\n")
	p("func (e Event) Payload() (any, error) {\n\tswitch e.name {\n")
	for _, k := range kinds {
		p("\tcase Event%s:\n\t\treturn payloadPtr(e.%s())\n", k.camel, k.accessor)
	}
	p("\t}\n\treturn e.Raw(), nil\n}\n")
	return b.Bytes()
}
