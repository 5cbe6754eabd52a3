package chatflow

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/difykit/chatflow/chatflowtest"
	"github.com/difykit/chatflow/gen"
)

// The figures of docs/performance.md: each contender is measured against
// its baseline in the same process, in paired rounds whose order
// alternates, and the median of the per-round ratios is reported. Times
// are never checked by a test (the machines are shared); run
//
//	CHATFLOW_PERF=1 go test -run TestPerfRatios -v -count=1 .
//
// to print the table, or the benchmarks of each figure (BenchmarkSendMessage,
// BenchmarkStreamDefaults, BenchmarkBlockingChat, BenchmarkListConversations,
// BenchmarkOpenStreamHeap, BenchmarkUploadFile) with -benchmem.

// contender is one call of a comparison, set up once and run many times.
type contender struct {
	name string
	op   func() error
}

// pairedResult is a contender's figures over the rounds: the medians of
// its per-round ratios to the baseline (the first contender), in wall-clock
// time and in the process's CPU time (which leaves out the time other
// processes of a shared machine take), and its allocations per call.
type pairedResult struct {
	name             string
	timeRatio        float64
	cpuRatio         float64 // 0 where the CPU time is not known
	allocs, baseline float64
}

// pairedRatios measures cs (cs[0] is the baseline) in rounds alternating
// their order, each contender running for about span per round.
func pairedRatios(tb testing.TB, rounds int, span time.Duration, cs []contender) []pairedResult {
	tb.Helper()
	n := make([]int, len(cs))
	for i, c := range cs {
		// Calibrate on the fastest of a few short passes (the first warms
		// up pools, connections and caches; a loaded machine slows some).
		best := time.Duration(0)
		for range 4 {
			start := time.Now()
			for range 8 {
				if err := c.op(); err != nil {
					tb.Fatalf("%s: %v", c.name, err)
				}
			}
			if el := time.Since(start) / 8; best == 0 || el < best {
				best = el
			}
		}
		n[i] = max(1, int(span/max(best, 1)))
	}
	// batch runs contender i n[i] times and returns its wall-clock and
	// CPU time and allocations per call. Each batch starts on a clean heap
	// and pays for collecting its own garbage (the collection that ends it
	// is timed), so that no batch runs free of collections, or pays for
	// another's.
	batch := func(i int) (ns, cpu, allocs float64) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		cpu0 := processCPU()
		start := time.Now()
		for range n[i] {
			if err := cs[i].op(); err != nil {
				tb.Fatalf("%s: %v", cs[i].name, err)
			}
		}
		runtime.GC()
		el := time.Since(start)
		cpuEl := processCPU() - cpu0
		runtime.ReadMemStats(&after)
		k := float64(n[i])
		return float64(el.Nanoseconds()) / k, float64(cpuEl.Nanoseconds()) / k, float64(after.Mallocs-before.Mallocs) / k
	}
	for i := range cs {
		batch(i) // warm up
	}
	// Each contender is paired with the baseline: in each round, the
	// baseline's batch and the contender's, first one then the other.
	var res []pairedResult
	for i := 1; i < len(cs); i++ {
		var ratios, cpuRatios, al, baseAl []float64
		for r := range rounds {
			var bt, bc, ba, ct, cc, ca float64
			if r%2 == 0 {
				bt, bc, ba = batch(0)
				ct, cc, ca = batch(i)
			} else {
				ct, cc, ca = batch(i)
				bt, bc, ba = batch(0)
			}
			ratios = append(ratios, ct/bt)
			if bc > 0 && cc > 0 {
				cpuRatios = append(cpuRatios, cc/bc)
			}
			al, baseAl = append(al, ca), append(baseAl, ba)
		}
		p := pairedResult{name: cs[i].name, timeRatio: median(ratios), allocs: median(al), baseline: median(baseAl)}
		if len(cpuRatios) > rounds/2 {
			p.cpuRatio = median(cpuRatios)
		}
		res = append(res, p)
	}
	return res
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sseTransport answers every request with an event stream in memory.
type sseTransport struct{ body []byte }

func (m *sseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"text/event-stream"}},
		Body:       io.NopCloser(bytes.NewReader(m.body)),
		Request:    req,
	}, nil
}

// decodeDefaults reads data as StreamMessage's reply with the default
// options of a Client over rt (idle timeout, resume, auto-stop), every
// event decoded into its payload type like decodeTyped.
func decodeDefaults(c *Client) func([]byte) (int, error) {
	ctx := context.Background()
	req := ChatRequest{Query: "q", User: "u1", Inputs: map[string]any{}}
	return func([]byte) (int, error) {
		s, err := c.StreamMessage(ctx, req)
		if err != nil {
			return 0, err
		}
		return decodeEvents(s)
	}
}

