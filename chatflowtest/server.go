// Package chatflowtest is an in-memory fake of Dify's chatflow Service API,
// for tests (of this module and of programs in any language) and for demos.
//
// The fake behaves like the released Dify server (1.16.1) as described in
// the project's server facts, not only like the published spec; options
// switch on what later server source does. It keeps state per end user the
// way a Dify server does: conversations are created by the first chat
// message and visible only to their user, messages page backwards, files,
// feedback, annotations and conversation variables are stored; a
// variable's value is answered as Python's str() of it, as Dify does (see
// Variable). Every request is checked against the API description in
// package openapi; what the description rejects is answered with 400
// invalid_param, as Dify 1.16.1 does everywhere. WithValidationStatus(422)
// makes the endpoints that later Dify source validates with a decorator
// (GET /messages, message feedbacks, app feedbacks and the annotation
// endpoints) answer 422 unprocessable_entity instead, with a JSON array of
// field errors as the message. Answers are deterministic: the answer to a
// query echoes it, streamed one token per message event inside a realistic
// chatflow run.
//
// # Runs
//
// A chat run executes in a goroutine of its own, as on Dify: a client that
// disconnects does not end it; it completes and its message is stored with
// the full answer. The message is stored with an empty answer (status
// normal) as soon as the run starts. POST /chat-messages/{task_id}/stop with
// the same user and the task id of a live event ends a running run with
// message_end and workflow_finished (status stopped, error "Stopped by
// user."), keeping the partial answer; stop answers 200 for any task. GET
// /workflow/{run_id}/events follows a run: a finished run is one
// synthesized workflow_finished (no conversation or message id, the answer
// in data.outputs.answer); a live run is, with include_state_snapshot=true,
// a rebuilt workflow_started, message_replace with the stored answer (empty
// while running), the node executions so far with null details, then the
// live events; without it, a ping and the live events only. Snapshot events
// carry the run id as task_id. Submitting a human input form resumes its
// paused run in the background. Close ends the runs still going.
//
// # App modes
//
// By default the fake is a chatflow ("advanced-chat") app. WithMode makes it
// a workflow, completion, chat or agent-chat app instead: GET /info reports
// the mode, the operations of other app types are refused with Dify's
// codes, and runs take the shape of that app type (see WithMode).
//
// # Faults
//
// Tests can inject faults: FailNext, SetDelay, SetEventDelay (slow runs
// that can be stopped and reattached to), CutStreamAfter (drop the
// connection; the run goes on), EndStreamAfter and FailNextRun;
// PauseNextRun makes a run stop at a human input form. Requests lists what
// the server received, stop requests with their task id in Path.
//
// # Limits
//
// The fake bounds what it keeps (see Limits; WithLimits changes them): by
// default at most 10000 end users, 100 conversations per user and 10000 in
// all, 500 messages per conversation and 50000 in all, 100 files per user,
// 1000 files and 256 MiB of file data in all, 10000 annotations and 1000
// annotation reply jobs. Past a limit the oldest items are evicted first,
// with what belongs to them. JSON request bodies are limited to 1 MiB
// (WithMaxJSONBody; 413 request_entity_too_large), uploads by the per-type
// limits of WithUploadLimits (413 file_too_large). The HTTP server of Start
// and ListenAndServe has read-header, body-read and idle timeouts
// (WithTimeouts) but no write timeout, so streams are never cut. A run
// takes at most Limits.RunTime.
package chatflowtest

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/difykit/chatflow/internal/spectest"
)

// Prefix is the path below which Handler serves the API.
const Prefix = "/v1"

// Server is a fake Dify chatflow Service API. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the base URL of the API, ending in /v1 (empty until started).
	URL string
	// APIKey is the app key the server accepts (Authorization: Bearer APIKey).
	APIKey string

	cfg     config
	handler http.Handler
	ts      *httptest.Server

	mu    sync.Mutex
	st    state
	fault faults
	log   []*Request

	quit      chan struct{}  // closed by Close: runs and streams end
	closed    bool           // guarded by mu
	running   sync.WaitGroup // run goroutines
	closeOnce sync.Once
}

