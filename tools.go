//go:build ignore

// tools.go is the maintainers' entry point for regeneration chores. It is a
// program of its own (package main, build tag "ignore"), so it is never part
// of the library, of a user's build or of a user's go.mod; the generator it
// drives is pinned by go.mod's tool directive and run as `go tool
// oapi-codegen`.
//
// Usage, from the module root:
//
//	go run tools.go generate                 regenerate gen/ and the *_gen.go files (go generate ./...)
//	go run tools.go diff-upstream PATH       report what PATH (Dify's openapi_service.json) changes
//	                                         against openapi/chatflow.json
//	go run tools.go check-upstream PATH      diff-upstream, then scripts/check-upstream PATH: regenerate
//	                                         from PATH in a scratch copy and build, vet and test it
//	go run tools.go help
//
// The report lists, among the chatflow operations (those that
// openapi/oapi-codegen.yaml includes): operations added and removed and
// operations whose method or path moved; the component schemas added and
// removed and, for schemas in both, the fields added and removed; and the
// stream event names added and removed (the enum of every "event" property).
// It only reads the two files; the exit status is 0 whatever changed.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	specPath   = "openapi/chatflow.json"
	configPath = "openapi/oapi-codegen.yaml"
)

const usageText = `usage: go run tools.go VERB [ARGS]

verbs:
  generate              go generate ./... (the client in gen/ and the *_gen.go files)
  diff-upstream PATH    what an upstream openapi_service.json changes against ` + specPath + `
  check-upstream PATH   diff-upstream PATH, then scripts/check-upstream PATH
                        (regenerate from PATH in a scratch copy; build, vet, test)
  help                  this text
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		var ue usageErr
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "tools: %s\n\n%s", ue, usageText)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "tools: %v\n", err)
		os.Exit(1)
	}
}

type usageErr string

func (u usageErr) Error() string { return string(u) }

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageErr("a verb is required")
	}
	if err := toModuleRoot(); err != nil {
		return err
	}
	switch verb, rest := args[0], args[1:]; verb {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(out, usageText)
		return nil
	case "generate":
		if len(rest) != 0 {
			return usageErr("generate takes no arguments")
		}
		return command("go", "generate", "./...")
	case "diff-upstream", "check-upstream":
		if len(rest) != 1 {
			return usageErr(verb + " needs the path of the upstream file")
		}
		if err := diffUpstream(out, specPath, rest[0]); err != nil {
			return err
		}
		if verb == "check-upstream" {
			fmt.Fprintln(out)
			return command(filepath.Join("scripts", "check-upstream"), rest[0])
		}
		return nil
	default:
		return usageErr(fmt.Sprintf("unknown verb %q", verb))
	}
}

// toModuleRoot changes to the directory of go.mod, so that the verbs work
// from any directory of the module.
func toModuleRoot() error {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return errors.New("not inside the chatflow module")
	}
	return os.Chdir(filepath.Dir(gomod))
}

func command(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// spec is the part of an OpenAPI description the report compares.
type spec struct {
	ops     map[string]string          // operationId -> "METHOD /path"
	opRefs  map[string][]string        // operationId -> schemas it references
	refs    map[string][]string        // schema name -> schemas it references
	schemas map[string]map[string]bool // schema name -> property names
	events  map[string]bool            // enum values of "event" properties
}

func loadSpec(path string) (*spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w (a JSON OpenAPI description is expected)", path, err)
	}
	s := &spec{ops: map[string]string{}, opRefs: map[string][]string{}, refs: map[string][]string{},
		schemas: map[string]map[string]bool{}, events: map[string]bool{}}
	for p, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if json.Unmarshal(raw, &op) == nil && op.OperationID != "" {
				s.ops[op.OperationID] = strings.ToUpper(method) + " " + p
				s.opRefs[op.OperationID] = schemaRefs(raw)
			}
		}
	}
	for name, raw := range doc.Components.Schemas {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s: schema %s: %w", path, name, err)
		}
		s.schemas[name] = properties(v)
		s.refs[name] = schemaRefs(raw)
		collectEvents(v, s.events)
	}
	return s, nil
}

// properties returns the property names of a schema, including those of
// the allOf parts written inline.
func properties(v any) map[string]bool {
	out := map[string]bool{}
	m, _ := v.(map[string]any)
	if props, ok := m["properties"].(map[string]any); ok {
		for k := range props {
			out[k] = true
		}
	}
	if all, ok := m["allOf"].([]any); ok {
		for _, part := range all {
			for k := range properties(part) {
				out[k] = true
			}
		}
	}
	return out
}

// collectEvents adds the enum values of every property named "event" found
// anywhere in v.
func collectEvents(v any, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if props, ok := x["properties"].(map[string]any); ok {
			if ev, ok := props["event"].(map[string]any); ok {
				for _, e := range asSlice(ev["enum"]) {
					if s, ok := e.(string); ok {
						into[s] = true
					}
				}
			}
		}
		for _, child := range x {
			collectEvents(child, into)
		}
	case []any:
		for _, child := range x {
			collectEvents(child, into)
		}
	}
}

var refPattern = regexp.MustCompile(`"#/components/schemas/([^"]+)"`)

