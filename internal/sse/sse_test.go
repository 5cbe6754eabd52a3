package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/difykit/chatflow/internal/testio"
)

// defaultMaxEventBytes is the library's default limit, used where a test
// needs a realistic one.
const defaultMaxEventBytes = 16 << 20

// refDecode is a plain reading of the WHATWG event-stream rules over a
// whole input, the reference the decoder is compared with. end is io.EOF or
// io.ErrUnexpectedEOF (cut inside an event). maxEvent is the largest size
// an event reached (pending events included, the unterminated last line
// not): its data joined plus its other lines whole (comments before it
// too), line ends not counted. maxLine is the longest line.
func refDecode(in []byte) (events []Event, end error, maxEvent, maxLine int) {
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
				events = append(events, Event{Type: typ, ID: id, Data: d[:len(d)-1], HasData: true})
			} else if typ == "ping" {
				events = append(events, Event{Type: typ, ID: id})
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
func decodeAll(r io.Reader, maxEventBytes int) ([]Event, error) {
	d := NewDecoder(r, maxEventBytes, nil)
	var events []Event
	for {
		ev, err := d.Next()
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
}

// readers returns the ways a test feeds an input to the decoder.
func readers(in []byte) map[string]func() io.Reader { return testio.Readers(in) }

var framingTests = []struct {
	name string
	in   string
	want []Event
	end  error
}{
	{"lf", "data: {\"a\":1}\n\n", []Event{{Data: `{"a":1}`, HasData: true}}, io.EOF},
	{"crlf", "data: {\"a\":1}\r\n\r\ndata: 2\r\n\r\n", []Event{{Data: `{"a":1}`, HasData: true}, {Data: "2", HasData: true}}, io.EOF},
	{"cr", "data: 1\r\rdata: 2\r\r", []Event{{Data: "1", HasData: true}, {Data: "2", HasData: true}}, io.EOF},
	{"mixed", "data: 1\r\n\ndata: 2\r\rdata: 3\n\r\n", []Event{{Data: "1", HasData: true}, {Data: "2", HasData: true}, {Data: "3", HasData: true}}, io.EOF},
	{"cr then lf is one line end", "data: 1\r\n\r\n", []Event{{Data: "1", HasData: true}}, io.EOF},
	{"lf cr is two line ends", "data: 1\n\r", []Event{{Data: "1", HasData: true}}, io.EOF},
	{"no space", "data:x\n\n", []Event{{Data: "x", HasData: true}}, io.EOF},
	{"two spaces keep one", "data:  x\n\n", []Event{{Data: " x", HasData: true}}, io.EOF},
	{"tab is kept", "data:\tx\n\n", []Event{{Data: "\tx", HasData: true}}, io.EOF},
	{"bom", "\xEF\xBB\xBFdata: x\n\n", []Event{{Data: "x", HasData: true}}, io.EOF},
	// A second byte-order mark is part of a field name.
	{"only one bom", "\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n\xEF\xBB\xBFdata: y\n\n", nil, io.EOF},
	{"comments", ": hello\n:\ndata: x\n: between\n\n: bye\n", []Event{{Data: "x", HasData: true}}, io.EOF},
	{"multi-line data", "data: a\ndata:b\ndata\ndata: c\n\n", []Event{{Data: "a\nb\n\nc", HasData: true}}, io.EOF},
	{"empty data", "data\n\ndata:\n\n", []Event{{HasData: true}, {HasData: true}}, io.EOF},
	{"ignored fields", "id: 7\nretry: 100\nfoo: bar\nid\ndata: x\nretry\n\n", []Event{{Data: "x", HasData: true}}, io.EOF},
	{"event type", "event: message\ndata: x\n\n", []Event{{Type: "message", Data: "x", HasData: true}}, io.EOF},
	{"ping without data", "event: ping\n\ndata: x\n\n", []Event{{Type: "ping"}, {Data: "x", HasData: true}}, io.EOF},
	{"other event without data is dropped", "event: foo\n\nid: 1\n\ndata: x\n\n", []Event{{Data: "x", HasData: true}}, io.EOF},
	{"type resets after dispatch", "event: foo\ndata: 1\n\ndata: 2\n\n", []Event{{Type: "foo", Data: "1", HasData: true}, {Data: "2", HasData: true}}, io.EOF},
	{"extra blank lines", "\n\n\ndata: 1\n\n\n\ndata: 2\n\n\n", []Event{{Data: "1", HasData: true}, {Data: "2", HasData: true}}, io.EOF},
	{"colon in value", "data: {\"a\":\"b:c\"}\n\n", []Event{{Data: `{"a":"b:c"}`, HasData: true}}, io.EOF},
	{"empty input", "", nil, io.EOF},
	{"cut inside event", "data: 1\n\ndata: {\"a\":", []Event{{Data: "1", HasData: true}}, io.ErrUnexpectedEOF},
	{"cut before blank line", "data: 1\n\ndata: 2\n", []Event{{Data: "1", HasData: true}}, io.ErrUnexpectedEOF},
	{"cut after cr", "data: 1\r", nil, io.ErrUnexpectedEOF},
	{"trailing comment without newline", "data: 1\n\n: keep-alive", []Event{{Data: "1", HasData: true}}, io.EOF},
	{"trailing blank lines cr", "data: 1\r\r\r", []Event{{Data: "1", HasData: true}}, io.EOF},
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
		events, err := decodeAll(rd(), defaultMaxEventBytes)
		if err != io.EOF || len(events) != 2 || len(events[0].Data) != len(big)+31 {
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
	readAll := func(d *Decoder, want int, during func(i int)) {
		t.Helper()
		for i := range want {
			if _, err := d.Next(); err != nil {
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
	d := NewDecoder(strings.NewReader(in), defaultMaxEventBytes, nil)
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
	d = NewDecoder(&pacedReader{chunks: chunks}, defaultMaxEventBytes, nil)
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
	d = NewDecoder(strings.NewReader(multi+small), defaultMaxEventBytes, nil)
	readAll(d, 2, nil)
	if cap(d.multi) > minBufSize {
		t.Errorf("join buffer of %d bytes left after a long multi-line event", cap(d.multi))
	}
}

// FuzzSSE compares the decoder with the reference reading of the rules,
// over inputs cut into reads of varying sizes.
func FuzzSSE(f *testing.F) {
	for _, tt := range framingTests {
		f.Add([]byte(tt.in), uint32(1))
	}
	for _, name := range []string{"success.sse", "failure.sse", "paused.sse", "iteration.sse"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "streams", name)); err == nil {
			f.Add(b, uint32(7))
		}
	}
	f.Add([]byte("data: {\"event\":\"message\",\"answer\":\"\\ud83d\\ude00 \\u00e9\\n\",\"created_at\":1}\r\n\r\n"), uint32(3))
	f.Add([]byte("event: ping\r\rdata: {\"event\":\"error\",\"status\":400,\"code\":\"x\",\"message\":\"y\"}\r\r"), uint32(5))
	f.Add([]byte("\xEF\xBB\xBF: hi\rdata:{\"Answer\":\"a\",\"event\":\"message\"}\n\n"), uint32(9))
	f.Fuzz(func(t *testing.T, in []byte, seed uint32) {
		want, wantEnd, maxEvent, maxLine := refDecode(in)

		// Through chunked reads, with room for everything.
		got, err := decodeAll(&testio.ChunkReader{B: in, Seed: seed}, len(in)+1)
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
	})
}

func sameEvents(a, b []Event) bool {
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
	}
}

// TestSSEReadAheadBuffersShared reads streams whose reads fill the buffer
// (so each takes a shared read-ahead buffer) in interleaved steps, many
// of them ending (and giving their buffer back) while others go on: every
// event of every stream must come out intact.
func TestSSEReadAheadBuffersShared(t *testing.T) {
	t.Parallel()
	stream := func(k int) (string, []string) {
		var b strings.Builder
		var want []string
		for i := range 300 + 40*k {
			d := fmt.Sprintf(`{"stream":%d,"i":%d,"pad":"%s"}`, k, i, strings.Repeat(string(rune('a'+(k+i)%26)), (i*37+k)%700))
			want = append(want, d)
			b.WriteString("data: " + d + "\n\n")
		}
		return b.String(), want
	}
	type reading struct {
		d    *Decoder
		want []string
		got  int
	}
	var rs []*reading
	for k := range 8 {
		in, want := stream(k)
		rs = append(rs, &reading{d: NewDecoder(strings.NewReader(in), defaultMaxEventBytes, nil), want: want})
	}
	for open := len(rs); open > 0; {
		open = 0
		for k, r := range rs {
			for step := 0; step < 7+k && r.got <= len(r.want); step++ {
				ev, err := r.d.Next()
				if r.got == len(r.want) {
					if err != io.EOF {
						t.Fatalf("stream %d: after the last event: %v, %v; want io.EOF", k, ev, err)
					}
					r.got++
					break
				}
				if err != nil || ev.Data != r.want[r.got] {
					t.Fatalf("stream %d, event %d: %q, %v; want %q", k, r.got, ev.Data, err, r.want[r.got])
				}
				r.got++
			}
			if r.got <= len(r.want) {
				open++
			}
		}
	}
	for k, r := range rs {
		if len(r.d.lr.buf) >= readAheadSize {
			t.Errorf("stream %d kept its read-ahead buffer (%d bytes) after its end", k, len(r.d.lr.buf))
		}
	}
}
