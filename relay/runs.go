package relay

import "sync"

// runLimiter counts the chat runs each end user has going.
type runLimiter struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

func newRunLimiter(max int) *runLimiter { return &runLimiter{max: max, n: map[string]int{}} }

// acquire counts one more run of user; false when user has max already.
func (l *runLimiter) acquire(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[user] >= l.max {
		return false
	}
	l.n[user]++
	return true
}

// release counts one run of user less.
func (l *runLimiter) release(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[user]--; l.n[user] <= 0 {
		delete(l.n, user)
	}
}