// defaultsClient is a client with the default options whose every reply
// is data as an event stream.
func defaultsClient(tb testing.TB, data []byte) *Client {
	c, err := NewClient(testKey, WithBaseURL("https://dify.example/v1"), WithHTTPClient(&http.Client{Transport: &sseTransport{body: data}}))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkStreamDefaults decodes the realistic stream of BenchmarkStream
// (100k message events) three ways in one run: "bare" is the stream alone
// (no idle timeout, resume or auto-stop), "defaults" is StreamMessage with
// a Client's default options, "naive" the bufio + encoding/json decoder.
func BenchmarkStreamDefaults(b *testing.B) {
	full, _ := benchStreams()
	b.Run("bare", func(b *testing.B) { benchDecode(b, full, decodeTyped) })
	b.Run("defaults", func(b *testing.B) { benchDecode(b, full, decodeDefaults(defaultsClient(b, full))) })
	b.Run("naive", func(b *testing.B) { benchDecode(b, full, decodeBaseline) })
}

// loopbackServers serves, over loopback, the realistic chat stream of
// testdata/streams/success.sse (for SendMessage) and blockingReply (for a
// blocking call); both close with the returned function.
func loopbackServers(tb testing.TB) (streamURL, blockingURL string, stop func()) {
	tb.Helper()
	stream, err := os.ReadFile("testdata/streams/success.sse")
	if err != nil {
		tb.Fatal(err)
	}
	ss := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/stop") {
			writeJSON(w, 200, `{"result":"success"}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_, _ = w.Write(stream)
	}))
	bs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(blockingReply)
	}))
	return ss.URL + "/v1", bs.URL + "/v1", func() { ss.Close(); bs.Close() }
}

// sendMessageContenders are SendMessage over loopback (the chat stream of
// success.sse) and its baseline, a hand-written blocking chat call.
func sendMessageContenders(tb testing.TB) ([]contender, func()) {
	streamURL, blockingURL, stop := loopbackServers(tb)
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	req := ChatRequest{Query: "When are you open?", User: "u1", Inputs: map[string]any{}}
	return append(blockingAndSend(tb, hc, blockingURL, streamURL),
		contender{"handstream", func() error {
			answer, err := handSendStreaming(ctx, hc, streamURL, &req)
			if err == nil && answer == "" {
				err = fmt.Errorf("no answer")
			}
			return err
		}},
		contender{"readonly", func() error { // the stream read to its end, nothing decoded
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, streamURL+"/chat-messages", strings.NewReader(`{"query":"q","user":"u1","inputs":{}}`))
			if err != nil {
				return err
			}
			resp, err := hc.Do(r)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if n, err := io.Copy(io.Discard, resp.Body); err != nil || n < 1<<10 {
				return fmt.Errorf("read %d bytes: %v", n, err)
			}
			return nil
		}},
	), stop
}

// blockingAndSend are a hand-written blocking chat call to blockingURL
// (the baseline) and SendMessage to streamURL, both through hc.
func blockingAndSend(tb testing.TB, hc *http.Client, blockingURL, streamURL string) []contender {
	ctx := context.Background()
	c, err := NewClient(testKey, WithBaseURL(streamURL), WithHTTPClient(hc))
	if err != nil {
		tb.Fatal(err)
	}
	body := ChatRequest{Query: "When are you open?", User: "u1", Inputs: map[string]any{}, ResponseMode: ResponseModeBlocking}
	req := ChatRequest{Query: "When are you open?", User: "u1", Inputs: map[string]any{}}
	return []contender{
		{"handwritten", func() error {
			r, err := handSendBlocking(ctx, hc, blockingURL, &body)
			if err == nil && r.Answer == "" {
				err = fmt.Errorf("no answer")
			}
			return err
		}},
		{"SendMessage", func() error {
			r, err := c.SendMessage(ctx, req)
			if err == nil && (r.Answer == "" || !r.MessageEnded) {
				err = fmt.Errorf("no answer")
			}
			return err
		}},
	}
}

// handStreamEvent is what a hand-written streaming client keeps of each
// event: what a Reply gathers.
type handStreamEvent struct {
	Event          string                  `json:"event"`
	ConversationID string                  `json:"conversation_id"`
	MessageID      string                  `json:"message_id"`
	TaskID         string                  `json:"task_id"`
	Answer         string                  `json:"answer"`
	Metadata       *gen.MessageEndMetadata `json:"metadata"`
	Data           *struct {
		Status  string         `json:"status"`
		Error   string         `json:"error"`
		Outputs map[string]any `json:"outputs"`
	} `json:"data"`
}

// handSendStreaming is a streaming chat call written by hand: net/http, a
// bufio.Reader split into lines, json.Unmarshal per event, the answer
// joined; no resume, no auto-stop, no idle timeout, no limits.
func handSendStreaming(ctx context.Context, hc *http.Client, base string, body *gen.ChatRequest) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat-messages", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer strings.Builder
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadSlice('\n')
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			var ev handStreamEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				return "", err
			}
			if ev.Event == "message" {
				answer.WriteString(ev.Answer)
			}
		}
		if err == io.EOF {
			return answer.String(), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// fakeSendContenders are SendMessage and a hand-written blocking chat call
// to the same chatflowtest fake (its default chatflow app).
func fakeSendContenders(tb testing.TB) ([]contender, func()) {
	srv := chatflowtest.NewServer(chatflowtest.WithAPIKey(testKey))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	return blockingAndSend(tb, hc, srv.URL, srv.URL), srv.Close
}

// BenchmarkSendMessage compares SendMessage over loopback (a realistic
// chat stream gathered into a Reply) with a hand-written blocking chat
// call (net/http and encoding/json) to a loopback server, and with a
// hand-written streaming call reading the same stream (handstream), and
// with the stream read to its end without decoding (readonly); then
// SendMessage and the blocking call against the chatflowtest fake, which
// runs the same app both ways (fake/...).
func BenchmarkSendMessage(b *testing.B) {
	cs, stop := sendMessageContenders(b)
	defer stop()
	fake, stopFake := fakeSendContenders(b)
	defer stopFake()
	for _, c := range fake {
		cs = append(cs, contender{"fake/" + c.name, c.op})
	}
	for _, c := range cs {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// asContenders turns benchmarks of single calls into contenders.
func blockingContenders(tb testing.TB) []contender {
	ctx := context.Background()
	rt := &memTransport{status: 200, body: blockingReply}
	const base = "https://dify.example/v1"
	body := ChatRequest{Query: "When are you open?", User: "u1", Inputs: map[string]any{}, ResponseMode: ResponseModeBlocking}
	hc := &http.Client{Transport: rt}
	c := benchClient(tb, rt)
	return []contender{
		{"handwritten", func() error { _, err := handSendBlocking(ctx, hc, base, &body); return err }},
		{"api", func() error {
			r, err := c.API().SendChatMessageWithResponse(ctx, body)
			if err == nil && r.JSON200 == nil {
				err = fmt.Errorf("no reply")
			}
			return err
		}},
	}
}

func pageContenders(tb testing.TB, page []byte) []contender {
	ctx := context.Background()
	rt := &memTransport{status: 200, body: page}
	hc := &http.Client{Transport: rt}
	c := benchClient(tb, rt)
	user, limit := "u1", 20
	return []contender{
		{"handwritten", func() error { _, err := handListConversations(ctx, hc, "https://dify.example/v1", "u1"); return err }},
		{"generated", func() error {
			r, err := c.API().GetConversationsListWithResponse(ctx, &gen.GetConversationsListParams{User: &user, Limit: &limit})
			if err == nil && r.JSON200 == nil {
				err = fmt.Errorf("no reply")
			}
			return err
		}},
		{"iterator", func() error {
			for _, err := range c.Conversations(ctx, "u1") {
				if err != nil {
					return err
				}
			}
			return nil
		}},
	}
}

func decodeContenders(tb testing.TB) []contender {
	full, _ := benchStreams()
	defaults := decodeDefaults(defaultsClient(tb, full))
	op := func(f func([]byte) (int, error)) func() error {
		return func() error { _, err := f(full); return err }
	}
	return []contender{
		{"bare", op(decodeTyped)},
		{"defaults", op(defaults)},
		{"naive", op(decodeBaseline)},
	}
}

// TestPerfRatios prints the figures of docs/performance.md (median time
// ratios of paired alternating rounds, allocations per call). It checks
// nothing about time. Run with CHATFLOW_PERF=1 (about a minute).
func TestPerfRatios(t *testing.T) {
	if os.Getenv("CHATFLOW_PERF") == "" {
		t.Skip("set CHATFLOW_PERF=1 to measure the figures of docs/performance.md")
	}
	if raceEnabled() {
		t.Skip("figures are meaningless under the race detector")
	}
	show := func(what string, res []pairedResult) {
		for _, r := range res {
			t.Logf("%-24s %-12s %.2fx time (%.2fx CPU time), %.2fx allocs (%.0f vs %.0f per call)", what, r.name, r.timeRatio, r.cpuRatio, r.allocs/r.baseline, r.allocs, r.baseline)
		}
	}
	show("blocking chat vs hand", pairedRatios(t, 31, 10*time.Millisecond, blockingContenders(t)))
	show("page of 2 vs hand", pairedRatios(t, 31, 10*time.Millisecond, pageContenders(t, smallConversationsPage)))
	show("page of 20 vs hand", pairedRatios(t, 21, 20*time.Millisecond, pageContenders(t, conversationsPage)))
	cs, stop := sendMessageContenders(t)
	show("SendMessage vs hand", pairedRatios(t, 31, 20*time.Millisecond, cs[:2]))
	show("SendMessage vs stream", pairedRatios(t, 31, 20*time.Millisecond, []contender{cs[2], cs[1]}))
	show("reading it vs hand", pairedRatios(t, 31, 20*time.Millisecond, []contender{cs[0], cs[3]}))
	stop()
	cs, stop = fakeSendContenders(t)
	show("SendMessage, fake", pairedRatios(t, 31, 20*time.Millisecond, cs))
	stop()
	dec := decodeContenders(t)
	show("100k events vs bare", pairedRatios(t, 11, 100*time.Millisecond, dec))
	show("100k events vs naive", pairedRatios(t, 11, 100*time.Millisecond, []contender{dec[2], dec[0], dec[1]}))
}
