package chatflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// watched counts the reads of r made after the call under test returned.
type watched struct {
	r        io.Reader
	returned atomic.Bool
	late     atomic.Int32
}

func (w *watched) Read(p []byte) (int, error) {
	if w.returned.Load() {
		w.late.Add(1)
	}
	return w.r.Read(p)
}

func TestUploadFile(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("%PDF-1.4 hello "), 100)
	tests := []struct {
		name, filename, wantName, wantType string
		reader                             func() io.Reader
		wantLength                         bool
	}{
		{"seekable pdf", "report.pdf", "report.pdf", "application/pdf", func() io.Reader { return bytes.NewReader(content) }, true},
		{"stream pdf", "report.pdf", "report.pdf", "application/pdf", func() io.Reader { return streamOnly{bytes.NewReader(content)} }, false},
		{"path and quotes", `C:\tmp\dir/my "q" file.PDF`, `my "q" file.PDF`, "application/pdf", func() io.Reader { return bytes.NewReader(content) }, true},
		{"sniffed, seekable", "scan", "scan", "application/pdf", func() io.Reader { return bytes.NewReader(content) }, true},
		{"sniffed, stream", "scan", "scan", "application/pdf", func() io.Reader { return streamOnly{bytes.NewReader(content)} }, false},
		{"sniffed text", "notes", "notes", "text/plain; charset=utf-8", func() io.Reader { return strings.NewReader("just some text") }, true},
		{"empty file", "empty.txt", "empty.txt", "text/plain", func() io.Reader { return strings.NewReader("") }, true},
		{"unicode name", "отчёт.md", "отчёт.md", "text/markdown", func() io.Reader { return strings.NewReader("# hi") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			want := readAllOf(t, tt.reader())
			mux.HandleFunc("POST /files/upload", func(w http.ResponseWriter, r *http.Request) {
				testHeader(t, r, "Authorization", "Bearer "+testKey)
				if chunked := len(r.TransferEncoding) > 0; chunked == tt.wantLength {
					t.Errorf("Transfer-Encoding = %v, want a declared length: %v", r.TransferEncoding, tt.wantLength)
				}
				fp := readUpload(t, r)
				if fp.user != "u1" || fp.filename != tt.wantName || fp.contentType != tt.wantType {
					t.Errorf("part = user %q, filename %q, type %q; want u1, %q, %q", fp.user, fp.filename, fp.contentType, tt.wantName, tt.wantType)
				}
				if fp.sum != sha256.Sum256(want) || fp.size != int64(len(want)) {
					t.Errorf("file content differs (%d bytes, want %d)", fp.size, len(want))
				}
				writeJSON(w, http.StatusCreated, uploadReply)
			})
			f, err := c.UploadFile(context.Background(), "u1", tt.filename, tt.reader())
			if err != nil {
				t.Fatal(err)
			}
			if f.ID != "72fa9618-8f89-4a37-9b33-7e1178a24a67" || f.Size != 5 || f.MimeType != "application/pdf" ||
				f.CreatedAt != 1732690000 || f.SourceURL == "" || f.Reference != "ref-1" {
				t.Errorf("FileUpload = %+v", f)
			}
			if _, ok := f.Get("new_in_2026"); !ok {
				t.Errorf("unknown field not kept: %v", f.AdditionalProperties)
			}
		})
	}
}

func readAllOf(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An upload starts at the reader's current position, and the user field is
// left out when empty.
func TestUploadFileFromOffsetWithoutUser(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /files/upload", func(w http.ResponseWriter, r *http.Request) {
		fp := readUpload(t, r)
		if fp.user != "" || fp.size != 5 || fp.sum != sha256.Sum256([]byte("world")) {
			t.Errorf("part = %+v", fp)
		}
		writeJSON(w, http.StatusCreated, uploadReply)
	})
	r := strings.NewReader("hello world")
	_, _ = r.Seek(6, io.SeekStart)
	if _, err := c.UploadFile(context.Background(), "", "w.txt", r); err != nil {
		t.Fatal(err)
	}
}

func TestUploadFileArguments(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t)
	for _, name := range []string{"", "dir/", "..", "\r\n"} {
		if _, err := c.UploadFile(context.Background(), "u1", name, strings.NewReader("x")); err == nil {
			t.Errorf("UploadFile(name %q) succeeded", name)
		}
	}
	if _, err := c.UploadFile(context.Background(), "u1", "a.txt", nil); err == nil {
		t.Error("UploadFile(nil reader) succeeded")
	}
}