// maxLog is how many requests Requests remembers.
const maxLog = 10000

// record adds a request to the log and returns its entry, which the caller
// completes under s.mu.
func (s *Server) record(r Request) *Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) >= maxLog {
		s.log = append(s.log[:0], s.log[maxLog/2:]...)
	}
	p := &r
	s.log = append(s.log, p)
	return p
}

// Request is one request the server received, as recorded by Requests.
type Request struct {
	Method    string // HTTP method
	Path      string // URL path below the base URL, such as /chat-messages
	Operation string // operation id in the API description, such as sendChatMessage; empty when unknown
	User      string // the user named in the query, JSON body or form; empty when none
	Status    int    // the status code of the reply (0 while a stream is still running)
}

// Option configures a Server.
type Option func(*config)

type config struct {
	apiKey         string
	pingInterval   time.Duration
	earlyPing      bool
	now            func() time.Time
	answer         func(query string) string
	workflowFirst  bool
	uploads        UploadLimits
	blockedExts    map[string]bool
	speechToText   bool
	siteEnabled    bool
	maxJSONBody    int64
	timeouts       Timeouts
	reattachIdle   time.Duration
	limits         Limits
	variables      []Variable
	suggestions    []string
	openingMessage string
	validation422  bool   // WithValidationStatus(422)
	mode           string // the app mode (WithMode)
}

// Variable declares a conversation variable that every new conversation
// starts with (see WithVariables).
//
// Like Dify, the server answers a variable's value as a string: Python's
// str() of the stored value (42 is "42", true is "True", {"a": 1} is
// "{'a': 1}", a string is itself), or null. Value is stored as its JSON
// encoding: a whole number (such as int 3, or float64 3) renders as a
// Python int ("3"), a number with a fraction as a Python float ("4.5"). A
// value set with PUT keeps the literal the client sent, so 1.0 renders
// "1.0", as Dify keeps ints and floats apart.
type Variable struct {
	Name        string
	ValueType   string // string, number, object, boolean, array[string], array[number], array[object]
	Value       any    // the initial value; anything encoding/json can encode
	Description string
}

// WithAPIKey sets the API key the server accepts (by default a random
// "app-..." key).
func WithAPIKey(key string) Option { return func(c *config) { c.apiKey = key } }

// WithPingInterval sets how often a stream sends "event: ping" while it
// waits between events (default 10s, like Dify). Pings only occur while a
// stream waits, so combine it with SetEventDelay.
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingInterval = d } }

// WithEarlyPing makes every stream start with one ping, before its first
// event. Without it, as with Dify, a stream's headers reach the client with
// its first event; the ping sends them at once.
func WithEarlyPing() Option { return func(c *config) { c.earlyPing = true } }

// WithClock sets the clock the server takes its timestamps from.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithAnswer sets how the fake answers a query (by default it echoes it).
// The answer is streamed split at spaces.
func WithAnswer(answer func(query string) string) Option {
	return func(c *config) { c.answer = answer }
}

// WithWorkflowFinishedFirst makes streams send workflow_finished before
// message_end, as some Dify versions do (the default is message_end first).
func WithWorkflowFinishedFirst() Option { return func(c *config) { c.workflowFirst = true } }

// WithMaxUploadSize sets the largest file /files/upload accepts, for
// every type of file alike (see WithUploadLimits for one limit per type).
func WithMaxUploadSize(n int64) Option {
	return func(c *config) { c.uploads = UploadLimits{Image: n, Video: n, Audio: n, Document: n} }
}

// UploadLimits are the largest files /files/upload accepts, per type of
// file as Dify configures them; the type follows from the file name's
// extension. A larger file is answered with 413 file_too_large "File size
// exceeded. ...". A zero field takes its default.
type UploadLimits struct {
	Image    int64 // jpg, jpeg, png, webp, gif, svg (default 10 MiB)
	Video    int64 // mp4, mov, mpeg, webm (default 100 MiB)
	Audio    int64 // mp3, m4a, wav, amr, mpga (default 50 MiB)
	Document int64 // everything else (default 15 MiB)
}

