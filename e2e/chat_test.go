package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/difykit/chatflow/chatflowtest"
)

// appKey is the fake app's key: the page must never see it.
const appKey = "app-E2eSecretKey-7f3a9c1d5e8b2046"

// chromium returns the path of a Chromium (or Chrome) binary, "" when
// there is none. $CHROMIUM overrides the search.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// buildCLI builds cmd/chatflow, in the library's own module (the
// repository root), into a temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "chatflow")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/chatflow")
	build.Dir = ".."
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/chatflow: %v\n%s", err, out)
	}
	return bin
}

// startRelay runs "chatflow relay" in front of the fake and returns the
// page's URL. The process is interrupted at the end of the test.
func startRelay(t *testing.T, bin string, dify *chatflowtest.Server) string {
	t.Helper()
	cmd := exec.Command(bin, "relay", "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "DIFY_API_KEY="+dify.APIKey, "DIFY_BASE_URL="+dify.URL)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("chatflow relay printed no address: %v", err)
	}
	rest, ok := strings.CutPrefix(line, "Chat page at ")
	if !ok {
		t.Fatalf("chatflow relay printed %q", line)
	}
	return strings.Fields(rest)[0]
}

// responses collects what the page received: each response's headers and
// body, read through the DevTools protocol.
type responses struct {
	mu      sync.Mutex
	wg      sync.WaitGroup
	urls    map[network.RequestID]string
	headers []string
	bodies  map[string][]string // URL -> bodies
}

// listen starts collecting; the tab must be open.
func (rs *responses) listen(ctx context.Context) error {
	rs.urls, rs.bodies = map[network.RequestID]string{}, map[string][]string{}
	return chromedp.Listen(ctx, func(ev any) {
		// This runs in the tab's read loop: no command here, only a
		// goroutine that reads the body once the loop has moved on.
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			rs.mu.Lock()
			rs.urls[e.RequestID] = e.Response.URL
			rs.headers = append(rs.headers, fmt.Sprint(e.Response.Headers))
			rs.mu.Unlock()
		case *network.EventLoadingFinished:
			rs.mu.Lock()
			url := rs.urls[e.RequestID]
			rs.mu.Unlock()
			rs.wg.Add(1)
			go func() {
				defer rs.wg.Done()
				res, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: e.RequestID})
				body := string(res.Body)
				if err != nil {
					body = "(body not available: " + err.Error() + ")"
				}
				rs.mu.Lock()
				rs.bodies[url] = append(rs.bodies[url], body)
				rs.mu.Unlock()
			}()
		}
	})
}

// growth is installed in the page: it records each text the current
// answer shows, with its state, as the page changes it.
const growth = `(() => {
  window.__answers = [];
  new MutationObserver(() => {
    const a = document.getElementById("answer");
    if (!a) return;
    const last = window.__answers[window.__answers.length - 1];
    const now = {text: a.textContent, state: a.dataset.state || ""};
    if (!last || last.text !== now.text || last.state !== now.state) window.__answers.push(now);
  }).observe(document.getElementById("log"), {subtree: true, childList: true, characterData: true, attributes: true});
  return true;
})()`

type snapshot struct {
	Text  string `json:"text"`
	State string `json:"state"`
}

