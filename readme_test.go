package chatflow

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
)

// readmeBlock returns the body of the first ```go block after heading.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	s = s[i:]
	const open = "```go\n"
	j := strings.Index(s, open)
	if j < 0 {
		t.Fatalf("README: no go block after %q", heading)
	}
	s = s[j+len(open):]
	k := strings.Index(s, "```\n")
	if k < 0 {
		t.Fatalf("README: unterminated block after %q", heading)
	}
	return s[:k]
}

// exampleBody returns the source of an Example function's body in
// example_test.go, without its Output comment, one tab of indentation
// removed.
func exampleBody(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != name {
			continue
		}
		body := string(src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset])
		if i := strings.Index(body, "\t// Output:"); i >= 0 {
			body = body[:i]
		}
		var out []string
		for _, l := range strings.Split(strings.Trim(body, "\n"), "\n") {
			out = append(out, strings.TrimPrefix(l, "\t"))
		}
		return strings.Join(out, "\n") + "\n"
	}
	t.Fatalf("example_test.go has no %s", name)
	return ""
}

// The README's streaming snippet is the tested Example, verbatim.
func TestREADMEStreamingSnippetIsExample(t *testing.T) {
	t.Parallel()
	got, want := readmeBlock(t, "## Streaming chat"), exampleBody(t, "ExampleClient_StreamMessage")
	if got != want {
		t.Errorf("README streaming snippet differs from ExampleClient_StreamMessage:\n--- README\n%s--- example\n%s", got, want)
	}
}

// The quick start is a whole program that sends a chat message with the
// base URL from DIFY_BASE_URL and prints the error of its default branch.
func TestREADMEQuickStart(t *testing.T) {
	t.Parallel()
	src := readmeBlock(t, "## Quick start")
	for _, want := range []string{"c.SendMessage(", `chatflow.WithBaseURL(os.Getenv("DIFY_BASE_URL"))`, `os.Getenv("DIFY_API_KEY")`} {
		if !strings.Contains(src, want) {
			t.Errorf("quick start lacks %s", want)
		}
	}
	f, err := parser.ParseFile(token.NewFileSet(), "quickstart.go", src, 0)
	if err != nil {
		t.Fatalf("quick start does not parse: %v", err)
	}
	printsErr := false
	ast.Inspect(f, func(n ast.Node) bool {
		cc, ok := n.(*ast.CaseClause)
		if !ok || cc.List != nil {
			return true
		}
		// The default branch: it must call fmt.Print*/Fprint* with err.
		for _, st := range cc.Body {
			ast.Inspect(st, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "log" {
					t.Errorf("the default branch calls log.%s", sel.Sel.Name)
				}
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "fmt" && strings.Contains(sel.Sel.Name, "rint") {
					for _, a := range call.Args {
						if id, ok := a.(*ast.Ident); ok && id.Name == "err" {
							printsErr = true
						}
					}
				}
				return true
			})
		}
		return false
	})
	if !printsErr {
		t.Error("the quick start's default branch does not print the error")
	}
}

// go doc of the package opens with an overview, from doc.go only.
func TestPackageDocOverview(t *testing.T) {
	t.Parallel()
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for name, f := range pkgs["chatflow"].Files {
		if f.Doc != nil {
			docs = append(docs, name)
			text := f.Doc.Text()
			if !strings.HasPrefix(text, "Package chatflow ") {
				t.Errorf("%s: package doc starts %q", name, text[:min(len(text), 40)])
			}
			for _, want := range []string{"SendMessage", "StreamMessage", "iterator", "resume", "auto-stop", "chatflowtest", "ErrEndpointNotFound"} {
				if !strings.Contains(text, want) {
					t.Errorf("package doc does not mention %s", want)
				}
			}
		}
	}
	if len(docs) != 1 || docs[0] != "doc.go" {
		t.Errorf("package doc comments in %v, want doc.go only", docs)
	}
}

// The doc comment of each request type a caller fills names every field.
func TestRequestTypeDocsListFields(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docOf := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, sp := range g.Specs {
			ts := sp.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil && len(g.Specs) == 1 {
				doc = g.Doc
			}
			if doc != nil {
				docOf[ts.Name.Name] = doc.Text()
			}
		}
	}
	for name, typ := range map[string]reflect.Type{
		"ChatRequest":             reflect.TypeFor[ChatRequest](),
		"TextToAudioRequest":      reflect.TypeFor[TextToAudioRequest](),
		"AnnotationReplySettings": reflect.TypeFor[AnnotationReplySettings](),
	} {
		doc := docOf[name]
		if doc == "" {
			t.Errorf("%s has no doc comment of its own", name)
			continue
		}
		for i := range typ.NumField() {
			if field := typ.Field(i).Name; !strings.Contains(doc, "- "+field+" ") {
				t.Errorf("doc of %s does not list the field %s", name, field)
			}
		}
	}
}