// defaultUploadLimits are Dify's default upload limits.
var defaultUploadLimits = UploadLimits{Image: 10 << 20, Video: 100 << 20, Audio: 50 << 20, Document: 15 << 20}

// WithUploadLimits sets the largest upload per type of file; zero fields
// keep their defaults.
func WithUploadLimits(l UploadLimits) Option { return func(c *config) { c.uploads = l } }

// WithBlockedExtensions makes /files/upload refuse files whose extension
// (without the dot, any case, such as "exe") is listed, with 400
// invalid_param, like a Dify server whose operator configured a blacklist.
// By default no extension is blocked.
func WithBlockedExtensions(exts ...string) Option {
	return func(c *config) {
		c.blockedExts = map[string]bool{}
		for _, e := range exts {
			c.blockedExts[strings.ToLower(strings.TrimPrefix(e, "."))] = true
		}
	}
}

// WithSpeechToText switches the app's speech-to-text feature on (the
// default) or off. When off, /audio-to-text answers 400 "Speech to text is
// not enabled" and /parameters reports speech_to_text disabled.
func WithSpeechToText(on bool) Option { return func(c *config) { c.speechToText = on } }

// WithSiteEnabled switches the app's web app on (the default) or off. When
// off, /site answers 403 forbidden, as Dify does.
func WithSiteEnabled(on bool) Option { return func(c *config) { c.siteEnabled = on } }

// WithMaxJSONBody sets the largest JSON request body the server reads
// (default 1 MiB); a larger one is answered with 413
// request_entity_too_large. Multipart uploads are bounded by the upload
// limits instead.
func WithMaxJSONBody(n int64) Option { return func(c *config) { c.maxJSONBody = n } }

// Timeouts bound how long a connection may take to send a request and how
// long an idle keep-alive connection stays open. None of them limits how
// long a reply (a stream) may last. A zero field takes its default.
type Timeouts struct {
	ReadHeader time.Duration // to receive a request's headers (default 10s)
	ReadBody   time.Duration // to receive a request's body, whether or not it is refused before it is read (default 2 minutes); then the connection is closed
	Idle       time.Duration // an idle keep-alive connection stays open (default 60s)
}

// WithTimeouts sets the connection timeouts (see Timeouts) of the server
// that NewServer, Start and ListenAndServe run.
func WithTimeouts(t Timeouts) Option { return func(c *config) { c.timeouts = t } }

// WithReattachIdleTimeout sets how long GET /workflow/{id}/events waits
// without any event of the run before it ends the stream silently (default
// 300s, like Dify).
func WithReattachIdleTimeout(d time.Duration) Option {
	return func(c *config) { c.reattachIdle = d }
}

// WithVariables replaces the conversation variables every new conversation
// starts with.
func WithVariables(vars ...Variable) Option {
	return func(c *config) { c.variables = append([]Variable(nil), vars...) }
}

// WithValidationStatus chooses how the endpoints that newer Dify source
// validates with a decorator (GET /messages, POST /messages/{id}/feedbacks,
// GET /app/feedbacks and every annotation endpoint) answer a request that
// fails validation. The default, 400, answers 400 invalid_param with a
// readable message, like Dify 1.16.1 does on every endpoint; 422 answers
// those endpoints with 422 unprocessable_entity whose message is a JSON
// array of field errors (objects with loc, msg and type), like the later
// source. Other endpoints answer 400 invalid_param either way. Any status
// other than 422 means 400.
func WithValidationStatus(status int) Option {
	return func(c *config) { c.validation422 = status == http.StatusUnprocessableEntity }
}

// WithSuggestedQuestions sets what /messages/{id}/suggested answers.
func WithSuggestedQuestions(q ...string) Option {
	return func(c *config) { c.suggestions = append([]string(nil), q...) }
}

