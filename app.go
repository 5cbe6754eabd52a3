package chatflow

import (
	"context"
	"iter"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/paging"
	"github.com/difykit/chatflow/internal/transport"
)

// AppInfo returns the app's basic information (GET /info).
func (c *Client) AppInfo(ctx context.Context) (*AppInfo, error) {
	return transport.DecodeJSON[AppInfo](c.raw.GetChatAppInfo(ctx))
}

// AppParameters returns what a client needs to start a conversation: the
// input form, the opening statement, the features and the upload limits
// (GET /parameters).
func (c *Client) AppParameters(ctx context.Context) (*AppParameters, error) {
	return transport.DecodeJSON[AppParameters](c.raw.GetChatAppParameters(ctx))
}

// AppMeta returns the icons of the tools the app uses (GET /meta).
func (c *Client) AppMeta(ctx context.Context) (*AppMeta, error) {
	return transport.DecodeJSON[AppMeta](c.raw.GetChatAppMeta(ctx))
}

// AppSite returns the settings of the app's web app (GET /site).
func (c *Client) AppSite(ctx context.Context) (*AppSite, error) {
	return transport.DecodeJSON[AppSite](c.raw.GetChatWebAppSettings(ctx))
}

// AppFeedbacks yields the ratings given to the app's messages, page by
// page (page numbers). The server does not say whether more pages exist:
// the sequence ends at the first page with fewer items than the page size.
// A single page is c.API().GetChatAppFeedbacksWithResponse.
func (c *Client) AppFeedbacks(ctx context.Context, opts ...ListOption) iter.Seq2[AppFeedback, error] {
	cfg := paging.NewConfig(opts)
	fetch := func(ctx context.Context, page int) ([]AppFeedback, bool, error) {
		params := &gen.GetChatAppFeedbacksParams{Page: &page, Limit: &cfg.PageSize}
		r, err := transport.DecodeJSON[gen.AppFeedbacksResponse](c.raw.GetChatAppFeedbacks(ctx, params))
		if err != nil {
			return nil, false, err
		}
		return r.Data, len(r.Data) >= cfg.PageSize, nil
	}
	return paging.Numbered(ctx, 1, fetch, func(f *AppFeedback) string { return f.ID })
}

// EndUser returns an end user of the app by id (the id the server gave
// the user, not the user string the client sends).
func (c *Client) EndUser(ctx context.Context, endUserID string) (*EndUser, error) {
	if err := transport.CheckID("end user id", endUserID); err != nil {
		return nil, err
	}
	return transport.DecodeJSON[EndUser](c.raw.GetEndUserChat(ctx, endUserID))
}
