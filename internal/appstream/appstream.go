// Package appstream reads the event stream of a workflow run or a
// completion for packages workflow and completion: it learns the run's
// task and run ids, resumes a dropped stream through the app's reattach
// endpoint (without yielding an event twice), and stops the run on the
// server, once, when the caller abandons the stream before its end.
//
// It talks to the server through the functions of a Config, so that each
// app package plugs in its own endpoints. (Chatflow's stream, in the root
// package, has the same behaviour; the shared engine in internal/stream is
// meant to replace both.)
package appstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/sse"
	"github.com/difykit/chatflow/internal/transport"
)

// Bounds of resuming and stopping.
const (
	maxResumes        = 5
	maxResumeFailures = 5
	resumeWaitMax     = 5 * time.Second
	maxSeenEvents     = 1 << 16
	// stopTimeout bounds the stop request of an abandoned stream.
	stopTimeout = 10 * time.Second
	// readAheadTimeout bounds reading on for the task id of a stream
	// abandoned before any event carried it.
	readAheadTimeout = 3 * time.Second
)

// errClosed ends the connection of a stream the caller closed.
var errClosed = errors.New("chatflow: stream closed")

// Config is what a Stream needs of its app package.
type Config struct {
	// User is the end user of the run, sent with the reattach and stop.
	User string
	// MaxEventBytes bounds one event.
	MaxEventBytes int
	// Resume reattaches after a dropped connection (needs Reattach).
	Resume bool
	// AutoStop stops a run abandoned before its end (needs Stop).
	AutoStop bool
	// Terminal are the events that end a run normally.
	Terminal []string
	// Incomplete is the sentinel that the error of a stream that ended
	// before a terminal event matches.
	Incomplete error
	// NotEventStream is the sentinel of a reply that is not an event stream.
	NotEventStream error
	// Stop stops the run with task id taskID.
	Stop func(ctx context.Context, taskID string) error
	// Reattach opens the event stream of run runID again (nil: none).
	Reattach func(ctx context.Context, runID string) (*http.Response, error)
	// RunEnd, when reattaching is refused with a 404, reads the run's
	// state: the JSON of the terminal event rebuilt from it and true once
	// the run has ended (nil: none).
	RunEnd func(ctx context.Context, runID string) (string, bool, error)
	// Sleep waits between resume attempts.
	Sleep func(ctx context.Context, d time.Duration) error
	// Scrub removes the API key from an error event.
	Scrub func(*transport.APIError)
}

// Event is one event of a stream: its name and JSON object.
type Event struct {
	Name string
	Data string
}

// Stream is an event stream of a run. Next is called by one goroutine at a
// time; Close, Stop and the id getters may be called from any.
type Stream struct {
	cfg      Config
	terminal map[string]bool
	ctx      context.Context // the caller's
	stopWait func() bool     // unregisters the abandon on ctx
	ctxDone  chan struct{}   // closed when that abandon has finished
	unwatch  sync.Once       // calls stopWait once
	ranOnCtx bool            // the abandon on ctx ran (set in unwatch)

	mu         sync.Mutex
	connCancel context.CancelCauseFunc
	body       io.ReadCloser
	dec        *sse.Decoder
	taskID     string
	runID      string
	ended      bool // a terminal event came, or the stream failed
	closed     bool // the caller gave it up
	stopTaken  bool
	reading    bool // a goroutine is inside the decoder
	pending    bool // an abandon waits for the reader to learn the task id
	method     string
	url        string
	queue      []Event
	endErr     error

	resumed    atomic.Bool
	resumes    int
	reattached bool
	seen       map[string]struct{}
}

// Open sends the request and returns its stream. send must send through a
// transport.Doer, with the context it is given.
func Open(ctx context.Context, cfg Config, send func(context.Context) (*http.Response, error)) (*Stream, error) {
	if ctx == nil {
		return nil, errors.New("chatflow: nil context")
	}
	s := &Stream{cfg: cfg, ctx: ctx, terminal: make(map[string]bool), seen: make(map[string]struct{})}
	for _, t := range cfg.Terminal {
		s.terminal[t] = true
	}
	if err := s.connect(ctx, send); err != nil {
		return nil, err
	}
	if cfg.AutoStop && cfg.Stop != nil {
		s.ctxDone = make(chan struct{})
		s.stopWait = context.AfterFunc(ctx, func() {
			defer close(s.ctxDone)
			s.abandon()
		})
	}
	return s, nil
}

