package relay

import (
	"net/http"
	"strings"
)

// route is one method and path the relay serves; "*" in a pattern is an id.
type route struct {
	method  string
	pattern string
	serve   func(h *Handler, w http.ResponseWriter, r *http.Request, c call)
}

// routes are the Service API paths a chat page needs, and nothing more:
// annotations, annotation replies, workflow logs, app feedbacks, run
// details and end users are left out on purpose.
var routes = []route{
	{http.MethodPost, "chat-messages", (*Handler).chat},
	{http.MethodPost, "chat-messages/*/stop", (*Handler).stop},
	{http.MethodGet, "conversations", (*Handler).conversations},
	{http.MethodDelete, "conversations/*", (*Handler).deleteConversation},
	{http.MethodPost, "conversations/*/name", (*Handler).renameConversation},
	{http.MethodGet, "conversations/*/variables", (*Handler).variables},
	{http.MethodGet, "messages", (*Handler).messages},
	{http.MethodPost, "messages/*/feedbacks", (*Handler).feedback},
	{http.MethodGet, "messages/*/suggested", (*Handler).suggested},
	{http.MethodGet, "parameters", (*Handler).parameters},
	{http.MethodGet, "meta", (*Handler).meta},
	{http.MethodGet, "info", (*Handler).info},
	{http.MethodGet, "site", (*Handler).site},
	{http.MethodPost, "files/upload", (*Handler).upload},
	{http.MethodPost, "audio-to-text", (*Handler).audioToText},
	{http.MethodPost, "text-to-audio", (*Handler).textToAudio},
	{http.MethodGet, "form/human_input/*", (*Handler).form},
	{http.MethodPost, "form/human_input/*", (*Handler).submitForm},
}

// match finds the route of method and path. allowed lists the methods the
// path is served with (nil: the path is not served); rt is nil when method
// is not among them.
func match(method, path string) (rt *route, ids []string, allowed []string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range routes {
		got, ok := matchPattern(routes[i].pattern, segs)
		if !ok {
			continue
		}
		allowed = append(allowed, routes[i].method)
		if routes[i].method == method {
			rt, ids = &routes[i], got
		}
	}
	return rt, ids, allowed
}

// matchPattern matches path segments against a pattern and returns the ids.
func matchPattern(pattern string, segs []string) ([]string, bool) {
	pat := strings.Split(pattern, "/")
	if len(pat) != len(segs) {
		return nil, false
	}
	var ids []string
	for i, p := range pat {
		switch {
		case p == "*":
			if segs[i] == "" || segs[i] == "." || segs[i] == ".." {
				return nil, false
			}
			ids = append(ids, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return ids, true
}
