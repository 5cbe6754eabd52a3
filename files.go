package chatflow

import (
	"context"

	"github.com/difykit/chatflow/gen"
)

// PreviewFile downloads a file that the app's messages reference (an
// upload or a generated file), as user. With asAttachment the server sends
// it as an attachment (Content-Disposition with its file name). The body
// streams: copy it where you like and close it.
func (c *Client) PreviewFile(ctx context.Context, fileID, user string, asAttachment bool) (*Download, error) {
	if err := checkID("file id", fileID); err != nil {
		return nil, err
	}
	params := &gen.PreviewChatFileParams{User: ptr(user), AsAttachment: ptr(asAttachment)}
	resp, err := c.raw.PreviewChatFile(withBinaryReply(ctx), fileID, params)
	if err != nil {
		return nil, err
	}
	return newDownload(resp, resp.Body), nil
}
