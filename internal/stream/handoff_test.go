package stream

import (
	"io"
	"testing"
)

// An interrupted Read returns errHandedOff without losing the bytes of the
// read it left waiting: the next Read, by whoever makes it, returns them;
// once direct, reads go straight to the connection.
func TestHandoffReader(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	h := newHandoffReader(pr)
	h.interrupt()
	buf := make([]byte, 8)
	if n, err := h.Read(buf); n != 0 || err != errHandedOff {
		t.Fatalf("interrupted Read = %d, %v; want 0, errHandedOff", n, err)
	}
	go func() { _, _ = pw.Write([]byte("abc")) }()
	if n, err := h.Read(buf); err != nil || string(buf[:n]) != "abc" {
		t.Fatalf("Read after the handover = %q, %v; want \"abc\"", buf[:n], err)
	}
	h.direct.Store(true)
	go func() { _, _ = pw.Write([]byte("de")); _ = pw.Close() }()
	if n, err := h.Read(buf); err != nil || string(buf[:n]) != "de" {
		t.Fatalf("direct Read = %q, %v", buf[:n], err)
	}
	if _, err := h.Read(buf); err != io.EOF {
		t.Fatalf("Read at the end: %v, want io.EOF", err)
	}
}

// An interrupt that comes while reads are not direct yet, just before the
// task id is learnt, still ends the next read once they are direct: the
// reader must not go into a direct read nobody would end.
func TestHandoffReaderInterruptBeforeDirect(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	defer pw.Close()
	h := newHandoffReader(pr)
	h.interrupt()
	h.direct.Store(true)
	buf := make([]byte, 8)
	if n, err := h.Read(buf); n != 0 || err != errHandedOff {
		t.Fatalf("direct Read after an interrupt = %d, %v; want 0, errHandedOff", n, err)
	}
	// The interrupt is spent: the next direct read reads.
	go func() { _, _ = pw.Write([]byte("xyz")) }()
	if n, err := h.Read(buf); err != nil || string(buf[:n]) != "xyz" {
		t.Fatalf("direct Read after the handover = %q, %v; want \"xyz\"", buf[:n], err)
	}
}
