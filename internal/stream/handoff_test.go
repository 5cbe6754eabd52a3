package stream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
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

// gatedBody is a reply body whose bytes arrive when the test sends them;
// entered receives on each Read, and Close ends a waiting Read.
type gatedBody struct {
	chunks  chan string
	entered chan struct{}
	closed  chan struct{}
	once    sync.Once
	left    string // read by one goroutine at a time
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.left != "" {
		n := copy(p, b.left)
		b.left = b.left[n:]
		return n, nil
	}
	b.entered <- struct{}{}
	select {
	case c := <-b.chunks:
		n := copy(p, c)
		b.left = c[n:]
		return n, nil
	case <-b.closed:
		return 0, errors.New("use of closed network connection")
	}
}

func (b *gatedBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// A caller gives up just as the first event, with the task id, arrives:
// abandon finds no task id and starts taking the connection over, while
// the reader learns the task id, yields the event and goes into a read
// straight on the connection. The run must still be stopped, with that
// task id (it used to be left going, the reader waiting for ever).
// Not parallel: it sets testHookHandover.
func TestAbandonAsTheTaskIDArrives(t *testing.T) {
	body := &gatedBody{chunks: make(chan string), entered: make(chan struct{}, 8), closed: make(chan struct{})}
	srv := &server{stopped: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Open(ctx, Config{Vocabulary: workflowEvents, Server: srv, AutoStop: true, MaxEventBytes: 1 << 16},
		func(context.Context) (*http.Response, error) {
			r := eventStream(nil)
			r.Body = body
			return r, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := read(s)
		done <- err
	}()
	<-body.entered // the reader waits for the first event
	hook := func() {
		body.chunks <- wfStarted // the first event comes now
		<-body.entered           // the reader has read it and waits again
		if s.TaskID() != "t1" {
			t.Errorf("task id %q after the first event", s.TaskID())
		}
	}
	testHookHandover.Store(&hook)
	defer testHookHandover.Store(nil)
	cancel()
	select {
	case <-srv.stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the run was not stopped")
	}
	if stops := srv.stopList(); len(stops) != 1 || stops[0] != "t1" {
		t.Errorf("stops %q, want [t1]", stops)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("the reader ended without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reader is still waiting")
	}
}
