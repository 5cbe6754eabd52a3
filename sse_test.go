package chatflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/difykit/chatflow/internal/sse"
	"github.com/difykit/chatflow/internal/testio"
)

// The decoder's own tests are in internal/sse; these read streams through
// a Stream.

// readAheadSize is the size the decoder's read buffer grows to while
// events wait to be read.
const readAheadSize = 32 << 10

// readers returns the ways a test feeds an input to the decoder.
func readers(in []byte) map[string]func() io.Reader { return testio.Readers(in) }

// endless is a server that sends line over and over, until it has sent
// max bytes (so that a test of a decoder that never gives up ends).
type endless struct {
	line []byte
	sent int
	max  int
}

func (r *endless) Read(p []byte) (int, error) {
	if r.sent >= r.max {
		return 0, io.EOF
	}
	n := 0
	for len(p)-n >= len(r.line) {
		n += copy(p[n:], r.line)
	}
	if n == 0 {
		n = copy(p, r.line[:1]) // a buffer smaller than one line
	}
	r.sent += n
	return n, nil
}

// TestSSEEndlessEvent: an event that never ends, made of short lines of
// any kind, ends the stream with ErrEventTooLarge once it passes the
// limit, having read no more than the limit allows: the lines' bytes, at
// most four times as many for data lines of one byte ("data: x\r" counts
// two: the value and the line break that joins it to the next).
func TestSSEEndlessEvent(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	for _, line := range []string{"id: 1\n", "retry: 10\n", "event: message\n", ": keep-alive\r\n", "data: x\r", "x\n"} {
		r := &endless{line: []byte(line), max: 64 * limit}
		ctx, cancel := context.WithCancelCause(context.Background())
		s := newStream(ctx, cancel, io.NopCloser(r), limit)
		var last error
		for _, err := range s.Events() {
			last = err
		}
		if !errors.Is(last, ErrEventTooLarge) || !errors.Is(last, ErrIncompleteStream) {
			t.Errorf("%q forever: %v, want ErrEventTooLarge", line, last)
		}
		if r.sent > 4*limit+2*readAheadSize {
			t.Errorf("%q forever: read %d bytes with a limit of %d", line, r.sent, limit)
		}
	}
}

// TestSSECaptures decodes the real streams: every event has a known name
// and decodes into its payload type, through every way of reading.
// stream-03-truncated.sse is truncated in content only (the author kept
// the first answer piece), not in framing: it ends with message_end and
// tts_message_end, so it decodes without error.
func TestSSECaptures(t *testing.T) {
	t.Parallel()
	for name, b := range captures(t) {
		for rname, rd := range readers(b) {
			ctx, cancel := context.WithCancelCause(context.Background())
			s := newStream(ctx, cancel, io.NopCloser(rd()), DefaultMaxEventBytes)
			n := 0
			for ev, err := range s.Events() {
				if err != nil {
					t.Fatalf("%s/%s: after %d events: %v", name, rname, n, err)
				}
				n++
				if _, known := knownTypes[ev.Name()]; !known {
					t.Errorf("%s/%s: unknown event %q", name, rname, ev.Name())
				}
				p, err := ev.Payload()
				if err != nil {
					t.Errorf("%s/%s: event %d (%s): %v", name, rname, n, ev.Name(), err)
				}
				if _, raw := p.(json.RawMessage); raw {
					t.Errorf("%s/%s: event %d (%s) has no typed payload", name, rname, n, ev.Name())
				}
				if !json.Valid(ev.Raw()) {
					t.Errorf("%s/%s: event %d: Raw is not JSON", name, rname, n)
				}
			}
			if n < 4 {
				t.Errorf("%s/%s: only %d events", name, rname, n)
			}
			if s.TaskID() == "" {
				t.Errorf("%s/%s: no task id", name, rname)
			}
		}
	}
}

// FuzzStreamSSE runs inputs cut into reads of varying sizes through a
// Stream, to check that every event can be read without a panic and that
// the "message" fast path agrees with encoding/json. (internal/sse's
// FuzzSSE compares the decoder with a reference reading of the rules.)
func FuzzStreamSSE(f *testing.F) {
	f.Add([]byte("data: 1\n\ndata: {\"a\":"), uint32(1))
	for _, name := range []string{"success.sse", "failure.sse", "paused.sse", "iteration.sse"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "streams", name)); err == nil {
			f.Add(b, uint32(7))
		}
	}
	f.Add([]byte("data: {\"event\":\"message\",\"answer\":\"\\ud83d\\ude00 \\u00e9\\n\",\"created_at\":1}\r\n\r\n"), uint32(3))
	f.Add([]byte("event: ping\r\rdata: {\"event\":\"error\",\"status\":400,\"code\":\"x\",\"message\":\"y\"}\r\r"), uint32(5))
	f.Add([]byte("\xEF\xBB\xBF: hi\rdata:{\"Answer\":\"a\",\"event\":\"message\"}\n\n"), uint32(9))
	f.Fuzz(func(t *testing.T, in []byte, seed uint32) {
		// Through a Stream.
		ctx, cancel := context.WithCancelCause(context.Background())
		s := newStream(ctx, cancel, io.NopCloser(&testio.ChunkReader{B: in, Seed: seed ^ 0x5555}), 1<<16)
		errs := 0
		for ev, err := range s.Events() {
			if err != nil {
				errs++
				continue
			}
			_, _ = ev.Payload()
			if ev.Name() == EventMessage {
				checkMessageFastPath(t, ev.data)
			}
		}
		if errs > 1 {
			t.Fatalf("%d errors from one stream", errs)
		}
	})
}

// TestSSEReadError: a read error ends a stream with an error matching it
// and ErrIncompleteStream.
func TestSSEReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset by peer")
	for _, in := range []string{"data: {}\n\ndata: {}\n\n", "data: {}\n\ndata: {}\n\ndata: {\"par"} {
		s := newStream(context.Background(), nil, io.NopCloser(io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom))), 1<<10)
		var last error
		for _, err := range s.Events() {
			last = err
		}
		if !errors.Is(last, boom) || !errors.Is(last, ErrIncompleteStream) || errors.Is(last, io.ErrUnexpectedEOF) {
			t.Errorf("%q: stream error %v", in, last)
		}
	}
}

// TestMaxEventBytesOption: WithMaxEventBytes accepts the sizes the decoder
// can honour, from 1 byte to sse.MaxEventBytesLimit, and streams read with the
// largest one; a size beyond it (math.MaxInt overflowed the line limit and
// failed every stream) is refused when the client is made.
func TestMaxEventBytesOption(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, -1, sse.MaxEventBytesLimit + 1, math.MaxInt, math.MinInt} {
		if _, err := NewClient(testKey, WithMaxEventBytes(n)); err == nil || !strings.Contains(err.Error(), "WithMaxEventBytes") {
			t.Errorf("WithMaxEventBytes(%d): err = %v, want an error naming the option", n, err)
		}
	}
	success, err := os.ReadFile(filepath.Join("testdata", "streams", "success.sse"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{64 << 10, sse.MaxEventBytesLimit} {
		c, mux, _ := setup(t, WithMaxEventBytes(n))
		mux.HandleFunc("POST /chat-messages", func(w http.ResponseWriter, r *http.Request) {
			write(w, sseHeader(t, w), string(success))
		})
		reply, err := c.SendMessage(context.Background(), ChatRequest{Query: "hi", User: "u1"})
		if err != nil || reply.Answer == "" {
			t.Errorf("WithMaxEventBytes(%d): reply %+v, err %v", n, reply, err)
		}
	}
}
