package chatflow

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAudioToText(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, filename, wantType string
		data                     []byte
	}{
		{"mp3", "voice.mp3", "audio/mpeg", []byte("ID3\x03\x00\x00\x00\x00\x00\x00rest")},
		{"wav", "voice.WAV", "audio/wav", []byte("RIFF\x00\x00\x00\x00WAVEfmt ")},
		{"m4a", "voice.m4a", "audio/m4a", []byte("....ftypM4A ")},
		{"sniffed wav", "recording", "audio/wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mux, _ := setup(t)
			mux.HandleFunc("POST /audio-to-text", func(w http.ResponseWriter, r *http.Request) {
				fp := readUpload(t, r)
				if fp.user != "u1" || fp.contentType != tt.wantType || fp.filename != tt.filename || fp.size != int64(len(tt.data)) {
					t.Errorf("part = %+v, want type %s", fp, tt.wantType)
				}
				writeJSON(w, 200, `{"text":"hello there","extra":1}`)
			})
			text, err := c.AudioToText(context.Background(), "u1", tt.filename, streamOnly{bytes.NewReader(tt.data)})
			if err != nil || text != "hello there" {
				t.Errorf("AudioToText = %q, %v", text, err)
			}
		})
	}
}

func TestAudioToTextErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		code   string
	}{
		{400, "no_audio_uploaded"}, {400, "bad_request_key_error"}, {400, "provider_not_support_speech_to_text"},
		{413, "audio_too_large"}, {415, "unsupported_audio_type"}, {500, "internal_server_error"},
	} {
		c, mux, _ := setup(t)
		mux.HandleFunc("POST /audio-to-text", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, tt.status, `{"code":"`+tt.code+`","message":"m","status":1}`)
		})
		_, err := c.AudioToText(context.Background(), "u1", "a.mp3", strings.NewReader("ID3"))
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status || apiErr.Code != tt.code {
			t.Errorf("%d %s: err = %v", tt.status, tt.code, err)
		}
	}
}

func TestTextToAudio(t *testing.T) {
	t.Parallel()
	audio := bytes.Repeat([]byte{0xff, 0xf3, 0x44, 0xc4}, 5000)
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /text-to-audio", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"text":"Hello","user":"u1","voice":"alloy"}`)
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(audio)
	})
	d, err := c.TextToAudio(context.Background(), TextToAudioRequest{Text: "Hello", User: "u1", Voice: "alloy"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.ContentType != "audio/mpeg" {
		t.Errorf("ContentType = %q", d.ContentType)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, d); err != nil || !bytes.Equal(out.Bytes(), audio) {
		t.Errorf("copied %d bytes (err %v), want %d", out.Len(), err, len(audio))
	}
}

// Dify answers 200 with a JSON null for an unknown message id.
func TestTextToAudioNull(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ ct, body string }{
		{"application/json", "null\n"},
		{"audio/mpeg", "null"},
		{"application/json", `{"result":"odd"}`},
	} {
		c, mux, _ := setup(t)
		mux.HandleFunc("POST /text-to-audio", func(w http.ResponseWriter, r *http.Request) {
			testJSONBody(t, r, `{"message_id":"`+uuidN(3, 1)+`","user":"u1"}`)
			w.Header().Set("Content-Type", tt.ct)
			_, _ = io.WriteString(w, tt.body)
		})
		d, err := c.TextToAudio(context.Background(), TextToAudioRequest{MessageID: uuidN(3, 1), User: "u1"})
		if !errors.Is(err, ErrNoAudio) || d != nil {
			t.Errorf("%s %q: TextToAudio = %v, %v; want ErrNoAudio", tt.ct, tt.body, d, err)
		}
	}
}

// A tiny audio body (shorter than the peek) still comes through whole.
func TestTextToAudioShortBody(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /text-to-audio", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = io.WriteString(w, "abc")
	})
	d, err := c.TextToAudio(context.Background(), TextToAudioRequest{Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(d)
	_ = d.Close()
	if string(b) != "abc" || err != nil {
		t.Errorf("body %q, %v", b, err)
	}
}

func TestTextToAudioErrors(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /text-to-audio", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, `{"code":"bad_request","message":"Text is required","status":400}`)
	})
	_, err := c.TextToAudio(context.Background(), TextToAudioRequest{Text: "x"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Message != "Text is required" {
		t.Errorf("err = %v", err)
	}
	if _, err := c.TextToAudio(context.Background(), TextToAudioRequest{}); err == nil {
		t.Error("TextToAudio without text or message id succeeded")
	}
}
