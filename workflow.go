package chatflow

import (
	"context"
	"iter"
	"time"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/paging"
	"github.com/difykit/chatflow/internal/transport"
)

// WorkflowLogFilter narrows WorkflowLogs; nil fields are not sent.
type WorkflowLogFilter struct {
	// Keyword matches the runs' inputs and outputs.
	Keyword *string
	// Status keeps the runs with this status (the server accepts only
	// succeeded, failed and stopped as a filter).
	Status *WorkflowLogStatus
	// CreatedAtBefore and CreatedAtAfter bound the runs' start time.
	CreatedAtBefore, CreatedAtAfter *time.Time
	// CreatedByEndUserSessionID keeps the runs of one end user (the user
	// string the client sent).
	CreatedByEndUserSessionID *string
	// CreatedByAccount keeps the runs started by one console account.
	CreatedByAccount *string
}

// WorkflowRun returns the state, inputs, outputs and figures of a workflow
// run (the workflow_run_id of a stream's workflow events).
func (c *Client) WorkflowRun(ctx context.Context, workflowRunID string) (*WorkflowRun, error) {
	if err := transport.CheckID("workflow run id", workflowRunID); err != nil {
		return nil, err
	}
	return transport.DecodeJSON[WorkflowRun](c.raw.GetWorkflowRunDetail(ctx, workflowRunID))
}

// WorkflowLogs yields the app's workflow log entries, newest first, page
// by page (page numbers). filter may be nil; WithKeyword overrides its
// Keyword and WithPageSize sets the page size. A single page is
// c.API().GetWorkflowLogsWithResponse.
func (c *Client) WorkflowLogs(ctx context.Context, filter *WorkflowLogFilter, opts ...ListOption) iter.Seq2[WorkflowLog, error] {
	cfg := paging.NewConfig(opts)
	var base gen.GetWorkflowLogsParams
	if f := filter; f != nil {
		base = gen.GetWorkflowLogsParams{Keyword: f.Keyword, Status: f.Status, CreatedAtBefore: f.CreatedAtBefore,
			CreatedAtAfter: f.CreatedAtAfter, CreatedByEndUserSessionID: f.CreatedByEndUserSessionID, CreatedByAccount: f.CreatedByAccount}
	}
	if cfg.Keyword != "" {
		base.Keyword = &cfg.Keyword
	}
	fetch := func(ctx context.Context, page int) ([]WorkflowLog, bool, error) {
		params := base
		params.Page, params.Limit = &page, &cfg.PageSize
		r, err := transport.DecodeJSON[gen.WorkflowLogsResponse](c.raw.GetWorkflowLogs(ctx, &params))
		if err != nil {
			return nil, false, err
		}
		return r.Data, r.HasMore, nil
	}
	return paging.Numbered(ctx, 1, fetch, func(l *WorkflowLog) string { return l.ID })
}
