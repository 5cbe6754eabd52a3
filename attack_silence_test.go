package chatflow

// Attacks by silence: servers that accept a request and never answer, or
// stop half-way through a reply, against calls with no deadline. The idle
// timeout (WithIdleTimeout) must end them with a clear error matching
// ErrIdleTimeout, without cutting a reply that keeps coming and without
// counting the time the caller's own code takes.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const attackIdle = 300 * time.Millisecond

func TestAttackSilentServerNoHeaders(t *testing.T) {
	leakCheck(t)
	h := newHostile(t, func(h *hostile, _ net.Conn, _ *http.Request) { h.hold() })
	c, _ := faultClient(t, h.URL(), WithIdleTimeout(attackIdle), WithMaxRetries(2))
	calls := callsOf(c)
	calls["UploadFile"] = func(ctx context.Context) error {
		_, err := c.UploadFile(ctx, "u", "a.txt", strings.NewReader("hello"))
		return err
	}
	calls["SendMessage"] = func(ctx context.Context) error {
		_, err := c.SendMessage(ctx, ChatRequest{Query: "q", User: "u"})
		return err
	}
	errs, took := runConcurrently(calls, func() (context.Context, context.CancelFunc) {
		return context.WithCancel(context.Background()) // no deadline
	})
	for name := range calls {
		err := errs[name]
		if !errors.Is(err, ErrIdleTimeout) {
			t.Errorf("%s: err = %v, want ErrIdleTimeout", name, err)
			continue
		}
		if want := "no reply headers within 300ms; see WithIdleTimeout"; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %q, want it to say %q", name, err, want)
		}
		if strings.Count(err.Error(), "chatflow:") != 1 {
			t.Errorf("%s: err = %q, want one chatflow: prefix", name, err)
		}
		if took[name] > 20*time.Second {
			t.Errorf("%s took %v", name, took[name])
		}
	}
	// A silent server is not retried: the call would last a multiple of
	// the documented bound.
	if got := h.hits.Load(); got != int32(len(calls)) {
		t.Errorf("server saw %d requests for %d calls", got, len(calls))
	}
}

func TestAttackSilentServerMidBody(t *testing.T) {
	leakCheck(t)
	h := newHostile(t, func(h *hostile, c net.Conn, r *http.Request) {
		if r.Method == http.MethodPost { // a page instead of a stream, cut short
			reply(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n<html>")
		} else {
			reply(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
		}
		h.hold()
	})
	c, _ := faultClient(t, h.URL(), WithIdleTimeout(attackIdle))
	calls := map[string]func(context.Context) error{
		"AppInfo":   func(ctx context.Context) error { _, err := c.AppInfo(ctx); return err },
		"generated": func(ctx context.Context) error { _, err := c.API().GetChatAppInfoWithResponse(ctx); return err },
		"not a stream": func(ctx context.Context) error {
			_, err := c.StreamMessage(ctx, ChatRequest{Query: "q", User: "u"})
			return err
		},
		"DeleteConversation": func(ctx context.Context) error { return c.DeleteConversation(ctx, "c1", "u") },
	}
	errs, _ := runConcurrently(calls, func() (context.Context, context.CancelFunc) {
		return context.WithCancel(context.Background())
	})
	for name := range calls {
		err := errs[name]
		if name == "not a stream" {
			// The page is read for the error's summary, within the idle
			// timeout; the error says it was not a stream, and that the
			// page stalled.
			if !errors.Is(err, ErrNotEventStream) || !errors.Is(err, ErrIdleTimeout) {
				t.Errorf("%s: err = %v, want ErrNotEventStream and ErrIdleTimeout", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrIdleTimeout) {
			t.Errorf("%s: err = %v, want ErrIdleTimeout", name, err)
		}
	}
	if err := errs["AppInfo"]; err != nil && !strings.Contains(err.Error(), "no reply data for 300ms; see WithIdleTimeout") {
		t.Errorf("AppInfo: err = %q, want it to name the stalled reply", err)
	}
}

// TestAttackTrickleIsNotIdle: a reply that keeps coming, a few bytes at a
// time, for several idle timeouts in all, is read to its end.
func TestAttackTrickleIsNotIdle(t *testing.T) {
	leakCheck(t)
	const idle = time.Second
	body := `{"name":"` + strings.Repeat("n", 60) + `","description":"","tags":[],"mode":"advanced-chat","author_name":""}`
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		f := w.(http.Flusher)
		tick := time.NewTicker(idle / 20)
		defer tick.Stop()
		for i := 0; i < len(body); i += 2 { // ~50 ticks: 2.5 idle timeouts
			_, _ = io.WriteString(w, body[i:min(i+2, len(body))])
			f.Flush()
			<-tick.C
		}
	})
	c, _ := faultClient(t, srv.URL, WithIdleTimeout(idle))
	info, err := c.AppInfo(context.Background())
	if err != nil {
		t.Fatalf("a reply that kept coming was cut: %v", err)
	}
	if len(info.Name) != 60 {
		t.Errorf("name = %q", info.Name)
	}
}

// TestAttackSlowConsumerIsNotIdle: time the caller spends between reads of
// a download, or inside its own reader during an upload, is not silence of
// the server.
func TestAttackSlowConsumerIsNotIdle(t *testing.T) {
	leakCheck(t)
	audio := strings.Repeat("\xff\xfb", 1024) // 2 KiB: in the client's buffers at once
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/text-to-audio":
			w.Header().Set("Content-Type", "audio/mpeg")
			_, _ = io.WriteString(w, audio)
		case "/v1/files/upload":
			_, _ = io.Copy(io.Discard, r.Body)
			writeJSON(w, 201, `{"id":"f","name":"a.txt","size":5,"extension":"txt","mime_type":"text/plain","created_by":"u","created_at":1}`)
		}
	})
	c, _ := faultClient(t, srv.URL, WithIdleTimeout(attackIdle))

	d, err := c.TextToAudio(context.Background(), TextToAudioRequest{Text: "hi", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	head := make([]byte, 10)
	if _, err := io.ReadFull(d, head); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * attackIdle) // the caller is busy: not the server's silence
	rest, err := io.ReadAll(d)
	if err != nil || len(head)+len(rest) != len(audio) {
		t.Errorf("after a slow consumer: %d bytes, err %v", len(head)+len(rest), err)
	}

	// An upload whose reader takes longer than the idle timeout.
	slow := &slowReader{r: strings.NewReader("hello"), delay: 3 * attackIdle}
	if _, err := c.UploadFile(context.Background(), "u", "a.txt", slow); err != nil {
		t.Errorf("an upload with a slow reader: %v", err)
	}
}

