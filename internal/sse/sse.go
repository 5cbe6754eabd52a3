// Package sse decodes server-sent event streams, following the event-stream
// parsing rules of the WHATWG HTML standard, with a bound on the size of
// each event.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The decoder follows the event-stream parsing rules of the WHATWG HTML
// standard (section "Server-sent events"), for everything a server or a
// proxy may send:
//
//   - lines end with CRLF, LF or a lone CR;
//   - one leading UTF-8 byte-order mark is dropped;
//   - "field: value" with one optional space after the colon; a line without
//     a colon is a field with an empty value;
//   - lines starting with a colon are comments;
//   - "data" lines of one event are joined with "\n";
//   - "id" gives the event its id (a value holding a NUL is ignored); the
//     stream uses ids, when a server sends them, to drop events a
//     reattach replays and to send Last-Event-ID; "retry" and unknown
//     fields are ignored; all of them count toward the size of their
//     event, as comments do;
//   - a blank line ends an event; an event without a data line is not
//     dispatched, except Dify's keep-alive "event: ping";
//   - at the end of the input, an unfinished event is discarded (this
//     decoder reports it as io.ErrUnexpectedEOF).
//
// Lines are cut out of one buffer without copying; the only copy per event is
// its data, made once into a string. The buffer starts small, because an
// open stream spends its life waiting for the next event and a process may
// hold thousands of them; it grows while reads fill it (the server is ahead
// of the reader) or a line does not fit, and goes back to its small size
// once the reader has caught up.

// ErrEventTooLarge is wrapped by the error a Decoder returns for an event
// (or a single line) larger than its limit.
var ErrEventTooLarge = errors.New("chatflow: server-sent event exceeds the size limit")

const (
	// minBufSize is the size of a stream's read buffer while the stream
	// keeps up with the server: the usual size.
	minBufSize = 2 << 10
	// readAheadSize is the size the buffer grows to while reads fill it
	// whole, which they do when events are waiting to be read.
	readAheadSize = 32 << 10
	// lineSlack is what a line may hold beyond the data limit: the field
	// name, the colon and the space of "data: ".
	lineSlack = 16
)

// MaxEventBytesLimit is the largest event size limit NewDecoder accepts.
const MaxEventBytesLimit = 1 << 30

var utf8BOM = []byte("\xEF\xBB\xBF")

// errNoEOL is returned by readLine with the last, unterminated line of the
// input.
var errNoEOL = errors.New("unterminated line at end of input")

// lineReader splits its input into lines ended by CRLF, LF or CR. A line is
// returned as soon as its terminator has been read, never later.
type lineReader struct {
	rd     io.Reader
	buf    []byte
	r, w   int  // unread bytes are buf[r:w]
	scan   int  // buf[r:r+scan] is known to hold no line end
	maxLen int  // longest line accepted
	skipLF bool // the last line ended with CR: drop an LF right after it
	bom    bool // a byte-order mark may still come
	err    error
	empty  int  // reads in a row that returned nothing
	full   bool // the last read filled the buffer: more is waiting
}

func newLineReader(rd io.Reader, maxLen int) lineReader {
	return lineReader{rd: rd, maxLen: maxLen, bom: true}
}

