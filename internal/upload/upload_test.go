package upload

import "testing"

func TestFileType(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n0000")
	for _, tt := range []struct {
		name string
		head []byte
		want string
	}{
		{"a.JPG", nil, "image/jpeg"},
		{"a.docx", nil, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"a.mp3", nil, "audio/mpeg"},
		{"noext", nil, ""},
		{"noext", png, "image/png"},
		{"noext", []byte{}, "text/plain; charset=utf-8"},
	} {
		if got := FileType(tt.name, tt.head); got != tt.want {
			t.Errorf("FileType(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