// slowReader simulates a slow source: its first Read takes delay.
type slowReader struct {
	r     io.Reader
	delay time.Duration
	done  bool
}

func (s *slowReader) Read(p []byte) (int, error) {
	if !s.done {
		s.done = true
		time.Sleep(s.delay)
	}
	return s.r.Read(p)
}

func TestIdleTimeoutDefault(t *testing.T) {
	t.Parallel()
	c, err := NewClient(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.idleTimeout != 2*time.Minute || DefaultIdleTimeout != 2*time.Minute {
		t.Errorf("default idle timeout = %v, want 2m (as documented)", c.cfg.idleTimeout)
	}
	e := &idleError{method: "GET", path: "/v1/info", what: "no reply headers within", d: DefaultIdleTimeout}
	if want := "chatflow: GET /v1/info: no reply headers within 2m0s; see WithIdleTimeout"; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

// TestAttackIdleTimeoutOff: with WithIdleTimeout(0) only the context ends
// a wait for a silent server.
func TestAttackIdleTimeoutOff(t *testing.T) {
	leakCheck(t)
	h := newHostile(t, func(h *hostile, _ net.Conn, _ *http.Request) { h.hold() })
	c, _ := faultClient(t, h.URL(), WithIdleTimeout(0))
	ctx, cancel := context.WithTimeout(context.Background(), 3*attackIdle)
	defer cancel()
	_, err := c.AppInfo(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrIdleTimeout) {
		t.Errorf("err = %v, want only context.DeadlineExceeded", err)
	}
}

// TestAttackKeyPrefixDripIsNotSilence: a stream that keeps sending, a byte
// at a time, bytes that could start the API key. The key scrubber holds
// them back across reads, but they arrived: the idle timeout must not cut
// the stream (only the server's silence counts).
func TestAttackKeyPrefixDripIsNotSilence(t *testing.T) {
	leakCheck(t)
	const idle = 200 * time.Millisecond
	drip := testKey[:12] // longer in all than the idle timeout, never silent for long
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		f := sseHeader(t, w)
		write(w, f, `data: {"event":"message","conversation_id":"c1","message_id":"m1","created_at":1,"task_id":"`+testTaskID+`","answer":"`)
		for i := range len(drip) {
			time.Sleep(idle / 3) // the server's pace, not a synchronisation
			write(w, f, drip[i:i+1])
		}
		write(w, f, `!"}`+"\n\n"+streamEnd)
	})
	c, _ := faultClient(t, srv.URL+"/v1", WithIdleTimeout(idle), WithMaxRetries(0))
	r, err := c.SendMessage(context.Background(), ChatRequest{Query: "q", User: "u"})
	if err != nil {
		t.Fatalf("a stream that kept sending was cut: %v", err)
	}
	if !strings.HasSuffix(r.Answer, "!") || strings.Contains(r.Answer, testKey) {
		t.Errorf("answer %q, want the whole text without the key", r.Answer)
	}
}