// readLine returns the next line without its terminator. The slice is valid
// until the next call. At the end of the input it returns io.EOF, or the
// unterminated last line with errNoEOL; after the lines that arrived before
// a read error, it returns that error.
func (l *lineReader) readLine() ([]byte, error) {
	for {
		if l.skipLF && l.r < l.w {
			if l.buf[l.r] == '\n' {
				l.r++
			}
			l.skipLF = false
		}
		if l.bom && l.r < l.w {
			avail := l.buf[l.r:l.w]
			if len(avail) < len(utf8BOM) && l.err == nil && bytes.HasPrefix(utf8BOM, avail) {
				goto fill // not enough bytes to tell yet
			}
			if bytes.HasPrefix(avail, utf8BOM) {
				l.r += len(utf8BOM)
			}
			l.bom = false
		}
		if l.r+l.scan < l.w {
			start := l.r + l.scan
			b := l.buf[start:l.w]
			i := bytes.IndexByte(b, '\n')
			seg := b
			if i >= 0 {
				seg = b[:i]
			}
			if j := bytes.IndexByte(seg, '\r'); j >= 0 {
				line := l.buf[l.r : start+j]
				l.r = start + j + 1
				l.scan = 0
				l.skipLF = true
				return line, nil
			}
			if i >= 0 {
				line := l.buf[l.r : start+i]
				l.r = start + i + 1
				l.scan = 0
				return line, nil
			}
			l.scan = l.w - l.r
		}
		if l.w-l.r > l.maxLen {
			return nil, l.tooLarge()
		}
		if l.err != nil {
			if l.err == io.EOF && l.r < l.w {
				line := l.buf[l.r:l.w]
				l.r, l.scan = l.w, 0
				return line, errNoEOL
			}
			if l.err == io.EOF && len(l.buf) == readAheadSize {
				// Nothing more will be read: the buffer can serve
				// another stream.
				putReadAhead(l.buf)
				l.buf, l.r, l.w, l.scan = nil, 0, 0, 0
			}
			return nil, l.err
		}
	fill:
		l.fill()
	}
}

// readAheadPool holds the read-ahead buffers that streams no longer use.
var readAheadPool sync.Pool

// getReadAhead returns a buffer of readAheadSize bytes.
func getReadAhead() []byte {
	if p, ok := readAheadPool.Get().(*[readAheadSize]byte); ok {
		return p[:]
	}
	return make([]byte, readAheadSize)
}

// putReadAhead gives b back for another stream when it is a read-ahead
// buffer; the caller must hold no slice of it.
func putReadAhead(b []byte) {
	if len(b) == readAheadSize && cap(b) == readAheadSize {
		readAheadPool.Put((*[readAheadSize]byte)(b))
	}
}

func (l *lineReader) tooLarge() error {
	return fmt.Errorf("%w (a line is longer than %d bytes; see WithMaxEventBytes)", ErrEventTooLarge, l.maxLen-lineSlack)
}

// fill reads once into the buffer, after moving the unread bytes to its
// start. It grows the buffer (up to the longest line) when it is full, and
// up to readAheadSize when the last read filled it; it goes back to
// minBufSize when the reader has caught up, and to readAheadSize after a
// long line, as soon as the unread bytes fit.
func (l *lineReader) fill() {
	unread := l.w - l.r
	target := minBufSize
	if l.full {
		target = readAheadSize
	}
	switch {
	case l.buf == nil:
		l.buf = make([]byte, min(minBufSize, l.maxLen+2))
	case len(l.buf) > target && unread <= target/2:
		nb := make([]byte, target)
		copy(nb, l.buf[l.r:l.w])
		putReadAhead(l.buf)
		l.buf = nb
		l.r, l.w = 0, unread
	case l.r > 0:
		copy(l.buf, l.buf[l.r:l.w])
		l.r, l.w = 0, unread
	}
	switch {
	case l.full && len(l.buf) < readAheadSize && l.maxLen+2 >= readAheadSize:
		// The server is ahead: read ahead at once, in a buffer that
		// the streams of the process share over time.
		nb := getReadAhead()
		copy(nb, l.buf[:l.w])
		l.buf = nb
	case l.w == len(l.buf) || (l.full && len(l.buf) < readAheadSize):
		if size := min(2*len(l.buf), l.maxLen+2); size > len(l.buf) {
			nb := make([]byte, size)
			copy(nb, l.buf[:l.w])
			l.buf = nb
		}
	}
	free := len(l.buf) - l.w
	n, err := l.rd.Read(l.buf[l.w:])
	if n < 0 || n > free {
		l.err = errors.New("chatflow: stream reader returned an invalid count")
		return
	}
	l.w += n
	l.full = n == free
	if err != nil {
		l.err = err
		return
	}
	if n == 0 {
		if l.empty++; l.empty >= 100 {
			l.err = io.ErrNoProgress
		}
		return
	}
	l.empty = 0
}