// connect sends a request and makes its reply the stream's connection.
// The connection outlives the caller's context once the headers are in
// when auto-stop is on (an abandoned run's task id may still have to be
// read), and ends with it otherwise.
func (s *Stream) connect(ctx context.Context, send func(context.Context) (*http.Response, error)) error {
	parent := ctx
	if s.cfg.AutoStop {
		parent = context.WithoutCancel(ctx)
	}
	cctx, cancel := context.WithCancelCause(parent)
	unlink := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	resp, err := send(transport.WithStreamReply(cctx))
	if s.cfg.AutoStop {
		unlink()
	}
	if err != nil {
		cancel(nil)
		return err
	}
	method, where := "", ""
	if r := resp.Request; r != nil {
		method, where = r.Method, transport.RedactURL(r.URL.String())
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "text/event-stream" {
		e := &transport.APIError{StatusCode: resp.StatusCode, Method: method, URL: where}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, transport.ErrBodyReadLimit))
		_ = resp.Body.Close()
		cancel(nil)
		transport.DecodeErrorBody(e, body, ct)
		if s.cfg.Scrub != nil {
			s.cfg.Scrub(e)
		}
		return fmt.Errorf("%w: %d reply with Content-Type %q: %s [%s %s]", s.cfg.NotEventStream,
			resp.StatusCode, ct, transport.Shorten(e.Message, transport.ErrMessageShort), method, where)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cancel(errClosed)
		_ = resp.Body.Close()
		return errClosed
	}
	if s.connCancel != nil {
		s.connCancel(errClosed)
		_ = s.body.Close()
	}
	s.connCancel, s.body = cancel, resp.Body
	s.dec = sse.NewDecoder(resp.Body, s.cfg.MaxEventBytes, nil)
	s.method, s.url = method, where
	return nil
}

// TaskID returns the task id of the run, once an event carried it.
func (s *Stream) TaskID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taskID
}

// RunID returns the workflow run id, once an event carried it.
func (s *Stream) RunID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runID
}

// Resumed reports whether the stream reattached after a dropped connection.
func (s *Stream) Resumed() bool { return s.resumed.Load() }

// incomplete wraps cause in the error of a stream that ended early.
func (s *Stream) incomplete(cause error) error {
	if cause == nil {
		return fmt.Errorf("%w: the stream ended before the run's end", s.cfg.Incomplete)
	}
	return fmt.Errorf("%w: %w", s.cfg.Incomplete, cause)
}

// closedErr is the error of a stream read after it was given up.
func (s *Stream) closedErr() error {
	if c := context.Cause(s.ctx); c != nil {
		return s.incomplete(c)
	}
	return s.incomplete(errClosed)
}

// Next returns the next event, io.EOF after the run's normal end, or the
// stream's error (then io.EOF). Pings are skipped.
func (s *Stream) Next() (Event, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			ev := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return ev, nil
		}
		if s.endErr != nil {
			err := s.endErr
			s.endErr = io.EOF
			s.mu.Unlock()
			return Event{}, err
		}
		if s.pending && s.ended {
			s.pending = false // the run ended by itself: nothing to stop
		}
		if s.closed && !s.pending {
			s.endErr = io.EOF
			s.mu.Unlock()
			return Event{}, s.closedErr()
		}
		s.reading = true
		dec := s.dec
		s.mu.Unlock()

		raw, err := dec.Next()

		s.mu.Lock()
		s.reading = false
		if err == nil {
			ev, ok := s.take(raw)
			if !ok {
				s.mu.Unlock()
				continue
			}
			if s.pending && s.taskID != "" {
				// Abandoned while this goroutine read: stop now.
				s.pending = false
				s.finish()
				task := s.taskID
				s.mu.Unlock()
				s.sendStop(task)
				return Event{}, s.closedErr()
			}
			if ev.Name == "error" {
				s.ended = true
				s.endErr = io.EOF
				s.mu.Unlock()
				s.release()
				return Event{}, s.eventError(ev.Data)
			}
			s.mu.Unlock()
			return ev, nil
		}
		if s.closed {
			s.pending = false
			s.endErr = io.EOF
			s.mu.Unlock()
			s.release()
			return Event{}, s.closedErr()
		}
		if errors.Is(err, io.EOF) && s.ended {
			s.endErr = io.EOF
			s.mu.Unlock()
			s.release()
			return Event{}, io.EOF
		}
		var drop error
		if errors.Is(err, io.EOF) {
			drop = s.incomplete(nil)
		} else {
			drop = s.incomplete(err)
		}
		if c := context.Cause(s.ctx); c != nil {
			drop = s.incomplete(c)
		}
		canResume := s.cfg.Resume && s.cfg.Reattach != nil && s.runID != "" && !s.ended &&
			s.ctx.Err() == nil && !errors.Is(err, sse.ErrEventTooLarge)
		if !canResume {
			s.ended = true
			s.endErr = io.EOF
			s.mu.Unlock()
			s.release()
			return Event{}, drop
		}
		s.mu.Unlock()
		if rerr := s.resume(drop); rerr != nil {
			s.mu.Lock()
			s.ended = true
			s.endErr = io.EOF
			s.mu.Unlock()
			s.release()
			return Event{}, rerr
		}
	}
}

