package chatflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"sync"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/filekind"
	"github.com/difykit/chatflow/internal/transport"
)

// expectContinueSize is the body size from which an upload asks the server
// to accept it before sending it (Expect: 100-continue), so that a server or
// proxy refusing a large file (413, 415) answers before the body is sent
// instead of cutting the connection mid-upload.
const expectContinueSize = 1 << 20

// sniffLen is how many leading bytes decide the content type of a file
// whose name has no known extension (as in http.DetectContentType).
const sniffLen = 512

// errUploadDone is what the transport reads from an upload body after the
// call that owned it has returned or a retry has replaced it.
var errUploadDone = errors.New("chatflow: upload body used after its request ended")

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
	u, err := newUpload(ctx, user, filename, r, contentTypeForFile)
	if err != nil {
		return nil, fmt.Errorf("chatflow: UploadFile: %w", err)
	}
	resp, err := c.raw.UploadChatFileWithBody(ctx, u.contentType, u.body(), u.editor)
	resp, err = u.finish(resp, err)
	return transport.DecodeJSON[FileUpload](resp, err)
}

// upload is a multipart/form-data body with a "user" field and a "file"
// part whose content is read from the caller's reader while it is sent.
type upload struct {
	filename    string
	contentType string // of the request: multipart/form-data; boundary=...
	prefix      []byte // the user field and the file part's header
	head        []byte // bytes of r already read (sniffing), not seekable r only
	suffix      []byte // the closing boundary
	r           io.Reader
	seeker      io.Seeker // set when r can be rewound for a retry
	start       int64     // the position of r when the upload began
	length      int64     // of the whole body, -1 when unknown

	ctx context.Context // of the call

	// r is read by a goroutine of the upload (the pump), so that a Read
	// that blocks cannot hold a call past its context: net/http waits for
	// a body's Read to return before it gives up on a request. token holds
	// one value while no Read of r is in progress; whoever takes it may
	// have the pump read once (send the size on want, take the result from
	// got), and puts it back after. A Read abandoned because the context
	// ended keeps the token: every later wait for it ends with the context.
	token chan struct{}
	want  chan int
	got   chan readResult
	buf   []byte // where the pump's Read of r puts its bytes

	mu         sync.Mutex
	attempt    int   // the body of this attempt may read r; older ones may not
	done       bool  // the call returned: no body may read r
	readErr    error // the first error reading r (not io.EOF)
	pumping    bool  // the pump goroutine was started
	wantClosed bool  // the pump was told to end
}

// readResult is what a Read of the caller's reader returned.
type readResult struct {
	n   int
	err error
}

// uploadChunk is the most a single Read of the caller's reader asks for.
const uploadChunk = 32 << 10

