package workflow

import (
	"context"
	"iter"
	"net/http"
	"time"

	"github.com/difykit/chatflow"
	gen "github.com/difykit/chatflow/gen/workflow"
	"github.com/difykit/chatflow/internal/stream"
	"github.com/difykit/chatflow/internal/transport"
)

// Event is one event of a run's stream: workflow_started, node_started,
// node_finished, text_chunk, human_input_required, workflow_paused,
// workflow_finished, ... Its Name and typed accessors (WorkflowFinished,
// NodeStarted, TextChunk, ...) are chatflow's; workflow events carry no
// conversation or message id.
type Event = chatflow.Event

// RunRequest is a run of the app's workflow.
type RunRequest struct {
	// Inputs are the start node's variables by name; nil is sent as {}.
	Inputs map[string]any
	// User is your id for the end user (required by the server); runs and
	// files belong to the user that created them.
	User string
	// Files are files for the run's system file variable, uploaded
	// (UploadFile, then chatflow.TransferMethodLocalFile and UploadFileID)
	// or by URL.
	Files []chatflow.InputFile
	// WorkflowID runs that published version of the workflow; empty runs
	// the published workflow.
	WorkflowID string
}

// Result is a gathered run.
type Result struct {
	// RunID is the workflow run id (for RunInfo, RunEvents).
	RunID string `json:"run_id"`
	// TaskID is the task id of the run (for StopRun while it runs).
	TaskID string `json:"task_id"`
	// Status is succeeded, failed, stopped, partial-succeeded, or paused
	// when the run waits for human input.
	Status string `json:"status"`
	// Outputs are the end node's outputs.
	Outputs map[string]any `json:"outputs"`
	// Error is why the run failed, from workflow_finished.
	Error string `json:"error,omitempty"`
	// TotalTokens are the tokens the run used.
	TotalTokens int `json:"total_tokens"`
	// ElapsedTime is the run's duration in seconds, as the server counts it.
	ElapsedTime float64 `json:"elapsed_time"`
	// Resumed reports that the connection dropped and the stream
	// reattached to the run.
	Resumed bool `json:"resumed,omitempty"`
	// Paused reports that the run stopped at a Human Input node: submit
	// Forms (SubmitHumanInputForm), then follow the run with RunEvents.
	Paused bool `json:"paused,omitempty"`
	// Forms are the human-input forms the paused run waits for.
	Forms []chatflow.PendingForm `json:"forms,omitempty"`
}

// Run runs the workflow and gathers its result. The request streams on
// the wire (a blocking call would be cut by proxies on long runs).
//
// A failed run is treated as chatflow's SendMessage treats a failed
// workflow: Run returns the Result (Status "failed", Error) together with
// the error event that Dify sends after it, an *chatflow.APIError (400
// invalid_param "Run failed: ..."); when no error event follows, the
// error is nil and Status says "failed". A stopped run has Status
// "stopped" and no error. A stream that ends before workflow_finished or
// workflow_paused, and cannot be resumed, fails with an error matching
// chatflow.ErrIncompleteStream.
func (c *Client) Run(ctx context.Context, req RunRequest) (*Result, error) {
	s, err := c.StreamRun(ctx, req)
	if err != nil {
		return nil, err
	}
	return s.Collect()
}

