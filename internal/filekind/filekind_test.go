package filekind

import "testing"

func TestKinds(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]Kind{
		"a.JPG": Image, "dir/b.svg": Image,
		"report.pdf": Document, "notes.MDX": Document, "page.htm": Document, "x.properties": Document,
		"song.mp3": Audio, "memo.m4a": Audio,
		"clip.webm": Video, "movie.mov": Video,
		"data.json": Custom, "archive.zip": Custom, "noext": Custom, "dir.d/noext": Custom, `dir.d\noext`: Custom, "": Custom,
	} {
		if got := Of(name); got != want {
			t.Errorf("Of(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestMediaTypes(t *testing.T) {
	t.Parallel()
	if mt, ok := MediaType("a.PNG"); !ok || mt != "image/png" {
		t.Errorf("MediaType(a.PNG) = %q, %v", mt, ok)
	}
	if mt, ok := MediaType("a.unknown"); ok || mt != "" {
		t.Errorf("MediaType(a.unknown) = %q, %v", mt, ok)
	}
	for name, want := range map[string]string{"a.mp4": "audio/mp4", "a.webm": "audio/webm", "a.mpeg": "audio/mpeg", "a.wav": "audio/wav", "a.png": ""} {
		if got, ok := SpeechType(name); got != want || ok != (want != "") {
			t.Errorf("SpeechType(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	// Every kind of the table has a media type.
	for ext, e := range table {
		if e.typ == "" || e.kind == "" {
			t.Errorf("%s: kind %q, media type %q", ext, e.kind, e.typ)
		}
	}
}
