package stream

import (
	"encoding/json"

	"github.com/difykit/chatflow/internal/jsonscan"
	"github.com/difykit/chatflow/internal/transport"
)

// De-duplication: a reattached run sends again events the stream yielded
// before the drop (the state snapshot rebuilds the nodes so far; a server
// that keeps a run's events replays them, with SSE ids). The resumer drops
// them by SSE id, and by event key for servers that send no ids.

// maxSeenEvents bounds the keys and ids remembered for dropping
// duplicates.
const maxSeenEvents = 1 << 16

// seenEvents remembers the events a stream yielded.
type seenEvents struct {
	keys   map[string]struct{} // by Vocabulary.Key
	ids    map[string]struct{} // by SSE id
	lastID string              // the SSE id of the last event that had one
}

// replayed reports whether an event with SSE id id was yielded before, and
// records id otherwise.
func (s *seenEvents) replayed(id string) bool {
	if id == "" {
		return false
	}
	if _, dup := s.ids[id]; dup {
		return true
	}
	if s.ids == nil {
		s.ids = make(map[string]struct{})
	}
	if len(s.ids) < maxSeenEvents {
		s.ids[id] = struct{}{}
	}
	if transport.CheckHeaderValue("Last-Event-ID", id) == nil {
		s.lastID = id // sent back as Last-Event-ID
	}
	return false
}

// seenKey reports whether key was recorded before, and records it
// otherwise ("" is never recorded).
func (s *seenEvents) seenKey(key string) bool {
	if key == "" {
		return false
	}
	if _, dup := s.keys[key]; dup {
		return true
	}
	if s.keys == nil {
		s.keys = make(map[string]struct{})
	}
	if len(s.keys) < maxSeenEvents {
		s.keys[key] = struct{}{}
	}
	return false
}

// DifyEventKey identifies one of Dify's events for dropping duplicates:
// the name of an event that comes once per run (message_end,
// tts_message_end); else its name and the execution id of its data (node
// events are identified by data.id), or the form token of a human input
// form, or the top-level id (message_file), with the index of an
// iteration or loop step and the attempt of a node retry. Chunks of text
// and logs (message, text_chunk, agent_log, ...) have no key: they are
// never dropped.
func DifyEventKey(name, data string) string {
	switch name {
	case "message_end", "tts_message_end":
		return name
	case "ping", "error", "message", "agent_message", "message_replace", "tts_message",
		"text_chunk", "reasoning_chunk", "agent_thought", "agent_log":
		return ""
	}
	// One pass of the scanner over the event finds the ids; encoding/json
	// reads what it does not handle exactly as encoding/json would.
	var v jsonscan.IDs
	if !jsonscan.DecodeIDs(data, &v) && !decodeIDs(data, &v) {
		return ""
	}
	id := v.DataID
	if name == "human_input_required" && v.FormToken != "" {
		id = v.FormToken
	}
	if id == "" {
		id = v.ID
	}
	if id == "" {
		return ""
	}
	key := name + "\x00" + id
	switch name {
	case "iteration_next", "loop_next":
		key += "\x00" + v.Index
	case "node_retry":
		key += "\x00" + v.RetryIndex
	}
	return key
}

// decodeIDs is jsonscan.DecodeIDs with encoding/json; false when data
// does not decode.
func decodeIDs(data string, ids *jsonscan.IDs) bool {
	var v struct {
		ID   string `json:"id"`
		Data struct {
			ID         string          `json:"id"`
			FormToken  string          `json:"form_token"`
			Index      json.RawMessage `json:"index"`
			RetryIndex json.RawMessage `json:"retry_index"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(data), &v) != nil {
		return false
	}
	*ids = jsonscan.IDs{ID: v.ID, DataID: v.Data.ID, FormToken: v.Data.FormToken, Index: string(v.Data.Index), RetryIndex: string(v.Data.RetryIndex)}
	return true
}
