package chatflow

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
	"github.com/difykit/chatflow/internal/upload"
)

// UploadFile uploads the content of r as a file named filename on behalf of
// user, for use in chat messages (as an InputFile with transfer method
// local_file and the returned ID). The server answers 201 with the file's
// description.
//
// The body is streamed: r is read while the request is being sent, and the
// file is never held in memory. The multipart part carries the base name of
// filename and a content type, taken from the file name's extension or,
// when that is unknown, sniffed from the first 512 bytes of r.
//
// If r is an io.ReadSeeker (an *os.File, a *bytes.Reader...), the request
// declares its length and can be retried: each attempt seeks back to the
// position r had when UploadFile was called. Any other reader is sent
// once, with chunked transfer encoding. An error reading r is returned
// (wrapped); a server refusing the file, early or not, gives an *APIError
// (413 file_too_large, 415 unsupported_file_type...). A nil r, or a nil
// pointer in an io.Reader, is an error. It never closes r.
//
// Cancelling ctx (or its deadline) ends the call at once, with an error
// that matches ctx's error, even while a Read of r is blocked (an io.Pipe
// whose writer stalls, a slow network source). That Read cannot be
// interrupted: it goes on in a goroutine of its own, which ends when the
// Read returns; its bytes are discarded. Apart from that case, when
// UploadFile returns, no Read of r is in progress and none will start.
func (c *Client) UploadFile(ctx context.Context, user, filename string, r io.Reader) (*FileUpload, error) {
	u, err := upload.New(ctx, user, filename, r, upload.FileType)
	if err != nil {
		return nil, fmt.Errorf("chatflow: UploadFile: %w", err)
	}
	resp, err := c.raw.UploadChatFileWithBody(ctx, u.ContentType(), u.Reader(), u.Edit)
	resp, err = u.Finish(resp, err)
	return transport.DecodeJSON[FileUpload](resp, err)
}

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
		d.Filename = upload.BaseName(params["filename"])
	}
	return d
}

// readCloser reads from a buffered view of a body and closes the body.
type readCloser struct {
	io.Reader
	io.Closer
}
