package chatflow

import (
	"context"

	"github.com/difykit/chatflow/gen"
)

// Disposition says how PreviewFile asks for a file: Inline (its content,
// for example to show an image) or Attachment (a download with its file
// name in Content-Disposition).
type Disposition bool

// Dispositions of PreviewFile.
const (
	Inline     Disposition = false
	Attachment Disposition = true
)

// PreviewFile downloads a file that a message of the app references (an
// upload sent with a message, or a generated file); a file that was
// uploaded but never sent in a message is not found (ErrNotFound). user
// names the caller, though the server does not check ownership here. The
// body streams: copy it where you like and close it.
//
//	d, err := c.PreviewFile(ctx, fileID, "user-42", chatflow.Attachment)
func (c *Client) PreviewFile(ctx context.Context, fileID, user string, as Disposition) (*Download, error) {
	if err := checkID("file id", fileID); err != nil {
		return nil, err
	}
	params := &gen.PreviewChatFileParams{User: ptr(user), AsAttachment: ptr(bool(as))}
	resp, err := c.raw.PreviewChatFile(withBinaryReply(ctx), fileID, params)
	if err != nil {
		return nil, err
	}
	return newDownload(resp, resp.Body), nil
}