// NewServer starts a fake server on a loopback port. Close it when done.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a fake server that does not listen yet: call
// Start, or serve its Handler yourself.
func NewUnstartedServer(opts ...Option) *Server {
	// Load the API description before the first request, not during it:
	// a client with a short idle timeout must not see its first reply held
	// up by that one-time cost.
	_ = spectest.Warm()
	cfg := config{
		pingInterval: 10 * time.Second,
		now:          time.Now,
		answer:       func(q string) string { return "You said: " + q },
		speechToText: true,
		siteEnabled:  true,
		variables: []Variable{
			{Name: "topic", ValueType: "string", Value: "", Description: "What the conversation is about."},
			{Name: "turns", ValueType: "number", Value: 0, Description: "How many questions were asked."},
		},
		suggestions: []string{"Can you say more?", "Why is that?", "What should I do next?"},
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mode == "" {
		cfg.mode = ModeAdvancedChat
	}
	if err := checkMode(cfg.mode); err != nil {
		panic(err)
	}
	if cfg.apiKey == "" {
		cfg.apiKey = randomKey()
	}
	orDefault(&cfg.pingInterval, 10*time.Second)
	orDefault(&cfg.uploads.Image, defaultUploadLimits.Image)
	orDefault(&cfg.uploads.Video, defaultUploadLimits.Video)
	orDefault(&cfg.uploads.Audio, defaultUploadLimits.Audio)
	orDefault(&cfg.uploads.Document, defaultUploadLimits.Document)
	orDefault(&cfg.maxJSONBody, 1<<20)
	orDefault(&cfg.timeouts.ReadHeader, 10*time.Second)
	orDefault(&cfg.timeouts.ReadBody, 2*time.Minute)
	orDefault(&cfg.timeouts.Idle, 60*time.Second)
	orDefault(&cfg.reattachIdle, 300*time.Second)
	cfg.limits = cfg.limits.withDefaults()
	s := &Server{APIKey: cfg.apiKey, cfg: cfg, quit: make(chan struct{})}
	s.st.init()
	s.st.limits = &s.cfg.limits
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s
}

// Start starts the server on a loopback port and sets URL.
func (s *Server) Start() {
	if s.ts != nil {
		panic("chatflowtest: Server already started")
	}
	s.ts = httptest.NewUnstartedServer(s.handler)
	s.configure(s.ts.Config)
	s.ts.Start()
	s.URL = s.ts.URL + Prefix
}

// configure sets the connection timeouts of hs. There is no write timeout:
// it would cut long streams.
func (s *Server) configure(hs *http.Server) {
	hs.ReadHeaderTimeout = s.cfg.timeouts.ReadHeader
	hs.IdleTimeout = s.cfg.timeouts.Idle
	hs.MaxHeaderBytes = 64 << 10
}

// Close shuts the server down: running streams end, and so do runs still
// going (they fail). It returns when every run has ended. Close may be
// called more than once. A server whose Handler is mounted elsewhere should
// be closed too; its runs otherwise end on their own.
func (s *Server) Close() {
	s.shutdown()
	if s.ts != nil {
		s.ts.CloseClientConnections()
		s.ts.Close()
	}
	s.running.Wait()
}

// shutdown ends the runs and the streams that follow them.
func (s *Server) shutdown() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
	})
}

// Handler returns the server's HTTP handler, which serves the API below
// /v1, for mounting it in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Client returns an HTTP client for the started server.
func (s *Server) Client() *http.Client {
	if s.ts == nil {
		return http.DefaultClient
	}
	return s.ts.Client()
}

// FailNext makes the next n calls of the operation (its operationId in the
// API description, such as "sendChatMessage") fail with status and a Dify
// error body with code. An empty code sends an HTML body instead, as a proxy
// in front of Dify would (useful with 502, 503 and 504). Failures happen
// after the key and the request were checked.
func (s *Server) FailNext(operationID string, n, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault.fail == nil {
		s.fault.fail = map[string]*failure{}
	}
	if n <= 0 {
		delete(s.fault.fail, operationID)
		return
	}
	s.fault.fail[operationID] = &failure{n: n, status: status, code: code}
}

