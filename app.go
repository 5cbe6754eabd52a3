package chatflow

import (
	"context"

	"github.com/difykit/chatflow/gen"
)

// Descriptions of the app behind the API key.
type (
	// AppInfo is the app's name, description, tags, mode and author.
	AppInfo = gen.AppInfoResponse
	// AppParameters are the app's input form, opening statement, suggested
	// questions, feature switches and upload limits.
	AppParameters = gen.AppParametersResponse
	// AppMeta holds the icons of the tools the app uses.
	AppMeta = gen.AppMetaResponse
	// AppSite is the app's web-app settings: title, icon, colours, texts.
	AppSite = gen.WebAppSettingsResponse
)

// AppInfo returns the app's basic information (GET /info).
func (c *Client) AppInfo(ctx context.Context) (*AppInfo, error) {
	return decodeJSON[AppInfo](c.raw.GetChatAppInfo(ctx))
}

// AppParameters returns what a client needs to start a conversation: the
// input form, the opening statement, the features and the upload limits
// (GET /parameters).
func (c *Client) AppParameters(ctx context.Context) (*AppParameters, error) {
	return decodeJSON[AppParameters](c.raw.GetChatAppParameters(ctx))
}

// AppMeta returns the icons of the tools the app uses (GET /meta).
func (c *Client) AppMeta(ctx context.Context) (*AppMeta, error) {
	return decodeJSON[AppMeta](c.raw.GetChatAppMeta(ctx))
}

// AppSite returns the settings of the app's web app (GET /site).
func (c *Client) AppSite(ctx context.Context) (*AppSite, error) {
	return decodeJSON[AppSite](c.raw.GetChatWebAppSettings(ctx))
}
