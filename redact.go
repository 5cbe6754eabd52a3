package chatflow

import "sync"

// redactWidth is the length of the pieces of the key that Redact removes:
// a text that holds enough pieces of a key holds the key.
const redactWidth = 8

// Redact returns b with the client's API key, and every run of 8 bytes
// of it or longer, replaced by [REDACTED]; b itself when it holds none.
// The library already keeps the whole key out of what it hands back; a
// program that passes replies on to others (a proxy for browsers, see
// package relay) calls Redact on them too, so that not even a piece of
// the key leaves it.
func (c *Client) Redact(b []byte) []byte {
	p := c.keyPieces()
	if p == nil {
		return b
	}
	var out []byte
	last := 0
	for i := 0; i+redactWidth <= len(b); {
		if _, ok := p[string(b[i:i+redactWidth])]; !ok {
			i++
			continue
		}
		// Extend over overlapping pieces: one [REDACTED] for one run.
		end := i + redactWidth
		for j := i + 1; j <= end && j+redactWidth <= len(b); j++ {
			if _, ok := p[string(b[j:j+redactWidth])]; ok {
				end = j + redactWidth
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

// keyPieces returns the set of the key's runs of redactWidth bytes (nil
// for a key too short to be scrubbed), made on first use.
func (c *Client) keyPieces() map[string]struct{} {
	if c.pieces == nil {
		return nil
	}
	return c.pieces()
}

// piecesOf returns a function that holds the set of the key's runs of
// redactWidth bytes, made on first use: a closure, which fmt never prints
// (see secret).
func piecesOf(sec *secret) func() map[string]struct{} {
	if sec == nil {
		return nil
	}
	return sync.OnceValue(func() map[string]struct{} {
		key, _ := sec.get()
		m := make(map[string]struct{}, len(key))
		for i := 0; i+redactWidth <= len(key); i++ {
			m[string(key[i:i+redactWidth])] = struct{}{}
		}
		return m
	})
}
