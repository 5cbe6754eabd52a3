package chatflowtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ListenAndServe runs a fake server on addr (host:port; port 0 picks a free
// one) until ctx ends. Once it listens it prints the base URL and the API key
// to stdout, for scripts that start it as a process:
//
//	Fake Dify chatflow API at http://127.0.0.1:8080/v1
//	API key: app-...
//
// A third line, "App mode: MODE", follows when WithMode chose a mode other
// than advanced-chat. An empty key means a random one. It returns nil after
// a shutdown caused by ctx, and an error for an unknown mode.
func ListenAndServe(ctx context.Context, addr, key string, stdout io.Writer, opts ...Option) error {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mode != "" {
		if err := checkMode(cfg.mode); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if key != "" {
		opts = append(opts, WithAPIKey(key))
	}
	s := NewUnstartedServer(opts...)
	s.URL = "http://" + displayAddr(ln.Addr()) + Prefix
	hs := &http.Server{Handler: s.Handler()}
	s.configure(hs)
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "Fake Dify chatflow API at %s\nAPI key: %s\n", s.URL, s.APIKey)
	if s.cfg.mode != ModeAdvancedChat {
		fmt.Fprintf(stdout, "App mode: %s\n", s.cfg.mode)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	s.shutdown() // streams end, so Shutdown need not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close() // streams that do not end by themselves
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// displayAddr is the address to tell clients: an unspecified listen address
// (":8080", "0.0.0.0:8080") is shown as the loopback one.
func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ta.IP == nil || ta.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(ta.Port))
	}
	return ta.String()
}
