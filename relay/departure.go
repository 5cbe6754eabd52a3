package relay

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/difykit/chatflow"
)

// The upstream stream of a run is not bound to the browser's request. Were
// it, a browser that leaves before the first event would cancel the stream
// before it knows the task id that a stop request needs, and the run would
// go on spending tokens. Instead, when the browser leaves, the stream is
// ended as soon as its task id is known (the client's auto-stop then stops
// the run, as the end user of the request), and after departureGrace in
// any case.

// departureGrace bounds how long a run whose browser has left is read on
// for its task id.
const departureGrace = 10 * time.Second

// departure follows the browser of one run.
type departure struct {
	gone atomic.Bool
	stop func() bool
}

// watchDeparture calls cut, which ends s, once the browser's request
// context ends and s knows its task id (or after departureGrace).
func watchDeparture(browser context.Context, s *chatflow.Stream, cut context.CancelFunc) *departure {
	d := &departure{}
	d.stop = context.AfterFunc(browser, func() {
		d.gone.Store(true)
		if s.TaskID() != "" {
			cut()
			return
		}
		time.AfterFunc(departureGrace, cut)
	})
	return d
}

// leave reports that the reader of s should end it now: the browser has
// left and the task id is known, so ending the stream stops the run.
func (d *departure) leave(s *chatflow.Stream) bool {
	return d.gone.Load() && s.TaskID() != ""
}
