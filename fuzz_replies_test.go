package chatflow

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// fuzzReplyKey carries the reply that fuzzTransport returns.
type fuzzReplyKey struct{}

type fuzzReply struct {
	status      int
	contentType string
	body        []byte
}

// fuzzTransport answers every request with the reply in its context,
// without a network.
type fuzzTransport struct{}

func (fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	fr := r.Context().Value(fuzzReplyKey{}).(fuzzReply)
	h := http.Header{}
	if fr.contentType != "" {
		h.Set("Content-Type", fr.contentType)
	}
	return &http.Response{
		StatusCode:    fr.status,
		Status:        http.StatusText(fr.status),
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(fr.body)),
		ContentLength: int64(len(fr.body)),
		Request:       r,
		Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}, nil
}

// responseMethods returns the ...WithResponse methods of the generated
// client, by name, so that the fuzz target follows regeneration.
func responseMethods(c *Client) ([]string, map[string]reflect.Value) {
	v := reflect.ValueOf(c.API())
	t := v.Type()
	m := map[string]reflect.Value{}
	var names []string
	for i := range t.NumMethod() {
		name := t.Method(i).Name
		if strings.HasSuffix(name, "WithResponse") {
			m[name] = v.Method(i)
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, m
}

// callWithZeroArgs calls a generated method with ctx, "x" for every string
// (ids, enum values) and zero values for the rest.
func callWithZeroArgs(ctx context.Context, fn reflect.Value) (any, error) {
	ft := fn.Type()
	n := ft.NumIn()
	if ft.IsVariadic() {
		n-- // no request editors
	}
	args := make([]reflect.Value, n)
	ctxType := reflect.TypeFor[context.Context]()
	for i := range n {
		at := ft.In(i)
		switch {
		case at == ctxType:
			args[i] = reflect.ValueOf(ctx)
		case at.Kind() == reflect.String:
			args[i] = reflect.New(at).Elem()
			args[i].SetString("x")
		default:
			args[i] = reflect.Zero(at)
		}
	}
	out := fn.Call(args)
	err, _ := out[1].Interface().(error)
	return out[0].Interface(), err
}

var fuzzStatuses = []int{200, 201, 204, 400, 401, 403, 404, 413, 415, 429, 500, 502, 503}

var fuzzContentTypes = []string{
	"application/json", "application/json; charset=utf-8", "text/html", "text/event-stream",
	"text/plain", "audio/mpeg", "", "application/problem+json",
}

// FuzzReplies sends arbitrary reply bodies, with assorted statuses and
// content types, through every generated operation of a Client: the
// wrapper (APIError, reply size limit) and the generated decoders. Nothing
// may panic; every non-2xx must come back as an *APIError; a JSON reply
// over the size limit must fail with ErrReplyTooLarge.
func FuzzReplies(f *testing.F) {
	const maxReply = 4096
	c, err := NewClient(testKey, WithBaseURL("http://fuzz.invalid/v1"), WithMaxRetries(0),
		WithMaxReplyBytes(maxReply), WithHTTPClient(&http.Client{Transport: fuzzTransport{}}))
	if err != nil {
		f.Fatal(err)
	}
	names, methods := responseMethods(c)
	if len(names) == 0 {
		f.Fatal("no generated methods found")
	}
	seeds := []string{
		`{"tool_icons":{}}`,
		`{"event":"message","task_id":"t","id":"m","message_id":"m","conversation_id":"c","mode":"advanced-chat","answer":"hi","metadata":{"usage":{"total_tokens":3}},"created_at":1705395332}`,
		`{"limit":20,"has_more":false,"data":[{"id":"c","name":"n","inputs":{},"status":"normal","introduction":"","created_at":1,"updated_at":"2024-01-01T00:00:00"}]}`,
		`{"limit":20,"has_more":true,"data":[{"id":"m","conversation_id":"c","inputs":{},"query":"q","answer":"a","message_files":[{"id":"f","belongs_to":null}],"feedback":null,"retriever_resources":[],"created_at":1,"agent_thoughts":[]}]}`,
		`{"id":"f","name":"a.txt","size":5,"extension":"txt","mime_type":"text/plain","created_by":"u","created_at":1}`,
		`{"result":"success"}`,
		`{"data":[{"id":"v","name":"n","value_type":"string","value":"{\"a\":1}","created_at":1,"updated_at":1}],"has_more":false,"limit":20}`,
		`{"code":"not_found","message":"Conversation Not Exists.","status":404}`,
		`null`, `[]`, `{}`, `{"data":null}`, `{"created_at":"2024-01-01T00:00:00"}`, `{"created_at":1e400}`,
		`{"answer":`, `<html><title>502 Bad Gateway</title></html>`, ``, "data: {\"event\":\"ping\"}\n\n",
		strings.Repeat(`{"a":`, 200),
		`{"data":[` + strings.Repeat(`{"id":"x"},`, 500) + `{}]}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), uint8(0), uint8(i), []byte(s))
		f.Add(uint8(i*7), uint8(i%3), uint8(i*3), []byte(s))
	}
	f.Fuzz(func(t *testing.T, op, st, ct uint8, body []byte) {
		name := names[int(op)%len(names)]
		status := fuzzStatuses[int(st)%len(fuzzStatuses)]
		contentType := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]
		ctx := context.WithValue(context.Background(), fuzzReplyKey{}, fuzzReply{status, contentType, body})
		resp, err := callWithZeroArgs(ctx, methods[name])

		if status < 200 || status > 299 {
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != status {
				t.Fatalf("%s: status %d gave err %v, want an *APIError", name, status, err)
			}
			return
		}
		if strings.Contains(contentType, "json") && len(body) > maxReply && !errors.Is(err, ErrReplyTooLarge) {
			t.Fatalf("%s: %d-byte JSON reply gave err %v, want ErrReplyTooLarge", name, len(body), err)
		}
		if err == nil && reflect.ValueOf(resp).IsNil() {
			t.Fatalf("%s: no error and no response", name)
		}
	})
}
