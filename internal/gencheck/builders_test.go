// Package gencheck holds tests of the generated clients (gen/...) that do
// not belong to one app package.
package gencheck

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/gen/completion"
	"github.com/difykit/chatflow/gen/workflow"
)

var update = flag.Bool("update", false, "rewrite testdata/requests.golden.gz")

// The requests that the generated clients build, for every operation of
// the three generated packages, many servers and parameter values, are
// the ones in testdata/requests.golden.gz (one line per call; read it
// with zcat). That file was recorded from the
// request builders of oapi-codegen's built-in client template; ours
// (openapi/client.tmpl) must build the same URLs, methods, Content-Types
// and bodies, and fail the same way on a server that does not parse.
func TestRequestsMatchTheBuiltInBuilders(t *testing.T) {
	var lines []string
	for _, c := range []struct {
		pkg    string
		client any // a *Client of a generated package, Server and Client unset
	}{
		{"gen", &gen.Client{}},
		{"workflow", &workflow.Client{}},
		{"completion", &completion.Client{}},
	} {
		lines = append(lines, recordClient(t, c.pkg, c.client)...)
	}
	got := strings.Join(lines, "\n") + "\n"
	const golden = "testdata/requests.golden.gz"
	if *update {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write([]byte(got))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("line %d:\n got  %s\n want %s", i+1, g, w)
				break
			}
		}
		t.Errorf("the requests differ from %s (%d lines, want %d)", golden, len(gl), len(wl))
	}
}

// servers are base URLs as a caller may set Client.Server: the usual ones,
// and ones that the URL resolution of the built-in builders changes.
var servers = []string{
	"https://dify.example/v1/",
	"https://dify.example/v1",
	"http://127.0.0.1:5001/",
	"https://dify.example",
	"https://dify.example/",
	"https://dify.example/a/../v1/./",
	"https://dify.example//v1/",
	"https://dify.example/my api/",
	"https://dify.example/my%20api/",
	"https://dify.example/a%2Fb/",
	"https://user:p%40ss@dify.example/v1/",
	"https://DIFY.example:443/V1/",
	"https://dify.example/v1/?x=1",
	"https://dify.example/v1/#top",
	"dify.example/v1/",
	"/v1/",
	"",
	"https://dify.example:bad/",
	"https://dify.example/\x7f/",
}

// values are what path and string query parameters are set to.
var values = []string{
	"abc-123",
	"a b+c&d=e?f#g%h/i",
	"ü é/ñ",
	"x;y,z:@!$'()*[]~",
	"..",
	".",
	"",
	"%2e%2E",
	"a/../b",
}

// recordingDoer records each request it is given and sends none.
type recordingDoer struct{ lines *[]string }

var errNotSent = errors.New("not sent")

type ctxKey struct{}

func (d recordingDoer) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
	}
	line := fmt.Sprintf("%s %s | ct=%q len=%d getbody=%t body=%q",
		req.Method, req.URL.String(), req.Header.Values("Content-Type"), req.ContentLength, req.GetBody != nil, body)
	if req.Context().Value(ctxKey{}) != "call" {
		line += " (not the call's context)"
	}
	if req.Header.Get("X-Edited") != "yes" {
		line += " (the request editor did not run)"
	}
	*d.lines = append(*d.lines, line)
	return nil, errNotSent
}

