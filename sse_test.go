package chatflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// refDecode is a plain reading of the WHATWG event-stream rules over a
// whole input, the reference the decoder is compared with. end is io.EOF or
// io.ErrUnexpectedEOF (cut inside an event). maxData is the largest data
// buffer reached (pending events included), maxLine the longest line.
func refDecode(in []byte) (events []sseEvent, end error, maxData, maxLine int) {
	s := strings.TrimPrefix(string(in), "\xEF\xBB\xBF")
	var typ string
	var data strings.Builder
	pending := false
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			maxLine = max(maxLine, len(s))
			if pending || (s != "" && s[0] != ':') {
				return events, io.ErrUnexpectedEOF, maxData, maxLine
			}
			return events, io.EOF, maxData, maxLine
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
				events = append(events, sseEvent{typ: typ, data: d[:len(d)-1], hasData: true})
			} else if typ == "ping" {
				events = append(events, sseEvent{typ: typ})
			}
			typ, pending = "", false
			data.Reset()
			continue
		case line[0] == ':':
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
			maxData = max(maxData, data.Len()-1)
		case "event":
			typ = value
		}
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

	// Over the limit: one long line, or many data lines.
	for name, in := range map[string]string{
		"line":  "data: 1\n\ndata: " + strings.Repeat("y", 5000) + "\n\n",
		"lines": "data: 1\n\n" + strings.Repeat("data: "+strings.Repeat("z", 100)+"\n", 50) + "\n",
		"junk":  "data: 1\n\n:" + strings.Repeat("c", 5000) + "\n",
	} {
		events, err := decodeAll(strings.NewReader(in), 4096)
		if !errors.Is(err, ErrEventTooLarge) || len(events) != 1 {
			t.Errorf("%s: %d events, err %v; want 1 event and ErrEventTooLarge", name, len(events), err)
		}
		if err != nil && !strings.Contains(err.Error(), "4096") {
			t.Errorf("%s: error %q does not name the limit", name, err)
		}
	}

	// At the limit exactly.
	in = "data: " + strings.Repeat("y", 4096) + "\n\n"
	if events, err := decodeAll(strings.NewReader(in), 4096); err != io.EOF || len(events) != 1 {
		t.Errorf("event of exactly the limit: %d events, err %v", len(events), err)
	}
}

// TestSSEBufferShrinks checks that a long line does not leave a large
// buffer behind for the rest of the stream.
func TestSSEBufferShrinks(t *testing.T) {
	t.Parallel()
	in := "data: " + strings.Repeat("y", 1<<20) + "\n\n" + strings.Repeat("data: 1\n\n", 20000)
	d := newSSEDecoder(strings.NewReader(in), DefaultMaxEventBytes)
	n := 0
	for {
		_, err := d.next()
		if err != nil {
			break
		}
		n++
	}
	if n != 20001 {
		t.Fatalf("%d events", n)
	}
	if len(d.lr.buf) > lineBufSize {
		t.Errorf("buffer is %d bytes after the long line, want %d", len(d.lr.buf), lineBufSize)
	}
}

// captures returns the real streams of ../shared/upstream/captures, or
// skips the test when they are not there.
func captures(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "shared", "upstream", "captures", "*.sse"))
	if len(files) == 0 {
		t.Skip("no captures in ../shared/upstream/captures")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
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
			s := newStream(ctx, cancel, io.NopCloser(rd()), DefaultMaxEventBytes, 0)
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
		want, wantEnd, maxData, maxLine := refDecode(in)

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
			if maxData <= small && maxLine <= small+lineSlack {
				t.Fatalf("ErrEventTooLarge, but the largest data is %d and the longest line %d", maxData, maxLine)
			}
			if len(got) > len(want) || !sameEvents(got, want[:len(got)]) {
				t.Fatalf("events before ErrEventTooLarge are not a prefix of the reference")
			}
		} else {
			if maxData > small {
				t.Fatalf("no error with %d bytes of data over a limit of %d", maxData, small)
			}
			if err != wantEnd || !sameEvents(got, want) {
				t.Fatalf("with a small limit: %v %+v, reference %v %+v", err, got, wantEnd, want)
			}
		}

		// Through a Stream.
		ctx, cancel := context.WithCancelCause(context.Background())
		s := newStream(ctx, cancel, io.NopCloser(&chunkReader{b: in, seed: seed ^ 0x5555}), 1<<16, 0)
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