// StreamRun starts a run and returns its event stream (always
// response_mode streaming). Read it with Events or Collect; it closes
// itself at the run's end, and Close before the end stops the run
// (chatflow.WithAutoStop).
func (c *Client) StreamRun(ctx context.Context, req RunRequest) (*Stream, error) {
	body := gen.WorkflowExecutionRequest{
		Inputs:       req.Inputs,
		User:         req.User,
		ResponseMode: gen.WorkflowExecutionRequestResponseModeStreaming,
	}
	if body.Inputs == nil {
		body.Inputs = map[string]any{}
	}
	for _, f := range req.Files {
		body.Files = append(body.Files, gen.InputFile{Type: gen.FileType(f.Type), TransferMethod: gen.TransferMethod(f.TransferMethod),
			URL: f.URL, UploadFileID: f.UploadFileID})
	}
	var send func(context.Context) (*http.Response, error)
	if req.WorkflowID == "" {
		send = func(ctx context.Context) (*http.Response, error) {
			return c.raw.ExecuteWorkflow(ctx, body, acceptEventStream)
		}
	} else {
		if err := transport.CheckID("workflow id", req.WorkflowID); err != nil {
			return nil, err
		}
		send = func(ctx context.Context) (*http.Response, error) {
			return c.raw.RunWorkflowByID(ctx, req.WorkflowID, body, acceptEventStream)
		}
	}
	return c.open(ctx, req.User, false, send)
}

// RunEvents follows a run by its id (GET /workflow/{run_id}/events): the
// events so far (a snapshot the server rebuilds) and then live ones, to
// workflow_finished. A paused run's stream stays open through its resumed
// part (continue_on_pause), so that RunEvents continues a run after its
// human-input form was submitted; it also watches a run another process
// started. user must be the user that started the run.
func (c *Client) RunEvents(ctx context.Context, runID, user string) (*Stream, error) {
	if err := transport.CheckID("workflow run id", runID); err != nil {
		return nil, err
	}
	return c.open(ctx, user, true, func(ctx context.Context) (*http.Response, error) {
		on := true
		return c.raw.StreamWorkflowEvents(ctx, runID, &gen.StreamWorkflowEventsParams{User: user, IncludeStateSnapshot: &on, ContinueOnPause: &on}, acceptEventStream)
	})
}

// StopRun asks the server to stop a run by its task id (Result.TaskID,
// Stream.TaskID). The server answers success even for an unknown or
// finished task.
func (c *Client) StopRun(ctx context.Context, taskID, user string) error {
	if err := transport.CheckID("task id", taskID); err != nil {
		return err
	}
	return transport.CheckSuccess(c.raw.StopWorkflowTaskGeneration(ctx, taskID, gen.StopWorkflowTaskGenerationJSONRequestBody{User: user}))
}

// acceptEventStream asks for an event stream.
func acceptEventStream(_ context.Context, req *http.Request) error {
	req.Header.Set("Accept", "text/event-stream")
	return nil
}

// open starts a stream with the app's reattach and stop endpoints. A
// stream that continues on pause (a follow of a run) ends only at
// workflow_finished, and drops the events its run sends again.
func (c *Client) open(ctx context.Context, user string, continueOnPause bool, send func(context.Context) (*http.Response, error)) (*Stream, error) {
	vocab := runEvents
	if continueOnPause {
		vocab = followEvents
	}
	s, err := stream.Open(ctx, stream.Config{
		Vocabulary:    vocab,
		Server:        &runEndpoints{c: c, user: user, continueOnPause: continueOnPause},
		Doer:          c.tr,
		MaxEventBytes: c.cfg.MaxEventBytes,
		Resume:        !c.cfg.NoResume,
		AutoStop:      !c.cfg.NoAutoStop,
		LateJoin:      continueOnPause,
	}, send)
	if err != nil {
		return nil, err
	}
	return &Stream{s: s}, nil
}

// runEvents is what the stream engine knows of a workflow run's events:
// the run ends at workflow_finished or workflow_paused; its text
// (text_chunk) is not an answer the server stores.
var runEvents = &stream.Vocabulary{
	Ping:        chatflow.EventPing,
	PingData:    `{"event":"ping"}`,
	Error:       chatflow.EventError,
	Terminal:    []string{chatflow.EventWorkflowFinished, chatflow.EventWorkflowPaused},
	RunFinished: chatflow.EventWorkflowFinished,
	RunPaused:   chatflow.EventWorkflowPaused,
}