// schemaRefs returns the names of the component schemas raw refers to.
func schemaRefs(raw []byte) []string {
	var names []string
	for _, m := range refPattern.FindAllSubmatch(raw, -1) {
		names = append(names, string(m[1]))
	}
	return names
}

// reachable returns the schemas the operations ids use, directly or through
// other schemas.
func (s *spec) reachable(ids map[string]bool) map[string]bool {
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		for _, r := range s.refs[name] {
			visit(r)
		}
	}
	for id := range ids {
		for _, r := range s.opRefs[id] {
			visit(r)
		}
	}
	return seen
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// includedOperations reads output-options.include-operation-ids from the
// generator config, as internal/cmd/genroutes does.
func includedOperations(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		OutputOptions struct {
			IncludeOperationIDs []string `yaml:"include-operation-ids"`
		} `yaml:"output-options"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ids := map[string]bool{}
	for _, id := range cfg.OutputOptions.IncludeOperationIDs {
		ids[id] = true
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s: no include-operation-ids found", path)
	}
	return ids, nil
}

func diffUpstream(out io.Writer, oursPath, theirsPath string) error {
	ours, err := loadSpec(oursPath)
	if err != nil {
		return err
	}
	theirs, err := loadSpec(theirsPath)
	if err != nil {
		return err
	}
	included, err := includedOperations(configPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "upstream %s against %s\n", theirsPath, oursPath)
	changes := 0
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		changes += len(lines)
		fmt.Fprintf(out, "\n%s (%d):\n", title, len(lines))
		for _, l := range lines {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}

	var missing, added, moved []string
	for id := range included {
		o, inOurs := ours.ops[id]
		t, inTheirs := theirs.ops[id]
		switch {
		case inOurs && !inTheirs:
			missing = append(missing, id+"  ("+o+")  — the generated client would lose it")
		case !inOurs && inTheirs:
			added = append(added, id+"  ("+t+")")
		case inOurs && inTheirs && o != t:
			moved = append(moved, id+": "+o+" -> "+t)
		}
	}
	section("chatflow operations removed upstream", sorted(missing))
	section("chatflow operations new upstream (already in the config's include list)", sorted(added))
	section("chatflow operations whose method or path changed", sorted(moved))

	var candidates []string
	for id, route := range theirs.ops {
		if _, ok := ours.ops[id]; !ok && !included[id] && chatflowRoute(route) {
			candidates = append(candidates, id+"  ("+route+")  — add to include-operation-ids to generate it")
		}
	}
	section("operations new upstream on chatflow paths (not generated)", sorted(candidates))

	schemasAdded, schemasRemoved := keyDiff(ours.schemas, theirs.schemas)
	used := theirs.reachable(included)
	var usedAdded []string
	other := 0
	for _, name := range schemasAdded {
		if used[name] {
			usedAdded = append(usedAdded, name)
		} else {
			other++
		}
	}
	section("schemas added upstream that the chatflow operations use", usedAdded)
	section("schemas removed upstream (an overlay target here may fail)", schemasRemoved)
	var fieldsAdded, fieldsRemoved []string
	for _, name := range slices.Sorted(maps.Keys(ours.schemas)) {
		t, ok := theirs.schemas[name]
		if !ok {
			continue
		}
		a, r := keyDiff(ours.schemas[name], t)
		for _, f := range a {
			fieldsAdded = append(fieldsAdded, name+"."+f)
		}
		for _, f := range r {
			fieldsRemoved = append(fieldsRemoved, name+"."+f)
		}
	}
	section("fields added upstream", fieldsAdded)
	section("fields removed upstream", fieldsRemoved)

	evAdded, evRemoved := keyDiff(ours.events, theirs.events)
	section("stream event names added upstream", evAdded)
	section("stream event names removed upstream", evRemoved)

	if other > 0 {
		fmt.Fprintf(out, "\n(%d other schemas upstream are not used by the chatflow operations: workflow, completion or knowledge APIs, or stream event payloads that the overlay names)\n", other)
	}
	if changes == 0 {
		fmt.Fprintln(out, "\nno differences in chatflow operations, schemas, fields or event names")
	}
	return nil
}

// chatflowRoute reports whether an upstream route lies on a path family the
// chatflow client already uses.
func chatflowRoute(route string) bool {
	_, p, _ := strings.Cut(route, " ")
	for _, prefix := range []string{"/chat-messages", "/conversations", "/messages", "/files", "/workflow/", "/workflows/run/", "/form/human_input", "/apps/annotation"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// keyDiff returns the keys only in b (added) and only in a (removed), sorted.
func keyDiff[V any](a, b map[string]V) (added, removed []string) {
	for k := range b {
		if _, ok := a[k]; !ok {
			added = append(added, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			removed = append(removed, k)
		}
	}
	return sorted(added), sorted(removed)
}

func sorted(s []string) []string { slices.Sort(s); return s }
