// Package e2e holds the browser test of "chatflow relay": headless
// Chromium, driven with chromedp, uses the chat page against the fake Dify
// server. It is a module of its own so that chromedp never enters the
// library's go.mod. Run it with `cd e2e && go test -v ./...`; it logs the
// path of its screenshot (testdata/chat.png, not committed). Without a
// Chromium binary (chromium, chromium-browser, google-chrome on PATH, or
// $CHROMIUM) the test is skipped with a message.
package e2e