// newUpload prepares the body of a call with context ctx. typeFor names the
// file's content type from its name and leading bytes.
func newUpload(ctx context.Context, user, filename string, r io.Reader, typeFor func(name string, head []byte) string) (*upload, error) {
	if isNil(r) {
		return nil, errors.New("nil reader")
	}
	name := baseName(filename)
	if name == "" {
		return nil, fmt.Errorf("file name %q has no base name", filename)
	}
	u := &upload{filename: name, r: r, length: -1, ctx: ctx,
		token: make(chan struct{}, 1), want: make(chan int, 1), got: make(chan readResult, 1)}
	u.token <- struct{}{}
	if s, ok := r.(io.Seeker); ok {
		if start, err := s.Seek(0, io.SeekCurrent); err == nil {
			if end, err := s.Seek(0, io.SeekEnd); err == nil {
				if _, err := s.Seek(start, io.SeekStart); err != nil {
					return nil, fmt.Errorf("seek %s: %w", name, err)
				}
				u.seeker, u.start, u.length = s, start, max(end-start, 0)
			}
		}
	}
	ct := typeFor(name, nil)
	if ct == "" {
		head, err := u.sniff()
		if err != nil {
			u.endPump()
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		ct = typeFor(name, head)
		if u.seeker != nil {
			if _, err := u.seeker.Seek(u.start, io.SeekStart); err != nil {
				u.endPump()
				return nil, fmt.Errorf("seek %s: %w", name, err)
			}
		} else {
			u.head = head
		}
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if user != "" {
		if err := mw.WriteField("user", user); err != nil {
			return nil, err
		}
	}
	h := make(textproto.MIMEHeader, 2)
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+escapeQuotes(name)+`"`)
	h.Set("Content-Type", ct)
	if _, err := mw.CreatePart(h); err != nil {
		return nil, err
	}
	u.prefix = bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil {
		return nil, err
	}
	u.suffix = buf.Bytes()
	u.contentType = mw.FormDataContentType()
	if u.length >= 0 {
		u.length += int64(len(u.prefix) + len(u.suffix))
	}
	return u, nil
}

// sniff reads the first sniffLen bytes of r (fewer at its end), within the
// call's context.
func (u *upload) sniff() ([]byte, error) {
	head := make([]byte, sniffLen)
	n := 0
	for n < len(head) {
		if err := u.acquire(); err != nil {
			return nil, err
		}
		u.mu.Lock()
		u.startPump(len(head) - n)
		u.mu.Unlock()
		res, err := u.result()
		if err != nil {
			return nil, err
		}
		n += copy(head[n:], u.buf[:max(0, min(res.n, len(head)-n))])
		u.release()
		if res.err == io.EOF {
			break
		}
		if res.err != nil {
			return nil, res.err
		}
	}
	return head[:n], nil
}

// body returns the body of the next attempt; bodies of earlier attempts
// stop reading r.
func (u *upload) body() io.ReadCloser {
	u.mu.Lock()
	u.attempt++
	a := u.attempt
	u.mu.Unlock()
	file := &uploadFile{u: u, attempt: a}
	parts := []io.Reader{bytes.NewReader(u.prefix)}
	if len(u.head) > 0 {
		parts = append(parts, bytes.NewReader(u.head))
	}
	parts = append(parts, file, bytes.NewReader(u.suffix))
	return &uploadBody{Reader: io.MultiReader(parts...), file: file}
}

// editor sets what the generated request builder cannot: the length, the
// way to replay the body, and Expect for large or unknown sizes.
func (u *upload) editor(_ context.Context, req *http.Request) error {
	if u.length >= 0 {
		req.ContentLength = u.length
	}
	if u.length < 0 || u.length >= expectContinueSize {
		req.Header.Set("Expect", "100-continue")
	}
	if u.seeker != nil {
		req.GetBody = u.replay
	} else {
		req.GetBody = nil
	}
	return nil
}

// replay rewinds r and returns a fresh body, for a retry or a redirect.
func (u *upload) replay() (io.ReadCloser, error) {
	// No Read of r may run while it is rewound.
	if err := u.acquire(); err != nil {
		return nil, err
	}
	defer u.release()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return nil, errUploadDone
	}
	if u.readErr != nil {
		return nil, u.readErr
	}
	if _, err := u.seeker.Seek(u.start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("chatflow: rewind %s for a retry: %w", u.filename, err)
	}
	u.attempt++
	file := &uploadFile{u: u, attempt: u.attempt}
	return &uploadBody{Reader: io.MultiReader(bytes.NewReader(u.prefix), file, bytes.NewReader(u.suffix)), file: file}, nil
}

// finish ends the upload: once it returns, no body reads r any more (it
// waits for a read in progress, unless the call's context is done). An
// error reading r wins over the reply.
func (u *upload) finish(resp *http.Response, err error) (*http.Response, error) {
	u.mu.Lock()
	u.done = true
	u.mu.Unlock()
	if u.acquire() == nil { // a Read in progress has returned
		u.release()
	}
	u.endPump()
	u.mu.Lock()
	readErr := u.readErr
	u.mu.Unlock()
	if readErr != nil {
		if resp != nil {
			_ = transport.DrainClose(resp)
		}
		return nil, fmt.Errorf("chatflow: upload %s: reading the file: %w", u.filename, readErr)
	}
	return resp, err
}

// uploadFile reads r for one attempt, under the upload's lock.
type uploadFile struct {
	u       *upload
	attempt int
}

