// Package testio holds the readers that tests of stream decoding feed
// their inputs through, so that every package's tests split input the
// same ways.
package testio

import (
	"bytes"
	"io"
	"testing/iotest"
)

// ChunkReader returns its input in reads of varying small sizes, some of
// them empty, to move line ends across read boundaries. The sizes follow
// from Seed, so a failing case can be replayed.
type ChunkReader struct {
	B    []byte
	Seed uint32
}

// Read returns the next 0 to 8 bytes of the input, io.EOF after it.
func (r *ChunkReader) Read(p []byte) (int, error) {
	if len(r.B) == 0 {
		return 0, io.EOF
	}
	r.Seed = r.Seed*1664525 + 1013904223
	n := int(r.Seed>>24)%9 - 1 // -1..7
	if n < 0 {
		return 0, nil
	}
	n = min(n+1, len(p), len(r.B))
	copy(p, r.B[:n])
	r.B = r.B[n:]
	return n, nil
}

// Readers returns the ways a test feeds in to a decoder: whole, one byte
// at a time, in small chunks, and with io.EOF coming with the last data.
func Readers(in []byte) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":   func() io.Reader { return bytes.NewReader(in) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
		"chunks":  func() io.Reader { return &ChunkReader{B: in, Seed: uint32(len(in))} },
		"dataerr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(in)) },
	}
}
