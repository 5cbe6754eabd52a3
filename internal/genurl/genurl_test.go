package genurl

import (
	"fmt"
	"net/url"
	"testing"
)

// reference is what oapi-codegen's built-in builders compute.
func reference(server, format string, params ...string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", err
	}
	args := make([]any, len(params))
	for i, p := range params {
		args[i] = p
	}
	r, err := u.Parse("." + fmt.Sprintf(format, args...))
	if err != nil {
		return "", err
	}
	return r.String(), nil
}

// TestOperationURL checks the one-string URL against the built-in
// resolution, on servers and paths where the fast way applies and where
// it must not (no trailing slash, dot segments, escapes, bad servers).
func TestOperationURL(t *testing.T) {
	t.Parallel()
	servers := []string{
		"https://api.dify.ai/v1/", "https://api.dify.ai/v1", "http://127.0.0.1:5001/v1/", "https://h/",
		"https://h/a/../v1/", "https://h/v1/./", "https://h/%7Ev1/", "https://h/v 1/", "https://h/v1/?q=1", "::bad",
	}
	cases := []struct {
		format string
		params []string
	}{
		{"/conversations", nil},
		{"/conversations/%s", []string{"4b9a6d52-0c1e-4d7b-9e53-3f2a8c1d0e77"}},
		{"/conversations/%s/variables/%s", []string{"c", "v"}},
		{"/files/%s/preview", []string{".."}},
		{"/files/%s/preview", []string{"."}},
		{"/files/%s/preview", []string{""}},
		{"/files/%s/preview", []string{"a%2Fb"}},
		{"/files/%s/preview", []string{"%zz"}},
		{"/apps/annotation-reply/%s", []string{"enable"}},
	}
	for _, server := range servers {
		for _, c := range cases {
			// Twice: the second call takes the cached answer about server.
			for range 2 {
				got, gerr := OperationURL(server, c.format, c.params...)
				want, werr := reference(server, c.format, c.params...)
				if got != want || (gerr == nil) != (werr == nil) {
					t.Errorf("OperationURL(%q, %q, %q) = %q, %v; the built-in way gives %q, %v", server, c.format, c.params, got, gerr, want, werr)
				}
			}
		}
	}
}
