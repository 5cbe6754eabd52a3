package relay

import "github.com/difykit/chatflow"

// The client keeps its whole key out of what it hands back; the relay goes
// further: no run of 8 bytes of the key reaches the browser, since a page
// that holds enough pieces of a key holds the key (chatflow.Client.Redact).

// secret removes the key's pieces from what the browser receives. A nil
// *secret removes nothing.
type secret struct {
	c *chatflow.Client
}

func newSecret(c *chatflow.Client) *secret { return &secret{c: c} }

// bytes returns b with every piece of the key replaced by [REDACTED]; b
// itself when it holds none.
func (s *secret) bytes(b []byte) []byte {
	if s == nil {
		return b
	}
	return s.c.Redact(b)
}

// text is bytes for a string.
func (s *secret) text(t string) string {
	if s == nil {
		return t
	}
	return string(s.c.Redact([]byte(t)))
}
