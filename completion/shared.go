package completion

import (
	"context"
	"io"
	"iter"

	"github.com/difykit/chatflow"
)

// The operations completion apps share with chatflow apps, as chatflow
// names them.

// SendFeedback rates a message (MessageID of a Result) for user.
func (c *Client) SendFeedback(ctx context.Context, messageID, user string, rating chatflow.Rating, content string) error {
	return c.chat.SendFeedback(ctx, messageID, user, rating, content)
}

// RevokeFeedback withdraws user's rating of a message.
func (c *Client) RevokeFeedback(ctx context.Context, messageID, user string) error {
	return c.chat.RevokeFeedback(ctx, messageID, user)
}

// AppFeedbacks yields the ratings given to the app's messages.
func (c *Client) AppFeedbacks(ctx context.Context, opts ...chatflow.ListOption) iter.Seq2[chatflow.AppFeedback, error] {
	return c.chat.AppFeedbacks(ctx, opts...)
}

// SuggestedQuestions returns follow-up questions for a message. Dify
// offers them to chat apps: current servers refuse completion apps with
// 400 not_chat_app.
func (c *Client) SuggestedQuestions(ctx context.Context, messageID, user string) ([]string, error) {
	return c.chat.SuggestedQuestions(ctx, messageID, user)
}

// UploadFile uploads a file to attach to a Request (streamed, not held in
// memory).
func (c *Client) UploadFile(ctx context.Context, user, filename string, r io.Reader) (*chatflow.FileUpload, error) {
	return c.chat.UploadFile(ctx, user, filename, r)
}

// PreviewFile downloads a file a message of the app references; close
// the Download.
func (c *Client) PreviewFile(ctx context.Context, fileID, user string, as chatflow.Disposition) (*chatflow.Download, error) {
	return c.chat.PreviewFile(ctx, fileID, user, as)
}

// EndUser returns an end user of the app.
func (c *Client) EndUser(ctx context.Context, endUserID string) (*chatflow.EndUser, error) {
	return c.chat.EndUser(ctx, endUserID)
}

// AudioToText transcribes speech (the file's name gives its type).
func (c *Client) AudioToText(ctx context.Context, user, filename string, r io.Reader) (string, error) {
	return c.chat.AudioToText(ctx, user, filename, r)
}

// TextToAudio turns text, or a message's answer, into speech (audio/mpeg);
// close the Download.
func (c *Client) TextToAudio(ctx context.Context, req chatflow.TextToAudioRequest) (*chatflow.Download, error) {
	return c.chat.TextToAudio(ctx, req)
}

// AppInfo returns the app's name, description, tags, mode and author.
func (c *Client) AppInfo(ctx context.Context) (*chatflow.AppInfo, error) { return c.chat.AppInfo(ctx) }

// AppParameters returns the app's input form, feature switches and upload
// limits.
func (c *Client) AppParameters(ctx context.Context) (*chatflow.AppParameters, error) {
	return c.chat.AppParameters(ctx)
}

// AppMeta returns the icons of the tools the app uses.
func (c *Client) AppMeta(ctx context.Context) (*chatflow.AppMeta, error) { return c.chat.AppMeta(ctx) }

// AppSite returns the app's web-app settings.
func (c *Client) AppSite(ctx context.Context) (*chatflow.AppSite, error) { return c.chat.AppSite(ctx) }
