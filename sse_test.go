package chatflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// refDecode is a plain reading of the WHATWG event-stream rules over a
// whole input, the reference the decoder is compared with. end is io.EOF or
// io.ErrUnexpectedEOF (cut inside an event). maxEvent is the largest size
// an event reached (pending events included, the unterminated last line
// not): its data joined plus its other lines whole (comments before it
// too), line ends not counted. maxLine is the longest line.
func refDecode(in []byte) (events []sseEvent, end error, maxEvent, maxLine int) {
	s := strings.TrimPrefix(string(in), "\xEF\xBB\xBF")
	var typ, id string
	var data strings.Builder
	pending := false
	other := 0 // bytes of the lines of this event other than data lines
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			maxLine = max(maxLine, len(s))
			if pending || (s != "" && s[0] != ':') {
				return events, io.ErrUnexpectedEOF, maxEvent, maxLine
			}
			return events, io.EOF, maxEvent, maxLine
		}
		line := s[:i]
		maxLine = max(maxLine, len(line))
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			s = s[i+2:]
		} else {
			s = s[i+1:]
		}
		switch {
		case line == "":
			if data.Len() > 0 {
				d := data.String()
				events = append(events, sseEvent{typ: typ, id: id, data: d[:len(d)-1], hasData: true})
			} else if typ == "ping" {
				events = append(events, sseEvent{typ: typ, id: id})
			}
			typ, id, pending, other = "", "", false, 0
			data.Reset()
			continue
		case line[0] == ':':
			other += len(line)
			maxEvent = max(maxEvent, other+max(data.Len()-1, 0))
			continue
		}
		pending = true
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
		case "event":
			typ = value
		case "id":
			if !strings.Contains(value, "\x00") {
				id = value
			}
		}
		if field != "data" {
			other += len(line)
		}
		maxEvent = max(maxEvent, other+max(data.Len()-1, 0))
	}
}

// decodeAll runs the decoder over r to its end.
func decodeAll(r io.Reader, maxEventBytes int) ([]sseEvent, error) {
	d := newSSEDecoder(r, maxEventBytes)
	var events []sseEvent
	for {
		ev, err := d.next()
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
}

// chunkReader returns its input in reads of varying small sizes, some of
// them empty, to move line ends across read boundaries.
type chunkReader struct {
	b    []byte
	seed uint32
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	r.seed = r.seed*1664525 + 1013904223
	n := int(r.seed>>24)%9 - 1 // -1..7
	if n < 0 {
		return 0, nil
	}
	n = min(n+1, len(p), len(r.b))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// readers returns the ways a test feeds an input to the decoder.
func readers(in []byte) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":   func() io.Reader { return bytes.NewReader(in) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
		"chunks":  func() io.Reader { return &chunkReader{b: in, seed: uint32(len(in))} },
		"dataerr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(in)) },
	}
}