// A server that refuses the file before reading it (413, 415): the caller
// gets the server's error, without a hang, and the reader is not read
// after UploadFile returns.
func TestUploadFileEarlyRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		reader func() io.Reader
	}{
		{"413 stream 64MiB", 413, `{"code":"file_too_large","message":"","status":413}`, func() io.Reader { return &zeros{64 << 20} }},
		{"413 seekable 64MiB", 413, `{"code":"file_too_large","message":"","status":413}`, func() io.Reader { return io.NewSectionReader(zeroAt{}, 0, 64<<20) }},
		{"415 seekable 100KiB", 415, `{"code":"unsupported_file_type","message":"File type not allowed.","status":415}`, func() io.Reader { return io.NewSectionReader(zeroAt{}, 0, 100<<10) }},
		{"415 stream 100KiB", 415, `{"code":"unsupported_file_type","message":"File type not allowed.","status":415}`, func() io.Reader { return &zeros{100 << 10} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v1/files/upload" {
					t.Errorf("request %s %s", r.Method, r.URL.Path)
				}
				testHeader(t, r, "Authorization", "Bearer "+testKey)
				writeJSON(w, tt.status, tt.body) // without reading the body
			}))
			t.Cleanup(srv.Close)
			c, err := NewClient(testKey, WithBaseURL(srv.URL+"/v1"), WithMaxRetries(0))
			if err != nil {
				t.Fatal(err)
			}
			r := &watched{r: tt.reader()}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err = c.UploadFile(ctx, "u1", "big.bin", r)
			r.returned.Store(true)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status {
				t.Fatalf("err = %v, want the server's %d", err, tt.status)
			}
			if !strings.Contains(tt.body, apiErr.Code) || apiErr.Code == "" {
				t.Errorf("code = %q", apiErr.Code)
			}
			t.Cleanup(func() {
				if n := r.late.Load(); n != 0 {
					t.Errorf("reader read %d times after UploadFile returned", n)
				}
			})
		})
	}
}

// failing yields n bytes, then err.
type failing struct {
	n   int
	err error
}

func (f *failing) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

func TestUploadFileReaderFails(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	for _, size := range []int{0, 100, 300 << 10} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			writeJSON(w, 400, `{"code":"bad_request","message":"broken body","status":400}`)
		}))
		t.Cleanup(srv.Close)
		c, err := NewClient(testKey, WithBaseURL(srv.URL+"/v1"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.UploadFile(context.Background(), "u1", "a.txt", &failing{n: size, err: boom})
		if !errors.Is(err, boom) {
			t.Errorf("size %d: err = %v, want the reader's error", size, err)
		}
	}
}

// A seekable file is sent again, whole, when a retry is allowed (429).
func TestUploadFileRetriesSeekable(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(2), WithRetryWaitMax(time.Millisecond))
	var calls atomic.Int32
	content := bytes.Repeat([]byte("0123456789"), 10000)
	mux.HandleFunc("POST /files/upload", func(w http.ResponseWriter, r *http.Request) {
		fp := readUpload(t, r)
		if fp.sum != sha256.Sum256(content) {
			t.Errorf("attempt %d: content differs (%d bytes)", calls.Load()+1, fp.size)
		}
		if calls.Add(1) == 1 {
			writeJSON(w, 429, `{"code":"too_many_requests","message":"Too many requests","status":429}`)
			return
		}
		writeJSON(w, 201, uploadReply)
	})
	if _, err := c.UploadFile(context.Background(), "u1", "a.txt", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d attempts, want 2", calls.Load())
	}
}

// A reader that cannot be replayed is sent once, even when a retry would
// otherwise be allowed.
func TestUploadFileStreamNotRetried(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxRetries(2), WithRetryWaitMax(time.Millisecond))
	var calls atomic.Int32
	mux.HandleFunc("POST /files/upload", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 429, `{"code":"too_many_requests","message":"Too many requests","status":429}`)
	})
	_, err := c.UploadFile(context.Background(), "u1", "a.txt", streamOnly{strings.NewReader("data")})
	if !errors.Is(err, ErrRateLimited) || calls.Load() != 1 {
		t.Errorf("err %v after %d attempts; want ErrRateLimited after 1", err, calls.Load())
	}
}

func TestUploadFileErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		code   string
		is     error
	}{
		{400, "no_file_uploaded", nil},
		{400, "filename_not_exists_error", nil},
		{401, "unauthorized", ErrUnauthorized},
		{403, "forbidden", ErrForbidden},
		{413, "file_too_large", nil},
		{415, "unsupported_file_type", nil},
	} {
		c, mux, _ := setup(t)
		mux.HandleFunc("POST /files/upload", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, tt.status, `{"code":"`+tt.code+`","message":"m","status":`+strconv.Itoa(tt.status)+`}`)
		})
		_, err := c.UploadFile(context.Background(), "u1", "a.txt", strings.NewReader("x"))
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status || apiErr.Code != tt.code {
			t.Errorf("%d %s: err = %v", tt.status, tt.code, err)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%d: errors.Is(%v) = false", tt.status, tt.is)
		}
	}
}