// Event is one dispatched event of a stream, before any decoding of its data.
type Event struct {
	Type    string // the "event" field, "" when absent
	ID      string // the "id" field, "" when absent
	Data    string // the data lines joined with "\n"
	HasData bool   // at least one data line was seen
}

// keepAlive is the type of the keep-alive event Dify sends without data,
// which is dispatched all the same.
const keepAlive = "ping"

// Decoder turns the lines of a stream into events.
//
// The size of an event, which max bounds, is its data (the data lines'
// values joined with "\n") plus every other line of the event, counted
// whole: event, id and retry fields, unknown fields and comments, including
// those before its first field. Line ends are not counted.
type Decoder struct {
	lr    lineReader
	max   int               // largest event, in bytes
	multi []byte            // the data of an event with more than one data line
	names map[string]string // the canonical copy of each known event type
}

// NewDecoder returns a decoder of the events of rd, each at most
// maxEventBytes, which must be from 1 to MaxEventBytesLimit. An event type
// that is a key of names is returned as its value, so that the known types
// cost no allocation; names may be nil, and is only read.
func NewDecoder(rd io.Reader, maxEventBytes int, names map[string]string) *Decoder {
	return &Decoder{lr: newLineReader(rd, maxEventBytes+lineSlack), max: maxEventBytes, names: names}
}

// Forget drops the read error err if the decoder holds it (it returned
// it, and returns it again otherwise), so that reading can go on when the
// reader recovers from it.
func (d *Decoder) Forget(err error) {
	if d.lr.err == err {
		d.lr.err = nil
	}
}

func (d *Decoder) tooLarge() error {
	return fmt.Errorf("%w (an event of more than %d bytes; see WithMaxEventBytes)", ErrEventTooLarge, d.max)
}

// Next returns the next event. At the end of the input it returns io.EOF,
// or io.ErrUnexpectedEOF when the input stops inside an event.
func (d *Decoder) Next() (Event, error) {
	var ev Event
	lines := 0       // data lines of this event
	pending := false // a field of this event has been read
	size := 0        // the size of this event so far
	for {
		line, err := d.lr.readLine()
		if err != nil {
			if err == errNoEOL {
				if pending || len(line) == 0 || line[0] != ':' {
					return Event{}, io.ErrUnexpectedEOF
				}
				return Event{}, io.EOF
			}
			if err == io.EOF && pending {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if ev.HasData {
				if lines > 1 {
					ev.Data = string(d.multi)
					if cap(d.multi) > minBufSize {
						d.multi = nil
					}
				}
				return ev, nil
			}
			if ev.Type == keepAlive {
				return ev, nil
			}
			ev, lines, pending, size = Event{}, 0, false, 0
			continue
		}
		if line[0] == ':' {
			if size += len(line); size > d.max {
				return Event{}, d.tooLarge()
			}
			continue
		}
		pending = true
		field, value := line, line[len(line):]
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		if string(field) != "data" {
			if size += len(line); size > d.max {
				return Event{}, d.tooLarge()
			}
		}
		switch string(field) {
		case "data":
			if lines > 0 {
				size++ // the "\n" that joins the lines
			}
			if size += len(value); size > d.max {
				return Event{}, d.tooLarge()
			}
			lines++
			switch lines {
			case 1:
				ev.Data, ev.HasData = string(value), true
			case 2:
				d.multi = append(d.multi[:0], ev.Data...)
				d.multi = append(d.multi, '\n')
				d.multi = append(d.multi, value...)
			default:
				d.multi = append(d.multi, '\n')
				d.multi = append(d.multi, value...)
			}
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.ID = string(value)
			}
		case "event":
			if s, ok := d.names[string(value)]; ok {
				ev.Type = s
			} else {
				ev.Type = string(value)
			}
		}
	}
}