// followEvents is runEvents for a stream that goes on through pauses.
var followEvents = func() *stream.Vocabulary {
	v := *runEvents
	v.Terminal = []string{chatflow.EventWorkflowFinished}
	return &v
}()

// runEndpoints is the server as the stream engine sees it: the requests
// about one stream's run, made for the user who started it.
type runEndpoints struct {
	c               *Client
	user            string
	continueOnPause bool
}

// Reattach sends GET /workflow/{run}/events.
func (rs *runEndpoints) Reattach(ctx context.Context, runID string, opts stream.ReattachOptions) (*http.Response, error) {
	if err := transport.CheckID("workflow run id", runID); err != nil {
		return nil, err
	}
	params := &gen.StreamWorkflowEventsParams{User: rs.user}
	on := true
	if !opts.LiveOnly {
		params.IncludeStateSnapshot = &on
		if rs.continueOnPause {
			params.ContinueOnPause = &on
		}
	}
	editors := []gen.RequestEditorFn{acceptEventStream}
	if id := opts.LastEventID; id != "" {
		editors = append(editors, func(_ context.Context, req *http.Request) error {
			req.Header.Set("Last-Event-ID", id)
			return nil
		})
	}
	return rs.c.raw.StreamWorkflowEvents(ctx, runID, params, editors...)
}

// RunState reads GET /workflows/run/{id}; the final event rebuilt from it
// is workflow_paused for a paused run, workflow_finished otherwise.
func (rs *runEndpoints) RunState(ctx context.Context, runID string) (stream.RunState, error) {
	wr, err := rs.c.RunInfo(ctx, runID)
	if err != nil {
		return stream.RunState{}, err
	}
	st := stream.RunState{Status: wr.Status, Elapsed: time.Duration(float64(wr.ElapsedTime) * float64(time.Second))}
	data := map[string]any{"id": wr.ID, "workflow_run_id": runID, "status": wr.Status, "outputs": wr.Outputs,
		"elapsed_time": wr.ElapsedTime, "total_tokens": wr.TotalTokens, "total_steps": wr.TotalSteps,
		"created_at": wr.CreatedAt, "finished_at": wr.FinishedAt}
	if wr.Error != "" {
		data["error"] = wr.Error
	}
	st.Data = data
	return st, nil
}

// StoredAnswer finds nothing: a workflow app stores no message.
func (rs *runEndpoints) StoredAnswer(context.Context, string, string) (string, bool) {
	return "", false
}

// Stop sends POST /workflows/tasks/{task_id}/stop.
func (rs *runEndpoints) Stop(ctx context.Context, taskID string) error {
	return rs.c.StopRun(ctx, taskID, rs.user)
}

// Stream is the event stream of a run. Read it once, with Events or
// Collect. It closes itself at the run's end; Close releases it early.
//
// A connection that drops before the run's end reattaches to the run
// (GET /workflow/{run_id}/events) and goes on without repeating an event
// (unless chatflow.WithResume(false)). A stream given up before the run's
// end (a break out of Events, Close, or the context's end) stops the run
// on the server with one stop request carrying the request's user (unless
// chatflow.WithAutoStop(false)); none is sent after a normal end.
type Stream struct {
	s *stream.Stream
}

// Events yields the run's events in order, pings included. It yields at
// most one error and then stops: an *chatflow.APIError for an error
// event, or an error matching chatflow.ErrIncompleteStream when the stream
// ended early and could not be resumed. Breaking out of the loop closes
// the stream (and stops an unfinished run). The events can be read once.
func (s *Stream) Events() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for ev, err := range s.s.Events() {
			if err != nil {
				yield(Event{}, err)
				return
			}
			if !yield(chatflow.ParseEvent([]byte(ev.Data)), nil) {
				return
			}
		}
	}
}

// WaitStop waits until the stop request that abandoning the stream sent
// in the background (and any read for the task id before it) has ended,
// or ctx is done.
func (s *Stream) WaitStop(ctx context.Context) error { return s.s.WaitStop(ctx) }