// recordClient calls every operation method of client (a *Client of a
// generated package) with every server and value, and returns a line per
// call.
func recordClient(t *testing.T, pkg string, client any) []string {
	t.Helper()
	var lines []string
	cv := reflect.ValueOf(client)
	ce := cv.Elem()
	doerField := ce.FieldByName("Client")
	doerField.Set(reflect.ValueOf(recordingDoer{&lines}))
	ct := cv.Type()
	for i := range ct.NumMethod() {
		m := ct.Method(i)
		for si, server := range servers {
			for vi, v := range values {
				// Every server with a few values, every value with a few
				// servers.
				if si > 1 && vi > 1 && v != ".." {
					continue
				}
				for _, nilParams := range []bool{false, true} {
					if nilParams && !hasParamsArg(m.Type) {
						continue
					}
					ce.FieldByName("Server").SetString(server)
					prefix := fmt.Sprintf("%s.%s s%d v%d", pkg, m.Name, si, vi)
					if nilParams {
						prefix += " nil"
					}
					prefix += ": "
					n := len(lines)
					args := callArgs(t, m.Type, v, vi, nilParams)
					out := m.Func.CallSlice(append([]reflect.Value{cv}, args...))
					err, _ := out[len(out)-1].Interface().(error)
					switch {
					case len(lines) == n+1 && errors.Is(err, errNotSent):
						lines[n] = prefix + lines[n]
					case len(lines) == n && err != nil:
						lines = append(lines, prefix+"error: "+err.Error())
					default:
						t.Fatalf("%s: %d requests, error %v", prefix, len(lines)-n, err)
					}
				}
			}
		}
	}
	return lines
}

func hasParamsArg(mt reflect.Type) bool {
	for i := 1; i < mt.NumIn(); i++ {
		if a := mt.In(i); a.Kind() == reflect.Pointer && strings.HasSuffix(a.Elem().Name(), "Params") {
			return true
		}
	}
	return false
}

// callArgs makes the arguments of a call of method type mt (receiver
// first): a context, path parameters set to v, a params struct whose
// fields are all set (from v and vi), a body, and one request editor.
func callArgs(t *testing.T, mt reflect.Type, v string, vi int, nilParams bool) []reflect.Value {
	t.Helper()
	var args []reflect.Value
	ctx := context.WithValue(context.Background(), ctxKey{}, "call")
	for i := 1; i < mt.NumIn(); i++ {
		a := mt.In(i)
		switch {
		case i == 1:
			args = append(args, reflect.ValueOf(ctx))
		case mt.IsVariadic() && i == mt.NumIn()-1:
			edit := reflect.MakeFunc(a.Elem(), func(in []reflect.Value) []reflect.Value {
				in[1].Interface().(*http.Request).Header.Set("X-Edited", "yes")
				return []reflect.Value{reflect.Zero(reflect.TypeFor[error]())}
			})
			s := reflect.MakeSlice(a, 1, 1)
			s.Index(0).Set(edit)
			args = append(args, s)
		case a == reflect.TypeFor[io.Reader]():
			args = append(args, reflect.ValueOf(io.Reader(strings.NewReader("raw body "+v))))
		case a.Kind() == reflect.String && i+1 < mt.NumIn() && mt.In(i+1) == reflect.TypeFor[io.Reader]():
			args = append(args, reflect.ValueOf("application/json; charset=utf-8"))
		case a.Kind() == reflect.String:
			args = append(args, reflect.ValueOf(v).Convert(a))
		case a.Kind() == reflect.Pointer && strings.HasSuffix(a.Elem().Name(), "Params"):
			if nilParams {
				args = append(args, reflect.Zero(a))
			} else {
				p := reflect.New(a.Elem())
				fillParams(t, p.Elem(), v, vi)
				args = append(args, p)
			}
		default:
			args = append(args, reflect.Zero(a)) // a typed body: its zero value
		}
	}
	return args
}

// fillParams sets every field of a params struct: strings to v, numbers
// and booleans from vi, times to a fixed instant.
func fillParams(t *testing.T, s reflect.Value, v string, vi int) {
	t.Helper()
	for i := range s.NumField() {
		f := s.Field(i)
		target := f
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
			target = f.Elem()
		}
		switch target.Kind() {
		case reflect.String:
			target.SetString(v)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			target.SetInt(int64(vi*37 - 40))
		case reflect.Bool:
			target.SetBool(vi%2 == 0)
		case reflect.Struct:
			if target.Type() == reflect.TypeFor[time.Time]() {
				target.Set(reflect.ValueOf(time.Date(2024, 1, 2, 3, 4, 5, 6000000*vi, time.FixedZone("", 3600*(vi-4)))))
				continue
			}
			t.Fatalf("%s.%s: a field of type %s", s.Type(), s.Type().Field(i).Name, target.Type())
		default:
			t.Fatalf("%s.%s: a field of type %s", s.Type(), s.Type().Field(i).Name, target.Type())
		}
	}
}

