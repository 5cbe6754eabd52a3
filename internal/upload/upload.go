// Package upload streams a file to the server as a multipart/form-data
// request body: the file is read from the caller's reader while it is sent
// (never held whole in memory), replayed for a retry when the reader can
// seek, and never read once the call has returned, even when a Read of the
// caller's reader blocks past the call's context.
package upload

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

// Body is a multipart/form-data request body with a "user" field and a
// "file" part whose content is read from the caller's reader while it is
// sent, bound to the context of its call. Send Reader() as the body of the
// request, with ContentType() and the request editor Edit, then pass the
// reply to Finish.
type Body struct {
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

// New prepares the body of a call with context ctx that uploads what r
// holds as a file named filename (its base name), on behalf of user.
// typeFor names the file's content type from its name, or, when it returns
// "" for a nil head, from its leading bytes.
func New(ctx context.Context, user, filename string, r io.Reader, typeFor func(name string, head []byte) string) (*Body, error) {
	if isNil(r) {
		return nil, errors.New("nil reader")
	}
	name := BaseName(filename)
	if name == "" {
		return nil, fmt.Errorf("file name %q has no base name", filename)
	}
	u := &Body{filename: name, r: r, length: -1, ctx: ctx,
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
func (u *Body) sniff() ([]byte, error) {
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

// ContentType returns the Content-Type of the request:
// multipart/form-data with its boundary.
func (u *Body) ContentType() string { return u.contentType }

// Reader returns the body of the next attempt; bodies of earlier attempts
// stop reading r.
func (u *Body) Reader() io.ReadCloser {
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

// Edit sets what a generated request builder cannot: the length, the way
// to replay the body, and Expect for large or unknown sizes.
func (u *Body) Edit(_ context.Context, req *http.Request) error {
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
func (u *Body) replay() (io.ReadCloser, error) {
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

// Finish ends the upload: once it returns, no body reads r any more (it
// waits for a read in progress, unless the call's context is done). An
// error reading r wins over the reply.
func (u *Body) Finish(resp *http.Response, err error) (*http.Response, error) {
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
	u       *Body
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

// acquire takes the token (see Body), or fails with the context's cause.
func (u *Body) acquire() error {
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

func (u *Body) release() { u.token <- struct{}{} }

// chunkPool holds the pumps' buffers between uploads.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, uploadChunk); return &b }}

// startPump asks the pump, started if need be, to read at most n bytes of
// r. The caller holds the token and u.mu.
func (u *Body) startPump(n int) {
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
func (u *Body) pump() {
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
func (u *Body) result() (readResult, error) {
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
func (u *Body) endPump() {
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

// BaseName is the last element of a file name given with either kind of
// slash, without characters that cannot go in a header.
func BaseName(name string) string {
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

// FileType names the media type of an uploaded file from its extension
// (the file-kind table, then the system's), else from its first bytes; ""
// asks for those bytes. It is a typeFor of New.
func FileType(name string, head []byte) string {
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

// sniffedAudio maps what http.DetectContentType says to names Dify takes.
var sniffedAudio = map[string]string{
	"audio/wave": "audio/wav", "video/webm": "audio/webm", "video/mp4": "audio/mp4",
	"audio/mp4": "audio/mp4", "audio/mpeg": "audio/mpeg", "audio/amr": "audio/amr",
}

// SpeechType names the media type of an audio file for speech-to-text,
// which takes the subtypes of its list of extensions: from the name's
// extension, else from the file's first bytes; "" asks for those bytes.
// It is a typeFor of New.
func SpeechType(name string, head []byte) string {
	if t, ok := filekind.SpeechType(name); ok {
		return t
	}
	if ext := filekind.Ext(name); ext != "" {
		if t := mime.TypeByExtension(ext); strings.HasPrefix(t, "audio/") {
			return t
		}
	}
	if head == nil {
		return ""
	}
	t := http.DetectContentType(head)
	if mt, _, err := mime.ParseMediaType(t); err == nil {
		if a, ok := sniffedAudio[mt]; ok {
			return a
		}
	}
	return t
}