// Collect reads the stream to its end and gathers the Result. On an error
// it returns what it gathered together with the error (see Run).
func (s *Stream) Collect() (*Result, error) {
	r := &Result{}
	var err error
	for ev, e := range s.Events() {
		if e != nil {
			err = e
			break
		}
		if err = r.Add(ev); err != nil {
			break
		}
	}
	r.RunID, r.TaskID, r.Resumed = s.RunID(), s.TaskID(), s.Resumed()
	return r, err
}

// Add folds one event into r as Collect does (workflow_finished,
// workflow_paused and human_input_required count; other events are
// ignored), for callers that read Events themselves. It fails only on an
// event whose payload cannot be decoded.
func (r *Result) Add(ev Event) error {
	switch ev.Name() {
	case chatflow.EventWorkflowFinished:
		w, err := ev.WorkflowFinished()
		if err != nil {
			return err
		}
		if d := w.Data; d != nil {
			r.Status, r.Outputs, r.Error, r.TotalTokens = d.Status, d.Outputs, d.Error, d.TotalTokens
			r.ElapsedTime = float64(d.ElapsedTime)
		}
		r.Paused = false
	case chatflow.EventWorkflowPaused:
		w, err := ev.WorkflowPaused()
		if err != nil {
			return err
		}
		r.Paused, r.Status = true, "paused"
		if d := w.Data; d != nil {
			if d.Outputs != nil {
				r.Outputs = d.Outputs
			}
			r.TotalTokens = d.TotalTokens
			r.ElapsedTime = float64(d.ElapsedTime)
			for _, f := range d.HumanInputForms {
				r.addForm(chatflow.PendingForm{Token: f.FormToken, FormID: f.FormID, NodeID: f.NodeID, NodeTitle: f.NodeTitle,
					Content: f.FormContent, ExpiresAt: unixTime(f.ExpirationTime)}, false)
			}
		}
	case chatflow.EventHumanInputRequired:
		h, err := ev.HumanInputRequired()
		if err != nil {
			return err
		}
		if d := h.Data; d != nil {
			r.addForm(chatflow.PendingForm{Token: d.FormToken, FormID: d.FormID, NodeID: d.NodeID, NodeTitle: d.NodeTitle,
				Content: d.FormContent, ExpiresAt: unixTime(d.ExpirationTime), Data: d}, true)
		}
	}
	return nil
}

// addForm adds f to Forms; replace says whether f replaces a form of the
// same token (a human_input_required's form is the fuller one).
func (r *Result) addForm(f chatflow.PendingForm, replace bool) {
	for i := range r.Forms {
		if f.Token != "" && r.Forms[i].Token == f.Token {
			if replace {
				r.Forms[i] = f
			}
			return
		}
	}
	r.Forms = append(r.Forms, f)
}

// unixTime is t seconds after the epoch, or the zero time for 0.
func unixTime(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(t, 0)
}

// Close ends the stream and releases its connection; before the run's end
// it stops the run (see Stream). It may be called more than once.
func (s *Stream) Close() error { return s.s.Close() }

// RunID returns the workflow run id, once an event carried it.
func (s *Stream) RunID() string { return s.s.RunID() }

// TaskID returns the run's task id, once an event carried it.
func (s *Stream) TaskID() string { return s.s.TaskID() }

// Resumed reports whether the stream reattached after a dropped connection.
func (s *Stream) Resumed() bool { return s.s.Resumed() }

// Stop asks the server to stop the run now (POST
// /workflows/tasks/{task_id}/stop with the request's user); the stream
// then ends with workflow_finished, status stopped. It fails with an
// error matching chatflow.ErrInvalidID while no event has carried the
// task id.
func (s *Stream) Stop(ctx context.Context) error { return s.s.Stop(ctx) }
