package stream

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// errHandedOff ends a read that another goroutine took the connection over
// from (see handoffReader).
var errHandedOff = errors.New("chatflow: connection handed over")

// handoffReader lets the goroutine reading a stream give its connection up
// while a read is waiting, without closing it: a caller whose context ends
// before the first event has to get its error at once, and the connection
// still has to be read on, in the background, until the task id that the
// stop request needs arrives (the server names neither the task nor the run
// in the reply's headers).
//
// Until the stream knows its task id, each read waits in a goroutine of its
// own; interrupt makes the waiting Read return errHandedOff, and the read
// goes on: its bytes are returned by the next Read, whoever makes it. Once
// the task id is known (direct), reads go straight to the connection.
type handoffReader struct {
	rd     io.Reader
	direct atomic.Bool // the task id is known: read rd directly

	mu   sync.Mutex
	intr chan struct{} // closed by interrupt
	// interrupted is set by interrupt until a Read returns errHandedOff.
	// Direct reads check it without the lock: an interrupt that came just
	// before the task id was learnt still ends the next read.
	interrupted atomic.Bool

	// Used by the reading goroutine only.
	inflight chan handoffRead // of the read in flight; nil when none
	buf      []byte           // the buffer of the read in flight
	left     []byte           // bytes read and not yet returned
	err      error            // returned once left is empty
}

type handoffRead struct {
	n   int
	err error
}

func newHandoffReader(rd io.Reader) *handoffReader {
	return &handoffReader{rd: rd, intr: make(chan struct{})}
}

func (h *handoffReader) Read(p []byte) (int, error) {
	if len(h.left) > 0 {
		n := copy(p, h.left)
		h.left = h.left[n:]
		return n, nil
	}
	if h.err != nil {
		err := h.err
		h.err = nil
		return 0, err
	}
	if h.inflight == nil {
		if h.direct.Load() {
			if h.interrupted.Load() {
				h.reset()
				return 0, errHandedOff
			}
			return h.rd.Read(p)
		}
		if cap(h.buf) < len(p) {
			h.buf = make([]byte, len(p)) // else the last read's, all returned
		}
		h.buf = h.buf[:len(p)]
		h.inflight = make(chan handoffRead, 1)
		go func(buf []byte, out chan<- handoffRead) {
			n, err := h.rd.Read(buf)
			out <- handoffRead{n, err}
		}(h.buf, h.inflight)
	}
	h.mu.Lock()
	intr := h.intr
	h.mu.Unlock()
	select {
	case r := <-h.inflight:
		h.inflight = nil
		n := copy(p, h.buf[:r.n])
		h.left = h.buf[n:r.n]
		if len(h.left) > 0 {
			h.err = r.err
			return n, nil
		}
		return n, r.err
	case <-intr:
		h.reset()
		return 0, errHandedOff
	}
}

// reset makes ready for the next interrupt, once a Read has returned
// errHandedOff for the last one.
func (h *handoffReader) reset() {
	h.mu.Lock()
	h.intr = make(chan struct{})
	h.interrupted.Store(false)
	h.mu.Unlock()
}

// interrupt makes the Read waiting now (or the next one) return
// errHandedOff.
func (h *handoffReader) interrupt() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.interrupted.Swap(true) {
		close(h.intr)
	}
}