func TestChatPageInBrowser(t *testing.T) {
	chrome := chromium()
	if chrome == "" {
		t.Skip("e2e: no Chromium binary found (install it: apt-get install -y chromium, or set CHROMIUM): the browser test did NOT run")
	}
	dify := chatflowtest.NewServer(chatflowtest.WithAPIKey(appKey))
	defer dify.Close()
	dify.SetEventDelay(40 * time.Millisecond) // the answer arrives word by word
	page := startRelay(t, buildCLI(t), dify)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // the test may run as root
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1100, 700),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	do("open a tab")
	var got responses
	if err := got.listen(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	do("open the page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#query")),
		chromedp.Evaluate[chromedp.Void](growth))

	// 1. A question; the answer grows in steps before its end.
	question := "tell me how a relay keeps the key of a Dify app out of the browser"
	do("ask", chromedp.SendKeys(chromedp.CSS("#query"), question), chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(chromedp.CSS(`#answer[data-state="done"]`)))
	answers := evaluate[[]snapshot](t, ctx, `window.__answers`)
	screenshot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	want := "You said: " + question
	var steps []string
	for _, a := range answers {
		if a.State == "streaming" && a.Text != "" {
			if !strings.HasPrefix(want, a.Text) {
				t.Errorf("the answer showed %q, not a start of %q", a.Text, want)
			}
			if a.Text != want {
				steps = append(steps, a.Text)
			}
		}
	}
	if len(steps) < 2 {
		t.Errorf("the answer grew in %d steps before its end (%q); want at least 2", len(steps), steps)
	}
	if len(answers) == 0 || answers[len(answers)-1] != (snapshot{Text: want, State: "done"}) {
		t.Errorf("answers = %+v; want %q done last", answers, want)
	}
	shot := filepath.Join("testdata", "chat.png")
	if err := os.WriteFile(shot, screenshot, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
	} else if abs, err := filepath.Abs(shot); err == nil {
		t.Logf("screenshot of the streamed answer: %s", abs)
	}

	// 2. A second question, stopped mid-run with the Stop button.
	long := strings.TrimSpace(strings.Repeat("and then the story goes on ", 12))
	do("ask again and stop", chromedp.Evaluate[chromedp.Void](growth),
		chromedp.SendKeys(chromedp.CSS("#query"), long), chromedp.Click(chromedp.CSS("#send")),
		chromedp.Poll[chromedp.Void](`(() => { const a = document.getElementById("answer"); return a && a.dataset.state === "streaming" && a.textContent.length > 0 && !document.getElementById("stop").disabled; })()`),
		chromedp.Click(chromedp.CSS("#stop")),
		chromedp.WaitVisible(chromedp.CSS(`#answer[data-state="done"]`)))
	answers = evaluate[[]snapshot](t, ctx, `window.__answers`)
	if status := evaluate[string](t, ctx, `document.getElementById("answer").dataset.status || ""`); status != "stopped" {
		t.Errorf("the stopped run ended with status %q; want stopped", status)
	}
	whole := "You said: " + long
	if final := answers[len(answers)-1].Text; !strings.HasPrefix(whole, final) || len(final) >= len(whole) {
		t.Errorf("after Stop the answer is %q; want a part of the whole", final)
	}
	var stops []chatflowtest.Request
	users := map[string]bool{}
	for _, r := range dify.Requests() {
		users[r.User] = true
		if r.Operation == "stopChatMessageGeneration" {
			stops = append(stops, r)
		}
	}
	if len(stops) == 0 {
		t.Fatal("the fake recorded no stop request")
	}
	if u := stops[0].User; !strings.HasPrefix(u, "demo-") {
		t.Errorf("stop sent as user %q; want the page's anonymous user", u)
	}
	delete(users, "")
	if len(users) != 1 {
		t.Errorf("upstream saw users %v; want one anonymous user", users)
	}

	// 3. Reload, reopen the conversation: both questions are there.
	do("reload and reopen", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".conv")),
		chromedp.Click(chromedp.CSS(".conv")),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#log .q").length === 2`))
	questions := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#log .q")].map(e => e.textContent)`)
	if len(questions) != 2 || questions[0] != question || questions[1] != long {
		t.Errorf("reopened conversation shows %q", questions)
	}

	// 4. Nothing the page received holds the key or a piece of it.
	html := evaluate[string](t, ctx, `document.documentElement.outerHTML`)
	cancel() // no more responses: collect the bodies being read
	got.wg.Wait()
	got.mu.Lock()
	defer got.mu.Unlock()
	seen := []string{html}
	streams := 0
	for url, bodies := range got.bodies {
		for _, b := range bodies {
			if strings.HasSuffix(url, "/v1/chat-messages") && strings.Contains(b, "message_end") {
				streams++
			}
			seen = append(seen, url+" "+b)
		}
	}
	seen = append(seen, got.headers...)
	if streams < 1 || len(got.bodies) < 4 {
		t.Errorf("read %d chat streams among %d responses: the key check would prove nothing", streams, len(got.bodies))
	}
	for _, s := range seen {
		for i := 0; i+8 <= len(appKey); i++ {
			if strings.Contains(s, appKey[i:i+8]) {
				t.Fatalf("the page received %q of the key in: %.300s", appKey[i:i+8], s)
			}
		}
		if strings.Contains(s, base64.StdEncoding.EncodeToString([]byte(appKey))[:12]) {
			t.Fatalf("the page received the key, base64-encoded: %.300s", s)
		}
	}
}

// evaluate runs a JavaScript expression in the page.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}
