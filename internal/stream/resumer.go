package stream

import "time"

// resumer owns what a stream that can resume keeps across connections:
// the attempts, the events seen (to drop them when a reattached run sends
// them again), the answer text yielded, and the terminal events held back
// until the answer is reconciled with the stored one. Used only by the
// reading goroutine.
type resumer struct {
	seen       seenEvents
	resumes    int       // connections dropped and resumed
	deadline   time.Time // of resumeBudget, from the first drop
	reattached bool      // events come from a reattached run: drop the ones seen
	noReattach bool      // the server cannot reattach: poll the run's state

	answer       answerText
	answerEnded  bool    // Vocabulary.AnswerEnd was yielded: no text can be lost
	textLost     bool    // answer text may be missing: a drop before AnswerEnd
	reconciled   bool    // the stored answer was looked up
	fromStore    bool    // the answer yielded last is the stored one
	heldTerminal []Event // terminal events held back until reconciled
}

func newResumer() *resumer { return &resumer{answer: answerText{hash: fnvOffset}} }

// answerText follows the answer text yielded, by its hash and length.
type answerText struct {
	hash    uint64 // FNV-1a
	n       int
	sawText bool // an event carried answer text
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func (a *answerText) add(t string) {
	a.hash = fnvAdd(a.hash, t)
	a.n += len(t)
	if t != "" {
		a.sawText = true
	}
}

func (a *answerText) set(t string) {
	a.hash, a.n = fnvOffset, 0
	a.add(t)
}

func (a *answerText) same(t string) bool {
	return len(t) == a.n && fnvAdd(fnvOffset, t) == a.hash
}

// mustHoldTerminal reports whether a terminal event is to be held back:
// after a drop that may have lost answer text, until the answer is
// reconciled with the stored one (false for a nil resumer).
func (r *resumer) mustHoldTerminal() bool { return r != nil && r.textLost && !r.reconciled }

// hasHeldTerminal reports whether terminal events are held back (false
// for a nil resumer).
func (r *resumer) hasHeldTerminal() bool { return r != nil && r.heldTerminal != nil }

// takeHeldTerminal returns the terminal events held back, which are no
// longer held.
func (r *resumer) takeHeldTerminal() []Event {
	h := r.heldTerminal
	r.heldTerminal = nil
	return h
}

// admit follows the answer text and the events yielded, and reports
// whether ev (with SSE id id; readText reads its answer text, nil for an
// event without) is to be yielded: an event that a reattached run sends
// again is not, nor is the snapshot's Replace event when it brings
// nothing new (its answer is empty while the run goes on).
func (r *resumer) admit(v *Vocabulary, ev Event, id string, readText func(data string) string) bool {
	if r.seen.replayed(id) {
		return false // replayed by the server on reattach
	}
	switch {
	case readText != nil:
		r.answer.add(readText(ev.Data))
		return true
	case ev.Name == v.Replace && v.Replace != "":
		answer, ok := v.ReplaceText(ev.Data)
		if !ok {
			return true
		}
		if r.reattached && (answer == "" || r.answer.same(answer)) {
			return false
		}
		r.answer.set(answer)
		r.fromStore = false
		return true
	case ev.Name == v.Error:
		return true
	}
	if r.seen.seenKey(v.key(ev.Name, ev.Data)) && r.reattached {
		return false
	}
	if ev.Name == v.AnswerEnd && v.AnswerEnd != "" {
		r.answerEnded = true
	}
	return true
}