// SetDelay delays every reply by d (0 turns it off). A request whose
// context ends while it waits gets no reply.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.fault.delay = d
	s.mu.Unlock()
}

// SetEventDelay makes the runs that start from now on wait d between answer
// tokens (and, when d > 0, check for a stop before the first one), so that
// pings, stop requests and reattaching can happen during a run. A run
// whose client went away keeps going at that pace.
func (s *Server) SetEventDelay(d time.Duration) {
	s.mu.Lock()
	s.fault.eventDelay = d
	s.mu.Unlock()
}

// CutStreamAfter makes the next streaming run reply (chat, workflow or
// completion, per the app mode) break off after k
// events (pings not counted): the server drops the connection without a
// terminal event and without ending the HTTP response properly. The run
// itself goes on and completes, as on a real server: a client can reattach
// with GET /workflow/{id}/events (the run id is in every workflow event,
// from the first, workflow_started; no header names it, as on Dify 1.16.1)
// and find the stored answer with GET /messages.
func (s *Server) CutStreamAfter(k int) {
	s.mu.Lock()
	s.fault.cut = &streamCut{after: k, abort: true}
	s.mu.Unlock()
}

// EndStreamAfter makes the next stream end normally at the HTTP level after
// k events, but without its terminal events (message_end,
// workflow_finished): a stream some users see from real servers.
func (s *Server) EndStreamAfter(k int) {
	s.mu.Lock()
	s.fault.cut = &streamCut{after: k}
	s.mu.Unlock()
}

// FailNextRun makes the next chat run fail the way a failing workflow does:
// a blocking request gets 400 invalid_param "Run failed: message"; a stream
// gets workflow_finished (status failed) and then an error event, and no
// message_end. In a workflow app the stream is the same (without
// conversation and message ids) and a blocking request gets the failed
// run; in apps without a workflow the model fails: a stream ends with an
// error event, a blocking request gets 400, both completion_request_error.
func (s *Server) FailNextRun(message string) {
	s.mu.Lock()
	s.fault.runFail = &message
	s.mu.Unlock()
}

// PauseNextRun makes the next streaming chatflow or workflow run stop at a
// human input node (runs of the other app modes do not pause): the stream sends human_input_required (with a form_token) and
// workflow_paused, and ends. The form is read and submitted with
// /form/human_input/{form_token}; submitting it resumes the run in the
// background (workflow_started, human_input_form_filled, the answer,
// message_end, workflow_finished), which GET
// /workflow/{workflow_run_id}/events follows: open it before submitting
// (its first event, a ping, says it follows), or use
// include_state_snapshot=true and continue_on_pause=true.
func (s *Server) PauseNextRun() {
	s.mu.Lock()
	s.fault.pause = true
	s.mu.Unlock()
}

// Requests returns the requests received so far (at most the last 10000),
// oldest first. A request is listed from its arrival; its Operation, User
// and Status are filled in when its reply is complete. Path holds the ids
// of the path, so a stop request reads /chat-messages/{task_id}/stop.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	for i, r := range s.log {
		out[i] = *r
	}
	return out
}

type faults struct {
	fail       map[string]*failure
	delay      time.Duration
	eventDelay time.Duration
	cut        *streamCut
	runFail    *string
	pause      bool
}

type failure struct {
	n, status int
	code      string
}

type streamCut struct {
	after int
	abort bool
}

// takeFailure consumes one injected failure of op, if any.
func (s *Server) takeFailure(op string) *failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault.fail[op]
	if f == nil {
		return nil
	}
	f.n--
	if f.n <= 0 {
		delete(s.fault.fail, op)
	}
	return &failure{status: f.status, code: f.code}
}

func randomKey() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	b.WriteString("app-")
	for range 24 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(fmt.Sprintf("chatflowtest: random key: %v", err))
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String()
}
