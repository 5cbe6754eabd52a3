//go:build unix

package main

import "syscall"

// detached makes the demo server a session of its own, so that Ctrl-C in
// the terminal that started it does not reach it.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