var framingTests = []struct {
	name string
	in   string
	want []sseEvent
	end  error
}{
	{"lf", "data: {\"a\":1}\n\n", []sseEvent{{data: `{"a":1}`, hasData: true}}, io.EOF},
	{"crlf", "data: {\"a\":1}\r\n\r\ndata: 2\r\n\r\n", []sseEvent{{data: `{"a":1}`, hasData: true}, {data: "2", hasData: true}}, io.EOF},
	{"cr", "data: 1\r\rdata: 2\r\r", []sseEvent{{data: "1", hasData: true}, {data: "2", hasData: true}}, io.EOF},
	{"mixed", "data: 1\r\n\ndata: 2\r\rdata: 3\n\r\n", []sseEvent{{data: "1", hasData: true}, {data: "2", hasData: true}, {data: "3", hasData: true}}, io.EOF},
	{"cr then lf is one line end", "data: 1\r\n\r\n", []sseEvent{{data: "1", hasData: true}}, io.EOF},
	{"lf cr is two line ends", "data: 1\n\r", []sseEvent{{data: "1", hasData: true}}, io.EOF},
	{"no space", "data:x\n\n", []sseEvent{{data: "x", hasData: true}}, io.EOF},
	{"two spaces keep one", "data:  x\n\n", []sseEvent{{data: " x", hasData: true}}, io.EOF},
	{"tab is kept", "data:\tx\n\n", []sseEvent{{data: "\tx", hasData: true}}, io.EOF},
	{"bom", "\xEF\xBB\xBFdata: x\n\n", []sseEvent{{data: "x", hasData: true}}, io.EOF},
	// A second byte-order mark is part of a field name.
	{"only one bom", "\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n\xEF\xBB\xBFdata: y\n\n", nil, io.EOF},
	{"comments", ": hello\n:\ndata: x\n: between\n\n: bye\n", []sseEvent{{data: "x", hasData: true}}, io.EOF},
	{"multi-line data", "data: a\ndata:b\ndata\ndata: c\n\n", []sseEvent{{data: "a\nb\n\nc", hasData: true}}, io.EOF},
	{"empty data", "data\n\ndata:\n\n", []sseEvent{{hasData: true}, {hasData: true}}, io.EOF},
	{"ignored fields", "id: 7\nretry: 100\nfoo: bar\nid\ndata: x\nretry\n\n", []sseEvent{{data: "x", hasData: true}}, io.EOF},
	{"event type", "event: message\ndata: x\n\n", []sseEvent{{typ: "message", data: "x", hasData: true}}, io.EOF},
	{"ping without data", "event: ping\n\ndata: x\n\n", []sseEvent{{typ: "ping"}, {data: "x", hasData: true}}, io.EOF},
	{"other event without data is dropped", "event: foo\n\nid: 1\n\ndata: x\n\n", []sseEvent{{data: "x", hasData: true}}, io.EOF},
	{"type resets after dispatch", "event: foo\ndata: 1\n\ndata: 2\n\n", []sseEvent{{typ: "foo", data: "1", hasData: true}, {data: "2", hasData: true}}, io.EOF},
	{"extra blank lines", "\n\n\ndata: 1\n\n\n\ndata: 2\n\n\n", []sseEvent{{data: "1", hasData: true}, {data: "2", hasData: true}}, io.EOF},
	{"colon in value", "data: {\"a\":\"b:c\"}\n\n", []sseEvent{{data: `{"a":"b:c"}`, hasData: true}}, io.EOF},
	{"empty input", "", nil, io.EOF},
	{"cut inside event", "data: 1\n\ndata: {\"a\":", []sseEvent{{data: "1", hasData: true}}, io.ErrUnexpectedEOF},
	{"cut before blank line", "data: 1\n\ndata: 2\n", []sseEvent{{data: "1", hasData: true}}, io.ErrUnexpectedEOF},
	{"cut after cr", "data: 1\r", nil, io.ErrUnexpectedEOF},
	{"trailing comment without newline", "data: 1\n\n: keep-alive", []sseEvent{{data: "1", hasData: true}}, io.EOF},
	{"trailing blank lines cr", "data: 1\r\r\r", []sseEvent{{data: "1", hasData: true}}, io.EOF},
}

func TestSSEFraming(t *testing.T) {
	t.Parallel()
	for _, tt := range framingTests {
		for rname, rd := range readers([]byte(tt.in)) {
			events, err := decodeAll(rd(), 1<<20)
			if err != tt.end {
				t.Errorf("%s/%s: end = %v, want %v", tt.name, rname, err, tt.end)
			}
			if !reflect.DeepEqual(events, tt.want) && !(len(events) == 0 && len(tt.want) == 0) {
				t.Errorf("%s/%s: events = %+v, want %+v", tt.name, rname, events, tt.want)
			}
			ref, refEnd, _, _ := refDecode([]byte(tt.in))
			if !reflect.DeepEqual(events, ref) && !(len(events) == 0 && len(ref) == 0) || refEnd != err {
				t.Errorf("%s/%s: reference decoder disagrees: %+v %v", tt.name, rname, ref, refEnd)
			}
		}
	}
}

