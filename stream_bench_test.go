package chatflow

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The benchmarks decode a realistic chatflow stream from memory: the
// workflow and node events of testdata/streams/success.sse (nested data),
// then 100,000 message events of a few bytes of answer each with a ping
// every 1,000, then the LLM's node_finished, message_end and
// workflow_finished. "typed" is this package (every event decoded into its
// generated payload type), "baseline" the simplest correct decoder:
// bufio.Reader lines and json.Unmarshal into a small struct.
//
//	go test -run='^$' -bench=Stream -benchmem -count=5 .

const benchMessages = 100_000

var benchStreams = sync.OnceValues(func() (full, messages []byte) {
	src, err := os.ReadFile(filepath.Join("testdata", "streams", "success.sse"))
	if err != nil {
		panic(err)
	}
	var head, tail []string
	inTail := false
	for _, ev := range strings.SplitAfter(string(src), "\n\n") {
		switch {
		case strings.Contains(ev, `"event":"message"`):
			inTail = true // the answer pieces are replaced by ours
		case !inTail:
			head = append(head, ev)
		default:
			tail = append(tail, ev)
		}
	}
	answers := []string{"The", " answer", " is", " 42", ".", " 你好", " —", " \\\"ok\\\"", "\\n", " 👋"}
	var m bytes.Buffer
	for i := range benchMessages {
		if i%1000 == 999 {
			m.WriteString("event: ping\n\n")
		}
		fmt.Fprintf(&m, `data: {"event":"message","conversation_id":"3f6a1c52-8e0b-4d7e-9a43-1b2c5d7e9f10","message_id":"b7d2e4a1-6c3f-4e88-9d01-2a4b6c8e0f12","created_at":1767340801,"task_id":"e1c9a7b3-5d2f-4a60-8b14-7c3e9f1a2d45","id":"b7d2e4a1-6c3f-4e88-9d01-2a4b6c8e0f12","answer":"%s","from_variable_selector":["1767340000003","text"]}`+"\n\n", answers[i%len(answers)])
	}
	messages = m.Bytes()
	full = []byte(strings.Join(head, "") + m.String() + strings.Join(tail, ""))
	return full, messages
})

// decodeTyped reads a stream with this package, decoding every event into
// its payload type, and returns the number of events.
func decodeTyped(data []byte) (int, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	return decodeEvents(newStream(ctx, cancel, io.NopCloser(bytes.NewReader(data)), DefaultMaxEventBytes))
}

// decodeEvents reads s, decoding every event into its payload type, and
// returns the number of events.
func decodeEvents(s *Stream) (int, error) {
	n := 0
	for ev, err := range s.Events() {
		if err != nil {
			return n, err
		}
		n++
		if ev.Name() == EventMessage {
			m, err := ev.Message()
			if err != nil || m.Answer == "" {
				return n, fmt.Errorf("message: %v", err)
			}
			continue
		}
		if _, err := ev.Payload(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// decodeBaseline is the simplest correct decoder of Dify's streams.
func decodeBaseline(data []byte) (int, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	var buf []byte
	hasData := false
	typ := ""
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			return n, nil
		}
		if err != nil && err != io.EOF {
			return n, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			if hasData {
				var ev baselineEvent
				if err := json.Unmarshal(buf, &ev); err != nil {
					return n, err
				}
				n++
			} else if typ == "ping" {
				n++
			}
			buf, hasData, typ = buf[:0], false, ""
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if hasData {
				buf = append(buf, '\n')
			}
			buf = append(buf, value...)
			hasData = true
		case "event":
			typ = string(value)
		}
	}
}

func benchDecode(b *testing.B, data []byte, decode func([]byte) (int, error)) {
	events, err := decode(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	loops := 0
	for b.Loop() {
		if _, err := decode(data); err != nil {
			b.Fatal(err)
		}
		loops++
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	total := float64(loops) * float64(events)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/event")
}

// BenchmarkStream decodes the realistic stream.
func BenchmarkStream(b *testing.B) {
	full, _ := benchStreams()
	b.Run("typed", func(b *testing.B) { benchDecode(b, full, decodeTyped) })
	b.Run("baseline", func(b *testing.B) { benchDecode(b, full, decodeBaseline) })
}

// BenchmarkStreamMessages decodes the message events (and pings) alone,
// to compare allocations per message event.
func BenchmarkStreamMessages(b *testing.B) {
	_, messages := benchStreams()
	b.Run("typed", func(b *testing.B) { benchDecode(b, messages, decodeTypedNoEnd) })
	b.Run("baseline", func(b *testing.B) { benchDecode(b, messages, decodeBaseline) })
}

// decodeTypedNoEnd is decodeTyped for a stream without terminal event.
func decodeTypedNoEnd(data []byte) (int, error) {
	n, err := decodeTyped(data)
	if errors.Is(err, ErrIncompleteStream) {
		err = nil
	}
	return n, err
}

// TestBenchStreamsAgree checks that both decoders of the benchmark see the
// same events.
func TestBenchStreamsAgree(t *testing.T) {
	t.Parallel()
	full, messages := benchStreams()
	for name, data := range map[string][]byte{"full": full, "messages": messages} {
		typed, err := decodeTypedNoEnd(data)
		if err != nil {
			t.Fatal(err)
		}
		base, err := decodeBaseline(data)
		if err != nil {
			t.Fatal(err)
		}
		if typed != base || typed < benchMessages {
			t.Errorf("%s: typed %d events, baseline %d", name, typed, base)
		}
	}
}
