package main

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/difykit/chatflow/relay"
)

// "chatflow relay" serves a small chat page and, under /v1/, the relay in
// front of the app (the demo fake without DIFY_API_KEY). The page's end
// user is an anonymous id kept in a cookie: a demo of the relay's user
// function, not an account system; a real site passes its own.

//go:embed relaypage
var relayPage embed.FS

// relayUserCookie holds the page's anonymous end-user id.
const relayUserCookie = "chatflow_demo_user"

// relayFlags are the flags of "chatflow relay".
type relayFlags struct {
	addr    string
	origins string
}

func relayCommand(fs *flag.FlagSet) func(context.Context, *globals, []string, env) error {
	f := &relayFlags{}
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8081", "listen address `host:port` (port 0 picks a free port)")
	fs.StringVar(&f.origins, "origins", "", "comma-separated other origins whose pages may call the relay (CORS)")
	return func(ctx context.Context, g *globals, args []string, e env) error {
		if len(args) > 0 {
			return usageError("unexpected argument " + args[0])
		}
		if err := g.connect(ctx); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			return err
		}
		var opts []relay.Option
		if f.origins != "" {
			opts = append(opts, relay.WithAllowedOrigins(strings.Split(f.origins, ",")...))
		}
		srv := &http.Server{Handler: relayMux(relay.New(g.client, cookieUser, opts...)), ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintf(e.stdout, "Chat page at http://%s/ (Dify's Service API under /v1/; Ctrl-C stops)\n", ln.Addr())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// relayMux serves the page (which gives the browser its anonymous id) and
// the relay under /v1/.
func relayMux(h *relay.Handler) http.Handler {
	page, _ := fs.Sub(relayPage, "relaypage")
	files := http.FileServerFS(page)
	mux := http.NewServeMux()
	mux.Handle("/v1/", http.StripPrefix("/v1", h))
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := cookieUser(r); err != nil {
			http.SetCookie(w, &http.Cookie{Name: relayUserCookie, Value: "demo-" + rand.Text(), Path: "/",
				HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
		}
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, page, "index.html")
	})
	return mux
}

// cookieUser is the relay's user function: the anonymous id of the cookie.
func cookieUser(r *http.Request) (string, error) {
	c, err := r.Cookie(relayUserCookie)
	if err != nil || !strings.HasPrefix(c.Value, "demo-") || len(c.Value) > 64 {
		return "", errors.New("no demo user cookie: load the page first")
	}
	return c.Value, nil
}