func TestSSELargeEvents(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 200<<10) // well over 64 KiB and the read buffer
	in := "data: {\"event\":\"message\",\"answer\":\"" + big + "\"}\n\ndata: 2\n\n"
	for rname, rd := range readers([]byte(in)) {
		if rname == "onebyte" || rname == "chunks" {
			continue // slow for 200 KiB, and covered by the fuzz test
		}
		events, err := decodeAll(rd(), DefaultMaxEventBytes)
		if err != io.EOF || len(events) != 2 || len(events[0].data) != len(big)+31 {
			t.Fatalf("%s: %d events, err %v", rname, len(events), err)
		}
	}

	// Over the limit: one long line, many data lines, or many lines of
	// any other kind (each short), which count toward the limit as well.
	for name, in := range map[string]string{
		"line":           "data: 1\n\ndata: " + strings.Repeat("y", 5000) + "\n\n",
		"lines":          "data: 1\n\n" + strings.Repeat("data: "+strings.Repeat("z", 100)+"\n", 50) + "\n",
		"junk":           "data: 1\n\n:" + strings.Repeat("c", 5000) + "\n",
		"ids":            "data: 1\n\n" + strings.Repeat("id: 1234567\n", 1000) + "\n",
		"comments":       "data: 1\n\n" + strings.Repeat(": keep-alive\n", 1000) + "data: 2\n\n",
		"retries":        "data: 1\n\n" + strings.Repeat("retry: 1000\n", 1000) + "data: 2\n\n",
		"event fields":   "data: 1\n\n" + strings.Repeat("event: message\n", 1000) + "data: 2\n\n",
		"unknown":        "data: 1\n\n" + strings.Repeat("x\n", 5000) + "\n",
		"field and data": "data: 1\n\nevent: message\ndata: " + strings.Repeat("y", 4090) + "\n\n",
	} {
		events, err := decodeAll(strings.NewReader(in), 4096)
		if !errors.Is(err, ErrEventTooLarge) || len(events) != 1 {
			t.Errorf("%s: %d events, err %v; want 1 event and ErrEventTooLarge", name, len(events), err)
		}
		if err != nil && !strings.Contains(err.Error(), "4096") {
			t.Errorf("%s: error %q does not name the limit", name, err)
		}
	}

	// At the limit exactly, and counting restarts with each event.
	for name, in := range map[string]string{
		"data":             "data: " + strings.Repeat("y", 4096) + "\n\n",
		"data lines":       "data: " + strings.Repeat("y", 2047) + "\ndata: " + strings.Repeat("y", 2048) + "\n\n",
		"field and data":   "event: message\ndata: " + strings.Repeat("y", 4096-14) + "\n\n",
		"comment and data": ":" + strings.Repeat("c", 95) + "\ndata: " + strings.Repeat("y", 4000) + "\n\n",
		"many events":      strings.Repeat("id: 1\nevent: message\n: hi\ndata: "+strings.Repeat("y", 4000)+"\n\n", 100),
		"keep-alives":      strings.Repeat(": keep-alive\n\n", 1000) + "data: 1\n\n",
	} {
		if events, err := decodeAll(strings.NewReader(in), 4096); err != io.EOF || len(events) == 0 {
			t.Errorf("%s: %d events, err %v", name, len(events), err)
		}
	}
}

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

// pacedReader hands out its chunks one per read, as a connection does
// when the reader keeps up with the server: a read never returns more than
// what one write of the server sent.
type pacedReader struct{ chunks [][]byte }

