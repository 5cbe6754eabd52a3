package chatflow

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// The heap benchmark measures what an open stream costs while it is being
// read and waits for its next event: 1,000 streams over loopback, each
// past its first two events, then the live heap (after a garbage
// collection) is divided by the number of streams. The server is a raw
// listener that keeps next to nothing per connection, so that the figures
// are the client's. "typed" is Client.StreamMessage read with Events,
// "baseline" the naive decoder of decodeBaseline reading the same reply
// (net/http, a bufio.Reader over the body, json.Unmarshal per event).
// Goroutine stacks are not heap and are not counted.
//
//	go test -run='^$' -bench=OpenStreamHeap -benchtime=5x .
//
// It reports the heap per stream of each contender (the smallest of the
// runs) and their ratio.

const heapStreams = 1000

// heapStreamHead is what the server sends before it goes quiet: a
// workflow_started event and one message event, as Dify does.
var heapStreamHead = []byte(`event: message
data: {"event":"workflow_started","task_id":"e1c9a7b3-5d2f-4a60-8b14-7c3e9f1a2d45","workflow_run_id":"4f1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d","data":{"id":"4f1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d","workflow_id":"9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d","created_at":1767340800}}

data: {"event":"message","conversation_id":"3f6a1c52-8e0b-4d7e-9a43-1b2c5d7e9f10","message_id":"b7d2e4a1-6c3f-4e88-9d01-2a4b6c8e0f12","created_at":1767340801,"task_id":"e1c9a7b3-5d2f-4a60-8b14-7c3e9f1a2d45","id":"b7d2e4a1-6c3f-4e88-9d01-2a4b6c8e0f12","answer":"Hello","from_variable_selector":["1767340000003","text"]}

`)

// heapServer is a minimal HTTP/1.1 server on a raw loopback listener: for
// every chat request it reads the request, sends heapStreamHead as one
// chunk of an event stream and then holds the connection open until the
// client closes it; any other request (a stop) gets {"result":"success"}.
// It keeps next to nothing per connection, so that the heap measured is
// the client's. stop closes it and waits until every connection is gone.
func heapServer() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	reply := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(heapStreamHead), heapStreamHead)
	other := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\nConnection: close\r\n\r\n{\"result\":\"success\"}\n")
	var conns sync.WaitGroup
	conns.Add(1)
	go func() {
		defer conns.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer conn.Close()
				chat, err := readRequest(conn)
				if err != nil {
					return
				}
				if !chat {
					_, _ = conn.Write(other)
					return
				}
				if _, err := conn.Write(reply); err != nil {
					return
				}
				var one [1]byte
				for {
					if _, err := conn.Read(one[:]); err != nil {
						return // the client closed the stream
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), func() { _ = ln.Close(); conns.Wait() }, nil
}

// readRequest reads one request with a Content-Length body from conn and
// reports whether it is a chat message.
func readRequest(conn net.Conn) (chat bool, err error) {
	br := bufio.NewReaderSize(conn, 1024)
	req, err := http.ReadRequest(br)
	if err != nil {
		return false, err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req.URL.Path == "/v1/chat-messages", err
}

// openStreams opens n streams with open, waits until every one has read its
// first two events and is waiting for the next, and returns the live heap
// per stream. close ends them all; it is run before openStreams returns.
func openStreams(n int, open func(ready func()) (stop func(), err error)) (perStream float64, err error) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc

	var ready sync.WaitGroup
	stops := make([]func(), 0, n)
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for range n {
		ready.Add(1)
		stop, err := open(ready.Done)
		if err != nil {
			ready.Done()
			return 0, err
		}
		stops = append(stops, stop)
	}
	ready.Wait()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	after := ms.HeapAlloc
	runtime.KeepAlive(stops)
	return (float64(after) - float64(before)) / float64(n), nil
}

// openTyped opens one stream with the client and reads it in a goroutine.
func openTyped(c *Client) func(ready func()) (func(), error) {
	return func(ready func()) (func(), error) {
		s, err := c.StreamMessage(context.Background(), ChatRequest{Query: "hi", User: "u1"})
		if err != nil {
			return nil, err
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			n := 0
			for ev, err := range s.Events() {
				if err != nil {
					return
				}
				if ev.Name() == EventMessage {
					if m, err := ev.Message(); err != nil || m.Answer == "" {
						panic(fmt.Sprint("bad message event: ", err))
					}
				}
				if n++; n == 2 {
					ready()
				}
			}
		}()
		return func() { _ = s.Close(); <-done }, nil
	}
}

// openBaseline opens one stream with net/http and reads it with the naive
// decoder in a goroutine.
func openBaseline(hc *http.Client, url string) func(ready func()) (func(), error) {
	body := []byte(`{"inputs":{},"query":"hi","response_mode":"streaming","user":"u1"}`)
	return func(ready func()) (func(), error) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			br := bufio.NewReader(resp.Body)
			var buf []byte
			hasData := false
			n := 0
			for {
				line, err := br.ReadBytes('\n')
				if err != nil {
					return
				}
				line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
				if len(line) == 0 {
					if hasData {
						var ev baselineEvent
						if err := json.Unmarshal(buf, &ev); err != nil {
							panic(err)
						}
						if n++; n == 2 {
							ready()
						}
					}
					buf, hasData = buf[:0], false
					continue
				}
				if field, value, _ := bytes.Cut(line, []byte(":")); string(field) == "data" {
					buf = append(buf, bytes.TrimPrefix(value, []byte(" "))...)
					hasData = true
				}
			}
		}()
		return func() { _ = resp.Body.Close(); <-done }, nil
	}
}

// measureOpenStreams measures both contenders once each, each on a fresh
// transport and server, which are shut down before the next measurement.
func measureOpenStreams(n int) (typed, baseline float64, err error) {
	measure := func(open func(hc *http.Client, url string) (func(ready func()) (func(), error), error)) (float64, error) {
		url, stop, err := heapServer()
		if err != nil {
			return 0, err
		}
		defer stop()
		tr := &http.Transport{MaxIdleConnsPerHost: -1}
		defer tr.CloseIdleConnections()
		o, err := open(&http.Client{Transport: tr}, url)
		if err != nil {
			return 0, err
		}
		return openStreams(n, o)
	}
	typed, err = measure(func(hc *http.Client, url string) (func(ready func()) (func(), error), error) {
		// Without auto-stop: the stop requests sent in the background for
		// the closed streams would run into the next measurement.
		c, err := NewClient(testKey, WithBaseURL(url+"/v1"), WithHTTPClient(hc), WithAutoStop(false))
		if err != nil {
			return nil, err
		}
		return openTyped(c), nil
	})
	if err != nil {
		return 0, 0, err
	}
	baseline, err = measure(func(hc *http.Client, url string) (func(ready func()) (func(), error), error) {
		return openBaseline(hc, url+"/v1/chat-messages"), nil
	})
	return typed, baseline, err
}

// BenchmarkOpenStreamHeap reports the heap held per open stream at 1,000
// concurrent loopback streams, for the client and the naive baseline,
// measured alternately in each iteration, and their ratio (of the smallest
// figures of each).
func BenchmarkOpenStreamHeap(b *testing.B) {
	var typed, baseline []float64
	for b.Loop() {
		t, base, err := measureOpenStreams(heapStreams)
		if err != nil {
			b.Fatal(err)
		}
		typed, baseline = append(typed, t), append(baseline, base)
	}
	t, base := slices.Min(typed), slices.Min(baseline)
	b.ReportMetric(t, "typed-B/stream")
	b.ReportMetric(base, "baseline-B/stream")
	b.ReportMetric(t/base, "ratio")
}