// take learns the ids of a raw event, and reports whether it is to be
// yielded (not a ping, not seen before a drop). s.mu is held.
func (s *Stream) take(raw sse.Event) (Event, bool) {
	data := jsonscan.TrimSpace(raw.Data)
	if !raw.HasData || !strings.HasPrefix(data, "{") {
		return Event{}, false // a ping, or no JSON object
	}
	name := jsonscan.EventName(data, nil)
	if name == "" {
		name = raw.Type
	}
	if name == "ping" {
		return Event{}, false
	}
	if s.runID == "" {
		if id := jsonscan.TopLevelString(data, "workflow_run_id"); id != "" {
			s.runID = id
		}
	}
	if s.taskID == "" {
		if id := jsonscan.TopLevelString(data, "task_id"); id != "" && id != s.runID {
			s.taskID = id
		}
	}
	if s.replayed(raw.ID, name, data) {
		return Event{}, false
	}
	if s.terminal[name] {
		s.ended = true
	}
	return Event{Name: name, Data: data}, true
}

// replayed records an event and reports whether a reattached stream
// yielded it before: by its SSE id, or by its name and execution id.
func (s *Stream) replayed(id, name, data string) bool {
	keys := make([]string, 0, 2)
	if id != "" {
		keys = append(keys, "id\x00"+id)
	}
	if k := eventKey(name, data); k != "" {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if _, dup := s.seen[k]; dup && s.reattached {
			return true
		}
	}
	for _, k := range keys {
		if len(s.seen) < maxSeenEvents {
			s.seen[k] = struct{}{}
		}
	}
	return false
}