func (f *uploadFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	u := f.u
	if err := u.acquire(); err != nil {
		return 0, err
	}
	u.mu.Lock()
	if u.done || f.attempt != u.attempt {
		u.mu.Unlock()
		u.release()
		return 0, errUploadDone
	}
	if err := u.readErr; err != nil {
		u.mu.Unlock()
		u.release()
		return 0, err
	}
	u.startPump(len(p))
	u.mu.Unlock()
	res, err := u.result()
	if err != nil {
		return 0, err // the pump keeps the token until its Read returns
	}
	defer u.release()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done || f.attempt != u.attempt {
		return 0, errUploadDone // the bytes are for no one
	}
	if res.n < 0 || res.n > min(len(p), len(u.buf)) {
		u.readErr = fmt.Errorf("read %s: the reader returned an invalid count %d", u.filename, res.n)
		return 0, u.readErr
	}
	if res.err != nil && res.err != io.EOF {
		u.readErr = res.err
	}
	return copy(p, u.buf[:res.n]), res.err
}

// acquire takes the token (see upload), or fails with the context's cause.
func (u *upload) acquire() error {
	if u.ctx == nil {
		<-u.token
		return nil
	}
	select {
	case <-u.token:
		if u.ctx.Err() != nil {
			u.release()
			return context.Cause(u.ctx)
		}
		return nil
	case <-u.ctx.Done():
		return context.Cause(u.ctx)
	}
}

func (u *upload) release() { u.token <- struct{}{} }

// chunkPool holds the pumps' buffers between uploads.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, uploadChunk); return &b }}

// startPump asks the pump, started if need be, to read at most n bytes of
// r. The caller holds the token and u.mu.
func (u *upload) startPump(n int) {
	if u.buf == nil {
		u.buf = *chunkPool.Get().(*[]byte)
	}
	if !u.pumping {
		u.pumping = true
		go u.pump()
	}
	u.want <- min(n, len(u.buf))
}

// pump reads r, once for each size sent on want, until want is closed.
func (u *upload) pump() {
	for n := range u.want {
		k, err := u.r.Read(u.buf[:n])
		u.got <- readResult{k, err}
	}
	// want is closed only once done is set (under u.mu), after which no
	// Read copies from buf: it is free for the next upload.
	buf := u.buf[:uploadChunk]
	chunkPool.Put(&buf)
}

// result waits for the pump's Read, or fails with the context's cause (the
// pump then keeps the token).
func (u *upload) result() (readResult, error) {
	if u.ctx == nil {
		return <-u.got, nil
	}
	select {
	case res := <-u.got:
		return res, nil
	case <-u.ctx.Done():
		return readResult{}, context.Cause(u.ctx)
	}
}

// endPump tells the pump to end (after a Read in progress returns).
func (u *upload) endPump() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.done = true
	if u.pumping && !u.wantClosed {
		u.wantClosed = true
		close(u.want)
	}
}

// isNil reports whether r is nil or holds a nil pointer (or another nil
// value whose methods would dereference it).
func isNil(r io.Reader) bool {
	if r == nil {
		return true
	}
	switch v := reflect.ValueOf(r); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// uploadBody is the request body of one attempt.
type uploadBody struct {
	io.Reader
	file *uploadFile
}

// Close stops the attempt from reading r; it never closes r itself.
func (b *uploadBody) Close() error {
	b.file.u.mu.Lock()
	b.file.attempt = -1
	b.file.u.mu.Unlock()
	return nil
}

// baseName is the last element of a file name given with either kind of
// slash, without characters that cannot go in a header.
func baseName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if name == "." || name == ".." {
		return ""
	}
	return name
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func escapeQuotes(s string) string { return quoteEscaper.Replace(s) }

// contentTypeForFile names the media type of an uploaded file from its
// extension (our table, then the system's), else from its first bytes;
// "" asks for those bytes.
func contentTypeForFile(name string, head []byte) string {
	if t, ok := filekind.MediaType(name); ok {
		return t
	}
	if ext := filekind.Ext(name); ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	if head == nil {
		return ""
	}
	return http.DetectContentType(head)
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
		d.Filename = baseName(params["filename"])
	}
	return d
}

// readCloser reads from a buffered view of a body and closes the body.
type readCloser struct {
	io.Reader
	io.Closer
}
