package chatflow

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestPreviewFile(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	id := uuidN(4, 1)
	mux.HandleFunc("GET /files/{id}/preview", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != id {
			writeJSON(w, 404, `{"code":"file_not_found","message":"File not found","status":404}`)
			return
		}
		q := r.URL.Query()
		if q.Get("user") != "u1" || q.Get("as_attachment") != "true" {
			t.Errorf("query = %s", r.URL.RawQuery)
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="report.pdf"`)
		_, _ = io.WriteString(w, "%PDF-1.4 ...")
	})
	d, err := c.PreviewFile(context.Background(), id, "u1", Attachment)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(d)
	if err := d.Close(); err != nil {
		t.Error(err)
	}
	if string(b) != "%PDF-1.4 ..." || d.ContentType != "application/pdf" || d.Filename != "report.pdf" || d.ContentLength != int64(len(b)) {
		t.Errorf("download = %q, %+v", b, d)
	}

	_, err = c.PreviewFile(context.Background(), uuidN(4, 2), "u1", false)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v", err)
	}
	if _, err := c.PreviewFile(context.Background(), "..", "u1", false); !errors.Is(err, ErrInvalidID) {
		t.Errorf("err = %v", err)
	}
}

func TestPreviewFileForbidden(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /files/{id}/preview", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 403, `{"code":"file_access_denied","message":"denied","status":403}`)
	})
	if _, err := c.PreviewFile(context.Background(), uuidN(4, 1), "u1", false); !errors.Is(err, ErrForbidden) {
		t.Errorf("err = %v", err)
	}
}

func TestPreviewOfLargeJSONFileIsNotLimited(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithMaxReplyBytes(64))
	big := `{"data":"` + strings.Repeat("x", 1000) + `"}`
	mux.HandleFunc("GET /files/{id}/preview", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, big)
	})
	d, err := c.PreviewFile(context.Background(), "f1", "u", false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := io.ReadAll(d)
	if err != nil || string(got) != big {
		t.Fatalf("read %d bytes, err %v; want the whole %d-byte file", len(got), err, len(big))
	}
}