// eventKey identifies an event for removing duplicates: its name and the
// execution id of its data (a node execution, a form token, an
// iteration's index), or "" for an event without one (text).
func eventKey(name, data string) string {
	switch name {
	case "message", "agent_message", "text_chunk", "reasoning_chunk", "tts_message", "agent_thought", "agent_log", "message_replace", "error":
		return ""
	case "message_end", "tts_message_end", "workflow_finished":
		return name
	}
	var v struct {
		ID   string `json:"id"`
		Data struct {
			ID         string          `json:"id"`
			FormToken  string          `json:"form_token"`
			Index      json.RawMessage `json:"index"`
			RetryIndex json.RawMessage `json:"retry_index"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(data), &v) != nil {
		return ""
	}
	id := v.Data.ID
	if v.Data.FormToken != "" && name == "human_input_required" {
		id = v.Data.FormToken
	}
	if id == "" {
		id = v.ID
	}
	if id == "" {
		return ""
	}
	key := name + "\x00" + id
	switch name {
	case "iteration_next", "loop_next":
		key += "\x00" + string(v.Data.Index)
	case "node_retry":
		key += "\x00" + string(v.Data.RetryIndex)
	}
	return key
}

// resume reattaches to the run after a drop, or queues the terminal event
// rebuilt from its state once it has ended.
func (s *Stream) resume(drop error) error {
	if s.resumes >= maxResumes {
		return fmt.Errorf("%w; resuming failed: the connection dropped %d times", drop, s.resumes+1)
	}
	s.resumes++
	s.resumed.Store(true)
	run := s.RunID()
	failures := 0
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			wait := min(250*time.Millisecond<<min(attempt-1, 8), resumeWaitMax)
			sleep := s.cfg.Sleep
			if sleep == nil {
				sleep = timerSleep
			}
			if err := sleep(s.ctx, wait); err != nil {
				return fmt.Errorf("%w; resuming failed: %w", drop, err)
			}
		}
		if failures >= maxResumeFailures {
			return fmt.Errorf("%w; resuming failed: %w", drop, last)
		}
		err := s.connect(s.ctx, func(ctx context.Context) (*http.Response, error) { return s.cfg.Reattach(ctx, run) })
		if err == nil {
			s.mu.Lock()
			s.reattached = true
			s.mu.Unlock()
			return nil
		}
		if s.ctx.Err() != nil || errors.Is(err, errClosed) {
			return fmt.Errorf("%w; resuming failed: %w", drop, err)
		}
		last = err
		failures++
		var ae *transport.APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound || s.cfg.RunEnd == nil {
			continue
		}
		// Not visible yet, or not served: ask the run's state.
		data, done, rerr := s.cfg.RunEnd(s.ctx, run)
		if rerr != nil {
			last = rerr
			continue
		}
		if done {
			s.mu.Lock()
			s.ended = true
			s.queue = append(s.queue, Event{Name: jsonscan.EventName(data, nil), Data: data})
			s.mu.Unlock()
			return nil
		}
		failures = 0
	}
}

// timerSleep waits d or until ctx ends.
func timerSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// eventError turns an error event into an *APIError.
func (s *Stream) eventError(data string) error {
	s.mu.Lock()
	e := &transport.APIError{Method: s.method, URL: s.url}
	s.mu.Unlock()
	transport.DecodeErrorBody(e, []byte(data), "application/json")
	if s.cfg.Scrub != nil {
		s.cfg.Scrub(e)
	}
	return e
}

// release closes the connection.
func (s *Stream) release() {
	s.mu.Lock()
	cancel, body := s.connCancel, s.body
	s.mu.Unlock()
	if cancel != nil {
		cancel(errClosed)
	}
	if body != nil {
		_ = body.Close()
	}
}

// finish marks the stream given up and claims its stop; s.mu is held.
func (s *Stream) finish() {
	s.closed = true
	s.stopTaken = true
}

// Close gives the stream up: before the run's end it stops the run (when
// auto-stop is on and no stop was sent), reading on briefly for the task
// id if no event has carried it yet. It waits for that work, and may be
// called more than once.
func (s *Stream) Close() error {
	s.abandon()
	if s.stopWait != nil {
		s.unwatch.Do(func() { s.ranOnCtx = !s.stopWait() })
		if s.ranOnCtx {
			<-s.ctxDone // the context's abandon ran: wait for its end
		}
	}
	return nil
}

// abandon ends the stream and stops the run if it has not ended.
func (s *Stream) abandon() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	stop := s.cfg.AutoStop && s.cfg.Stop != nil && !s.ended && !s.stopTaken
	s.closed = true
	if !stop {
		s.mu.Unlock()
		s.release()
		return
	}
	s.stopTaken = true
	if task := s.taskID; task != "" {
		s.mu.Unlock()
		s.release()
		s.sendStop(task)
		return
	}
	if s.reading {
		// The reader learns the task id from the next event and stops
		// the run (see Next); the connection ends after a while anyway.
		s.pending = true
		cancel := s.connCancel
		s.mu.Unlock()
		time.AfterFunc(readAheadTimeout, func() { cancel(errClosed) })
		return
	}
	// Nobody reads: read on for the task id.
	s.reading = true
	dec, cancel := s.dec, s.connCancel
	s.mu.Unlock()
	t := time.AfterFunc(readAheadTimeout, func() { cancel(errClosed) })
	task := ""
	for task == "" {
		raw, err := dec.Next()
		if err != nil {
			break
		}
		s.mu.Lock()
		ev, ok := s.take(raw)
		task = s.taskID
		ended := s.ended
		s.mu.Unlock()
		if ok && (ended || ev.Name == "error") {
			break // the run ended by itself
		}
	}
	t.Stop()
	s.mu.Lock()
	s.reading = false
	ended := s.ended
	s.mu.Unlock()
	s.release()
	if task != "" && !ended {
		s.sendStop(task)
	}
}

// sendStop sends the stop request, bounded, whatever the caller's context.
func (s *Stream) sendStop(task string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), stopTimeout)
	defer cancel()
	_ = s.cfg.Stop(ctx, task)
}

// Stop asks the server to stop the run now. It needs the task id (an
// event must have carried it); the stream goes on to the run's end.
func (s *Stream) Stop(ctx context.Context) error {
	s.mu.Lock()
	task := s.taskID
	if task != "" {
		s.stopTaken = true
	}
	s.mu.Unlock()
	if task == "" {
		return fmt.Errorf("%w: no event has carried the task id yet", transport.ErrInvalidID)
	}
	return s.cfg.Stop(ctx, task)
}
