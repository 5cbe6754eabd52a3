// Package e2e holds the browser test of "chatflow relay": headless
// Chromium, driven with chromedp, uses the chat page against the fake Dify
// server. It is a module of its own so that chromedp never enters the
// library's go.mod. Run it with `cd e2e && go test ./...`; without a
// Chromium binary the test is skipped with a message.
package e2e
