package chatflow

import (
	"context"
	"io"
	"mime"
	"net/http"

	"github.com/difykit/chatflow/gen"
)

// Download is a binary reply (a file preview, synthesized speech) being
// streamed from the server. Read it like any io.Reader, for example with
// io.Copy into a file, and Close it when done, also on error paths: closing
// early stops the transfer.
type Download struct {
	io.ReadCloser
	// ContentType is the media type the server sent, such as "audio/mpeg".
	ContentType string
	// ContentLength is the body's length in bytes, or -1 when unknown.
	ContentLength int64
	// Filename is the file name of the Content-Disposition header, if any.
	Filename string
}

func newDownload(resp *http.Response, body io.ReadCloser) *Download {
	d := &Download{ReadCloser: body, ContentType: resp.Header.Get("Content-Type"), ContentLength: resp.ContentLength}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		d.Filename = baseName(params["filename"])
	}
	return d
}

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
