// Package stream is the stream engine every app package shares: it reads a
// run's reply as server-sent events, resumes a dropped stream from the
// server's record of the run, and stops a run that the caller abandons.
//
// The engine knows no endpoint and no app type. It talks to the server
// through Server (reattach, run state, stored answer, stop), and what it
// knows of the events (which end a run, which carry answer text) comes
// from a Vocabulary; events stay generic: a name and the raw JSON data.
//
// The files follow the engine's jobs:
//
//   - conn.go: one connection: opening it (the reply checked to be an
//     event stream), decoding its events (names, SSE ids), closing it; the
//     idle timeout is the request path's (transport.Doer);
//   - handoff.go: the reader that lets a connection be handed to a
//     background read while a read is waiting;
//   - stream.go: the Stream across connections: the read loop, the ids,
//     Close, and what the caller may ask;
//   - resume.go and dedup.go: the resumer, which owns the resume state
//     (attempts, the answer text so far, terminal events held back) and
//     drops the events a reattached run sends again (by event key and by
//     SSE id);
//   - autostop.go: abandoning a stream (the stop request in the
//     background, reading ahead for the task id, WaitStop);
//   - server.go, vocab.go, errors.go: the interfaces and errors.
package stream