// The exported request builders are the ones the client methods use: they
// build the same request, with a background context.
func TestExportedBuilders(t *testing.T) {
	user, limit, sortBy := "a b", 20, gen.GetConversationsListParamsSortBy("-updated_at")
	for _, c := range []struct {
		build func() (*http.Request, error)
		want  string
	}{
		{func() (*http.Request, error) {
			return gen.NewGetConversationsListRequest("https://dify.example/v1/", &gen.GetConversationsListParams{User: &user, Limit: &limit, SortBy: &sortBy})
		}, "GET https://dify.example/v1/conversations?user=a+b&limit=20&sort_by=-updated_at"},
		{func() (*http.Request, error) {
			return gen.NewGetConversationsListRequest("https://dify.example/v1", nil)
		}, "GET https://dify.example/conversations"},
		{func() (*http.Request, error) {
			return gen.NewRenameConversationRequest("https://dify.example/v1/", "c/1", gen.RenameConversationJSONRequestBody{Name: "n"})
		}, "POST https://dify.example/v1/conversations/c%2F1/name"},
		{func() (*http.Request, error) {
			return workflow.NewGetWorkflowRunDetailRequest("https://dify.example/v1/", "r 1")
		}, "GET https://dify.example/v1/workflows/run/r%201"},
		{func() (*http.Request, error) {
			return completion.NewStopGenerateRequestWithBody("https://dify.example/v1/", "..", "text/plain", strings.NewReader("x"))
		}, "POST https://dify.example/v1/stop"},
	} {
		req, err := c.build()
		if err != nil {
			t.Errorf("%s: %v", c.want, err)
			continue
		}
		if got := req.Method + " " + req.URL.String(); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
		if req.Context() != context.Background() {
			t.Errorf("%s: the request has a context other than context.Background()", c.want)
		}
	}
}

// FuzzURLMatchesTheBuiltInResolution checks a builder with a path
// parameter and query parameters against the URL resolution of the
// built-in builders, written out here, for any server and values.
func FuzzURLMatchesTheBuiltInResolution(f *testing.F) {
	for _, s := range servers {
		for _, v := range values {
			f.Add(s, v, v, int64(len(v)))
		}
	}
	f.Fuzz(func(t *testing.T, server, id, user string, limit int64) {
		l := int(limit)
		params := &gen.GetConversationVariablesParams{User: &user, Limit: &l}
		got, gotErr := gen.NewGetConversationVariablesRequest(server, id, params)

		var want string
		wantErr := func() error {
			serverURL, err := url.Parse(server)
			if err != nil {
				return err
			}
			u, err := serverURL.Parse("." + fmt.Sprintf("/conversations/%s/variables", url.PathEscape(id)))
			if err != nil {
				return err
			}
			u.RawQuery = "user=" + url.QueryEscape(user) + "&limit=" + strconv.Itoa(l)
			req, err := http.NewRequest(http.MethodGet, u.String(), nil)
			if err != nil {
				return err
			}
			want = req.URL.String()
			return nil
		}()
		switch {
		case (gotErr == nil) != (wantErr == nil):
			t.Fatalf("server %q id %q: error %v, want %v", server, id, gotErr, wantErr)
		case gotErr != nil && gotErr.Error() != wantErr.Error():
			t.Fatalf("server %q id %q: error %v, want %v", server, id, gotErr, wantErr)
		case gotErr == nil && got.URL.String() != want:
			t.Fatalf("server %q id %q user %q: URL %s, want %s", server, id, user, got.URL.String(), want)
		}
	})
}
