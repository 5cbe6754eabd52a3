package transport

import (
	"fmt"
	"net/http"
)

// checkHeaders refuses a request whose header names or values (the
// library's, or any a request editor set) could split the header block:
// line breaks and NUL in values, and anything but a token in names. The
// error names the header but never repeats its value. It runs on every
// request, so it is a plain loop over the bytes.
func checkHeaders(req *http.Request) error {
	for name, values := range req.Header {
		if !validHeaderName(name) {
			return fmt.Errorf("chatflow: %s %s: invalid header name %q", req.Method, req.URL.Path, name)
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				return fmt.Errorf("chatflow: %s %s: header %s has a line break or NUL in its value", req.Method, req.URL.Path, name)
			}
		}
	}
	return nil
}

// CheckHeaderValue refuses, when an option is set, a value that a Doer
// would refuse on every request.
func CheckHeaderValue(name, v string) error {
	if !validHeaderValue(v) {
		return fmt.Errorf("chatflow: %s header value contains a line break or NUL", name)
	}
	return nil
}

// validHeaderName reports whether name is non-empty and holds none of the
// bytes that would end a header name: CR, LF, NUL, space, colon, tab.
func validHeaderName(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\r', '\n', 0, ' ', ':', '\t':
			return false
		}
	}
	return name != ""
}

// validHeaderValue reports whether v holds no CR, LF or NUL, the bytes that
// could split the header block.
func validHeaderValue(v string) bool {
	// Eight bytes at a time: skip the words without a byte below 0x20
	// (the bytes refused are all control bytes; a tab is allowed).
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		if (w-0x2020202020202020)&^w&0x8080808080808080 != 0 {
			break // a control byte (or more) in this word: look byte by byte
		}
	}
	for ; i < len(v); i++ {
		if c := v[i]; c < ' ' && (c == '\r' || c == '\n' || c == 0) {
			return false
		}
	}
	return true
}
