package chatflow

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
	"github.com/difykit/chatflow/internal/upload"
)

// AudioToText transcribes the speech in r (the content of an audio file
// named filename) on behalf of user and returns the text.
//
// The upload streams like UploadFile's. Dify accepts mp3, mp4, mpeg, mpga,
// m4a, wav, webm and amr, and checks the part's media type, so the type
// is chosen for it from the file name (audio/mpeg, audio/wav, ...), or
// sniffed from the first bytes when the name has no known extension.
func (c *Client) AudioToText(ctx context.Context, user, filename string, r io.Reader) (string, error) {
	u, err := upload.New(ctx, user, filename, r, upload.SpeechType)
	if err != nil {
		return "", fmt.Errorf("chatflow: AudioToText: %w", err)
	}
	resp, err := c.raw.AudioToTextWithBody(ctx, u.ContentType(), u.Reader(), u.Edit)
	resp, err = u.Finish(resp, err)
	out, err := transport.DecodeJSON[gen.AudioToTextResponse](resp, err)
	if err != nil {
		return "", err
	}
	return out.Text, nil
}

// TextToAudio turns text (or the answer of req.MessageID) into speech. The
// audio (audio/mpeg from Dify) streams in the returned Download: copy it
// where you like and close it. A reply without audio (the JSON null Dify
// sends for an unknown message id) is ErrNoAudio, not an empty file.
func (c *Client) TextToAudio(ctx context.Context, req TextToAudioRequest) (*Download, error) {
	if req.Text == "" && req.MessageID == "" {
		return nil, errors.New("chatflow: TextToAudio: neither text nor message id")
	}
	resp, err := c.raw.TextToAudioChat(transport.WithBinaryReply(ctx), req)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(resp.Body, 16)
	head, _ := br.Peek(16) // fewer bytes only at the end of the body
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" || string(bytes.TrimSpace(head)) == "null" {
		body, _ := io.ReadAll(io.LimitReader(br, transport.ErrBodyReadLimit))
		_ = transport.DrainClose(resp)
		if t := bytes.TrimSpace(body); len(t) > 0 && string(t) != "null" {
			return nil, fmt.Errorf("%w: a %s reply: %s", ErrNoAudio, mt, transport.Shorten(string(t), transport.ErrMessageShort))
		}
		return nil, ErrNoAudio
	}
	return newDownload(resp, readCloser{Reader: br, Closer: resp.Body}), nil
}
