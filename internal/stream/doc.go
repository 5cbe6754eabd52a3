// Package stream is the stream engine every app package shares: it reads a
// run's reply as server-sent events, resumes a dropped stream from the
// server's record of the run, and stops a run that the caller abandons.
//
// The engine knows no endpoint and no app type. It talks to the server
// through Server (reattach, run state, stored answer, stop), and what it
// knows of the events (which end a run, which carry answer text) comes
// from a Vocabulary; events stay generic: a name and the raw JSON data.
//
// The files follow the engine's jobs, each using only the ones listed
// after it (no two files depend on each other):
//
//   - read.go: opening a stream, the read loop of Events (the current
//     connection's events, or those a resume queued), how a read error
//     ends or resumes the stream, Close;
//   - autostop.go: abandoning a stream (the stop request in the
//     background, reading ahead for the task id, WaitStop);
//   - resume.go: resuming after a drop (reattach, or the run's state),
//     and reconciling the answer with the stored one at the run's end;
//   - stream.go: the Stream's state across connections, its ids,
//     releasing its connection, Stop;
//   - resumer.go and dedup.go: the resumer's state: attempts, the answer
//     text so far, terminal events held back, and the events seen (by
//     event key and by SSE id), to drop those a reattached run repeats;
//   - conn.go and handoff.go: one connection: opening it (the reply
//     checked to be an event stream), decoding its events (names, SSE
//     ids), closing it; the reader that lets a connection be handed to a
//     background read while a read is waiting. The idle timeout is the
//     request path's (transport.Doer);
//   - config.go, server.go, vocab.go, errors.go: what a stream is made
//     of, the Server interface, the Vocabulary, the errors.
package stream
