package chatflow

import (
	"context"
	"io"
	"mime"
	"net/http"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
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
	if err := transport.CheckID("file id", fileID); err != nil {
		return nil, err
	}
	params := &gen.PreviewChatFileParams{User: ptr(user), AsAttachment: ptr(bool(as))}
	resp, err := c.raw.PreviewChatFile(transport.WithBinaryReply(ctx), fileID, params)
	if err != nil {
		return nil, err
	}
	return newDownload(resp, resp.Body), nil
}

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

// readCloser reads from a buffered view of a body and closes the body.
type readCloser struct {
	io.Reader
	io.Closer
}
