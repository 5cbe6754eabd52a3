package relay

import (
	"context"
	"net/http"
	"strings"

	"github.com/difykit/chatflow"
	"github.com/difykit/chatflow/gen"
)

// The client already removes its key from what it hands back; the relay
// goes further: no run of partWidth bytes of the key reaches the browser,
// since a page that holds enough pieces of a key holds the key.

// partWidth is the length of the key's pieces that are removed.
const partWidth = 8

// redacted replaces what is removed.
const redacted = "[REDACTED]"

// secret knows the pieces of the key. A nil *secret removes nothing.
type secret struct {
	parts map[string]struct{}
	width int
}

// newSecret returns the remover of key's pieces; nil for no key.
func newSecret(key string) *secret {
	w := min(partWidth, len(key))
	if w < 4 { // too short to be a secret, too common to remove
		return nil
	}
	s := &secret{parts: map[string]struct{}{}, width: w}
	for i := 0; i+w <= len(key); i++ {
		s.parts[key[i:i+w]] = struct{}{}
	}
	return s
}

// bytes returns b with every piece of the key replaced by [REDACTED]; b
// itself when it holds none.
func (s *secret) bytes(b []byte) []byte {
	if s == nil {
		return b
	}
	var out []byte
	last := 0
	for i := 0; i+s.width <= len(b); {
		if _, ok := s.parts[string(b[i:i+s.width])]; !ok {
			i++
			continue
		}
		end := i + s.width
		for j := i + 1; j <= end && j+s.width <= len(b); j++ {
			if _, ok := s.parts[string(b[j:j+s.width])]; ok {
				end = j + s.width
			}
		}
		out = append(out, b[last:i]...)
		out = append(out, redacted...)
		last, i = end, end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// text is bytes for a string.
func (s *secret) text(t string) string {
	if s == nil {
		return t
	}
	return string(s.bytes([]byte(t)))
}

// keyOf learns the key c sends, from the Authorization header its request
// editors put on a request that is never sent: chatflow.Client keeps its
// key to itself and offers no way to scrub a text with it.
func keyOf(c *chatflow.Client) string {
	gc, ok := c.API().ClientInterface.(*gen.Client)
	if !ok {
		return ""
	}
	req, err := http.NewRequest(http.MethodGet, c.BaseURL(), nil)
	if err != nil {
		return ""
	}
	for _, edit := range gc.RequestEditors {
		if edit(context.Background(), req) != nil {
			break
		}
	}
	scheme, key, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(key)
}
