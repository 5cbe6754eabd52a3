package chatflow

import (
	"context"
	"iter"

	"github.com/difykit/chatflow/gen"
)

type (
	// WorkflowRun is the state and result of one workflow run.
	WorkflowRun = gen.WorkflowRunDetailResponse
	// WorkflowLog is one entry of the app's workflow run log.
	WorkflowLog = gen.WorkflowLogItem
	// WorkflowLogFilter narrows WorkflowLogs: keyword, status, time range,
	// end user or account. Its Page and Limit are ignored (see WorkflowLogs).
	WorkflowLogFilter = gen.GetWorkflowLogsParams
	// EndUser is an end user of the app, as the server knows them.
	EndUser = gen.EndUserDetail
	// AppFeedback is one rating given to a message of the app.
	AppFeedback = gen.FeedbackItem
)

// WorkflowLogStatus selects the runs of WorkflowLogs by their status.
type WorkflowLogStatus = gen.GetWorkflowLogsParamsStatus

// The statuses the server accepts as a WorkflowLogs filter (runs can have
// other statuses, but the server rejects any other filter value).
const (
	WorkflowLogStatusSucceeded WorkflowLogStatus = gen.GetWorkflowLogsParamsStatusSucceeded
	WorkflowLogStatusFailed    WorkflowLogStatus = gen.GetWorkflowLogsParamsStatusFailed
	WorkflowLogStatusStopped   WorkflowLogStatus = gen.GetWorkflowLogsParamsStatusStopped
)

// WorkflowRun returns the state, inputs, outputs and figures of a workflow
// run (the workflow_run_id of a stream's workflow events).
func (c *Client) WorkflowRun(ctx context.Context, workflowRunID string) (*WorkflowRun, error) {
	if err := checkID("workflow run id", workflowRunID); err != nil {
		return nil, err
	}
	return decodeJSON[WorkflowRun](c.raw.GetWorkflowRunDetail(ctx, workflowRunID))
}

// WorkflowLogs yields the app's workflow log entries, newest first, page
// by page (page numbers). filter may be nil; WithKeyword overrides its
// Keyword and WithPageSize sets the page size. A single page is
// c.GetWorkflowLogsWithResponse.
func (c *Client) WorkflowLogs(ctx context.Context, filter *WorkflowLogFilter, opts ...ListOption) iter.Seq2[WorkflowLog, error] {
	cfg := newListConfig(opts)
	var base WorkflowLogFilter
	if filter != nil {
		base = *filter
	}
	if cfg.keyword != "" {
		base.Keyword = &cfg.keyword
	}
	fetch := func(ctx context.Context, page int) ([]WorkflowLog, bool, error) {
		params := base
		params.Page, params.Limit = &page, &cfg.pageSize
		r, err := decodeJSON[gen.WorkflowLogsResponse](c.raw.GetWorkflowLogs(ctx, &params))
		if err != nil {
			return nil, false, err
		}
		return r.Data, r.HasMore, nil
	}
	return numberedSeq(ctx, 1, fetch, func(l *WorkflowLog) string { return l.ID })
}

// AppFeedbacks yields the ratings given to the app's messages, page by
// page (page numbers). The server does not say whether more pages exist:
// the sequence ends at the first page with fewer items than the page size.
// A single page is c.GetChatAppFeedbacksWithResponse.
func (c *Client) AppFeedbacks(ctx context.Context, opts ...ListOption) iter.Seq2[AppFeedback, error] {
	cfg := newListConfig(opts)
	fetch := func(ctx context.Context, page int) ([]AppFeedback, bool, error) {
		params := &gen.GetChatAppFeedbacksParams{Page: &page, Limit: &cfg.pageSize}
		r, err := decodeJSON[gen.AppFeedbacksResponse](c.raw.GetChatAppFeedbacks(ctx, params))
		if err != nil {
			return nil, false, err
		}
		return r.Data, len(r.Data) >= cfg.pageSize, nil
	}
	return numberedSeq(ctx, 1, fetch, func(f *AppFeedback) string { return f.ID })
}

// EndUser returns an end user of the app by id (the id the server gave
// the user, not the user string the client sends).
func (c *Client) EndUser(ctx context.Context, endUserID string) (*EndUser, error) {
	if err := checkID("end user id", endUserID); err != nil {
		return nil, err
	}
	return decodeJSON[EndUser](c.raw.GetEndUserChat(ctx, endUserID))
}