func (r *pacedReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// TestSSEBufferSize checks the read buffer's size: small while the reader
// keeps up with the server, read-ahead sized while events wait to be read,
// back down once a long event has passed.
func TestSSEBufferSize(t *testing.T) {
	t.Parallel()
	small := "data: {\"event\":\"message\",\"answer\":\"hi\"}\n\n"
	long := "data: {\"answer\":\"" + strings.Repeat("y", 100<<10) + "\"}\n\n"
	readAll := func(d *sseDecoder, want int, during func(i int)) {
		t.Helper()
		for i := range want {
			if _, err := d.next(); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if during != nil {
				during(i)
			}
		}
	}

	// Waiting events: reads fill the buffer, which grows to read ahead; a
	// long line grows it further, and it comes back after the line.
	in := strings.Repeat(small, 5000) + long + strings.Repeat(small, 5000)
	d := newSSEDecoder(strings.NewReader(in), DefaultMaxEventBytes)
	largest := 0
	readAll(d, 10001, func(i int) {
		largest = max(largest, len(d.lr.buf))
		if i == 4999 && len(d.lr.buf) != readAheadSize {
			t.Errorf("waiting events: buffer of %d bytes, want %d", len(d.lr.buf), readAheadSize)
		}
	})
	if largest <= len(long) || len(d.lr.buf) != readAheadSize {
		t.Errorf("after the long event: buffer of %d bytes (largest %d), want %d", len(d.lr.buf), largest, readAheadSize)
	}

	// A reader that keeps up: one event per read. The buffer stays small,
	// grows for the long event only, and is small again after it.
	var chunks [][]byte
	for range 100 {
		chunks = append(chunks, []byte(small))
	}
	chunks = append(chunks, []byte(long))
	for range 100 {
		chunks = append(chunks, []byte(small))
	}
	d = newSSEDecoder(&pacedReader{chunks: chunks}, DefaultMaxEventBytes)
	largest = 0
	readAll(d, 201, func(i int) {
		if i != 100 && len(d.lr.buf) != minBufSize {
			t.Fatalf("event %d: buffer of %d bytes, want %d", i, len(d.lr.buf), minBufSize)
		}
		largest = max(largest, len(d.lr.buf))
	})
	if largest <= len(long) {
		t.Errorf("the buffer never held the long event: largest %d", largest)
	}

	// A long multi-line event does not leave its join buffer behind.
	multi := "data: " + strings.Repeat("m", 10<<10) + "\ndata: x\n\n"
	d = newSSEDecoder(strings.NewReader(multi+small), DefaultMaxEventBytes)
	readAll(d, 2, nil)
	if cap(d.multi) > minBufSize {
		t.Errorf("join buffer of %d bytes left after a long multi-line event", cap(d.multi))
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

// FuzzSSE compares the decoder with the reference reading of the rules,
// over inputs cut into reads of varying sizes, and runs each input through
// a Stream to check that every event can be read without a panic and that
// the "message" fast path agrees with encoding/json.
func FuzzSSE(f *testing.F) {
	for _, tt := range framingTests {
		f.Add([]byte(tt.in), uint32(1))
	}
	for _, name := range []string{"success.sse", "failure.sse", "paused.sse", "iteration.sse"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "streams", name)); err == nil {
			f.Add(b, uint32(7))
		}
	}
	f.Add([]byte("data: {\"event\":\"message\",\"answer\":\"\\ud83d\\ude00 \\u00e9\\n\",\"created_at\":1}\r\n\r\n"), uint32(3))
	f.Add([]byte("event: ping\r\rdata: {\"event\":\"error\",\"status\":400,\"code\":\"x\",\"message\":\"y\"}\r\r"), uint32(5))
	f.Add([]byte("\xEF\xBB\xBF: hi\rdata:{\"Answer\":\"a\",\"event\":\"message\"}\n\n"), uint32(9))
	f.Fuzz(func(t *testing.T, in []byte, seed uint32) {
		want, wantEnd, maxEvent, maxLine := refDecode(in)

		// Through chunked reads, with room for everything.
		got, err := decodeAll(&chunkReader{b: in, seed: seed}, len(in)+1)
		if err != wantEnd {
			t.Fatalf("end = %v, reference %v", err, wantEnd)
		}
		if !sameEvents(got, want) {
			t.Fatalf("events\n%+v\nreference\n%+v", got, want)
		}

		// With a small limit: the same events, or a prefix and ErrEventTooLarge.
		const small = 64
		got, err = decodeAll(bytes.NewReader(in), small)
		if errors.Is(err, ErrEventTooLarge) {
			if maxEvent <= small && maxLine <= small+lineSlack {
				t.Fatalf("ErrEventTooLarge, but the largest event is %d bytes and the longest line %d", maxEvent, maxLine)
			}
			if len(got) > len(want) || !sameEvents(got, want[:len(got)]) {
				t.Fatalf("events before ErrEventTooLarge are not a prefix of the reference")
			}
		} else {
			if maxEvent > small {
				t.Fatalf("no error with an event of %d bytes over a limit of %d", maxEvent, small)
			}
			if err != wantEnd || !sameEvents(got, want) {
				t.Fatalf("with a small limit: %v %+v, reference %v %+v", err, got, wantEnd, want)
			}
		}

		// Through a Stream.
		ctx, cancel := context.WithCancelCause(context.Background())
		s := newStream(ctx, cancel, io.NopCloser(&chunkReader{b: in, seed: seed ^ 0x5555}), 1<<16)
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

func sameEvents(a, b []sseEvent) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// TestSSEReadError: a read error is reported as it is, after the events
// that arrived complete before it.
func TestSSEReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset by peer")
	for _, in := range []string{"data: {}\n\ndata: {}\n\n", "data: {}\n\ndata: {}\n\ndata: {\"par"} {
		r := io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom))
		events, err := decodeAll(r, 1<<10)
		if err != boom || len(events) != 2 {
			t.Errorf("%q: %d events, %v; want 2 and the read error", in, len(events), err)
		}
		s := streamFromBytes(nil)
		s.dec = newSSEDecoder(io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom)), 1<<10)
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
// can honour, from 1 byte to maxEventBytesLimit, and streams read with the
// largest one; a size beyond it (math.MaxInt overflowed the line limit and
// failed every stream) is refused when the client is made.
func TestMaxEventBytesOption(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, -1, maxEventBytesLimit + 1, math.MaxInt, math.MinInt} {
		if _, err := NewClient(testKey, WithMaxEventBytes(n)); err == nil || !strings.Contains(err.Error(), "WithMaxEventBytes") {
			t.Errorf("WithMaxEventBytes(%d): err = %v, want an error naming the option", n, err)
		}
	}
	success, err := os.ReadFile(filepath.Join("testdata", "streams", "success.sse"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{64 << 10, maxEventBytesLimit} {
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
