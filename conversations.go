package chatflow

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/paging"
	"github.com/difykit/chatflow/internal/pyliteral"
	"github.com/difykit/chatflow/internal/transport"
)

// DeleteConversation deletes a conversation of user. The server answers 204
// (very old servers 200 with {"result":"success"}); both are success.
// Servers that check the owner answer a conversation that does not exist,
// or belongs to another user, with an error matching ErrNotFound; some
// newer servers delete by id without that check and answer 204 even for an
// unknown id, so a nil error does not prove that the id existed.
func (c *Client) DeleteConversation(ctx context.Context, conversationID, user string) error {
	if err := transport.CheckID("conversation id", conversationID); err != nil {
		return err
	}
	return transport.CheckSuccess(c.raw.DeleteConversation(ctx, conversationID, gen.DeleteConversationJSONRequestBody{User: user}))
}

// Conversations yields the conversations of user, one page at a time
// behind the scenes (cursor last_id), in the order set by WithSortBy
// (default: most recently updated first). Breaking out of the loop stops
// fetching; an error is yielded at most once and ends the sequence.
//
//	for conv, err := range c.Conversations(ctx, "user-1", chatflow.WithPageSize(100)) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(conv.ID, conv.Name)
//	}
//
// A single page is c.API().GetConversationsListWithResponse.
func (c *Client) Conversations(ctx context.Context, user string, opts ...ListOption) iter.Seq2[Conversation, error] {
	cfg := paging.NewConfig(opts)
	fetch := func(ctx context.Context, cursor string) ([]Conversation, bool, error) {
		// The hot path of the most common list: the request is built here
		// (the generated builder costs about 15 allocations more per page)
		// and sent through the same doer, editors and checks.
		var b strings.Builder
		b.Grow(len(c.tr.BaseURL()) + 64 + len(user) + len(cursor))
		b.WriteString(c.tr.BaseURL())
		b.WriteString("conversations?limit=")
		b.WriteString(strconv.Itoa(cfg.PageSize))
		for _, p := range [...][2]string{{"user", user}, {"last_id", cursor}, {"sort_by", cfg.SortBy}} {
			if p[1] != "" {
				b.WriteString("&" + p[0] + "=")
				b.WriteString(url.QueryEscape(p[1]))
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.String(), nil)
		if err == nil {
			err = c.tr.Edit(ctx, req)
		}
		if err != nil {
			return nil, false, fmt.Errorf("chatflow: %w", err)
		}
		page, err := transport.DecodeJSON[gen.ConversationsListResponse](c.tr.Do(req))
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
	}
	id := func(v *Conversation) string { return v.ID }
	return paging.Cursor(ctx, fetch, id, paging.LastID(id), false)
}

// RenameConversation gives a conversation of user a new name and returns
// the conversation as it is now.
func (c *Client) RenameConversation(ctx context.Context, conversationID, user, name string) (*Conversation, error) {
	if name == "" {
		return nil, fmt.Errorf("chatflow: RenameConversation: empty name (use AutoRenameConversation to let the app choose one)")
	}
	return c.renameConversation(ctx, conversationID, gen.ConversationRenameRequest{Name: name, User: user})
}

// AutoRenameConversation asks the app to name a conversation of user from
// its content (auto_generate) and returns the conversation with its new
// name.
func (c *Client) AutoRenameConversation(ctx context.Context, conversationID, user string) (*Conversation, error) {
	return c.renameConversation(ctx, conversationID, gen.ConversationRenameRequest{AutoGenerate: true, User: user})
}

func (c *Client) renameConversation(ctx context.Context, conversationID string, body gen.ConversationRenameRequest) (*Conversation, error) {
	if err := transport.CheckID("conversation id", conversationID); err != nil {
		return nil, err
	}
	return transport.DecodeJSON[Conversation](c.raw.RenameConversation(ctx, conversationID, body))
}

// ConversationVariables yields the variables of a conversation of user,
// following the server's cursor (last_id). Each Value is the server's string
// rendering (Python's str() of the stored value); VariableValue decodes it
// by its value_type. A value sent as another JSON type is kept as its JSON
// text. WithVariableName yields only the
// variable with exactly that name. A single page is
// c.API().GetConversationVariablesWithResponse.
//
// The server pages variables by creation time (the next page holds those
// created after the last one of the page before), so variables created in
// the same second as the last one of a page can be skipped at the page
// boundary, silently. The iterator therefore asks for the largest page
// (MaxPageSize) unless WithPageSize chooses otherwise: a conversation with
// at most that many variables is read whole, in one request.
func (c *Client) ConversationVariables(ctx context.Context, conversationID, user string, opts ...ListOption) iter.Seq2[ConversationVariable, error] {
	if err := transport.CheckID("conversation id", conversationID); err != nil {
		return paging.Err[ConversationVariable](err)
	}
	cfg := paging.NewConfig(opts)
	if !cfg.PageSizeSet {
		cfg.PageSize = MaxPageSize
	}
	fetch := func(ctx context.Context, cursor string) ([]ConversationVariable, bool, error) {
		params := &gen.GetConversationVariablesParams{
			User:         ptr(user),
			LastID:       ptr(cursor),
			Limit:        &cfg.PageSize,
			VariableName: ptr(cfg.VariableName),
		}
		page, err := transport.DecodeJSON[variablesPageWire](c.raw.GetConversationVariables(ctx, conversationID, params))
		if err != nil {
			return nil, false, err
		}
		vars := make([]ConversationVariable, len(page.Data))
		for i := range page.Data {
			vars[i] = page.Data[i].variable()
		}
		return vars, page.HasMore, nil
	}
	id := func(v *ConversationVariable) string { return v.ID }
	all := paging.Cursor(ctx, fetch, id, paging.LastID(id), false)
	name := cfg.VariableName
	if name == "" {
		return all
	}
	return func(yield func(ConversationVariable, error) bool) {
		for v, err := range all {
			if err != nil {
				yield(v, err)
				return
			}
			if v.Name == name {
				yield(v, nil) // names are unique in a conversation
				return
			}
		}
	}
}

// UpdateConversationVariable sets the value of a conversation variable and
// returns the variable as it is now. value must have the variable's type
// (string, number, object, array...); a mismatch is a 400 bad_request.
// The returned Value is the server's string rendering of the new value:
// decode it with VariableValue.
func (c *Client) UpdateConversationVariable(ctx context.Context, conversationID, variableID, user string, value any) (*ConversationVariable, error) {
	if err := transport.CheckID("conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := transport.CheckID("variable id", variableID); err != nil {
		return nil, err
	}
	body := gen.ConversationVariableUpdateRequest{User: user, Value: value}
	w, err := transport.DecodeJSON[variableWire](c.raw.UpdateChatConversationVariable(ctx, conversationID, variableID, body))
	if err != nil {
		return nil, err
	}
	v := w.variable()
	return &v, nil
}

// VariableValue decodes the value of a conversation variable into a Go value
// by its value_type. Dify sends every value as a string (or null): the
// server renders the stored value with Python's str(), so a number 42 comes
// as "42", a boolean as "True", an object {"a": 1} as "{'a': 1}". JSON
// renderings ("true", `{"a": 1}`) are accepted too.
//
//	value_type                       result
//	string, secret                   string, as sent
//	number, integer, float           float64 (Python's inf and nan included;
//	                                 integers beyond 2^53 are rounded)
//	boolean                          bool
//	object                           map[string]any
//	array[...]                       []any; the element type is checked
//	                                 for array[string], array[number],
//	                                 array[boolean] and array[object]
//	file                             map[string]any when the value is a
//	                                 dict literal or JSON object, else the
//	                                 string as sent
//	none, or a null value            nil
//	any other type                   string, as sent
//
// Inside objects and arrays, numbers are float64, strings string, True and
// False bool and None nil, as encoding/json would give for JSON. A value that
// does not decode as its type is an error naming the variable (name and id);
// the error never quotes the value.
func VariableValue(v ConversationVariable) (any, error) {
	if v.Value == nil {
		return nil, nil
	}
	s := *v.Value
	got, err := decodeVariable(v.ValueType, s)
	if err != nil {
		return nil, fmt.Errorf("chatflow: conversation variable %q (id %s): value of type %q: %w",
			v.Name, v.ID, v.ValueType, err)
	}
	return got, nil
}

// decodeVariable decodes s, a value rendered by the server, by its type.
func decodeVariable(valueType, s string) (any, error) {
	t := strings.ToLower(strings.TrimSpace(valueType))
	switch t {
	case "string", "secret":
		return s, nil
	case "none":
		return nil, nil
	case "number", "integer", "float":
		return parseLiteralAs(s, "a number", func(x any) bool { _, ok := x.(float64); return ok })
	case "boolean":
		return parseLiteralAs(s, "a boolean", func(x any) bool { _, ok := x.(bool); return ok })
	case "object":
		return parseLiteralAs(s, "an object", isObject)
	case "file":
		if x, err := pyliteral.Parse(s); err == nil && isObject(x) {
			return x, nil
		}
		return s, nil
	}
	if elem, ok := strings.CutPrefix(t, "array"); ok && (elem == "" || strings.HasPrefix(elem, "[")) {
		var check func(any) bool
		what := "an array"
		switch elem {
		case "[string]":
			check, what = func(x any) bool { _, ok := x.(string); return ok }, "an array of strings"
		case "[number]", "[integer]", "[float]":
			check, what = func(x any) bool { _, ok := x.(float64); return ok }, "an array of numbers"
		case "[boolean]":
			check, what = func(x any) bool { _, ok := x.(bool); return ok }, "an array of booleans"
		case "[object]":
			check, what = isObject, "an array of objects"
		}
		return parseLiteralAs(s, what, func(x any) bool {
			a, ok := x.([]any)
			if !ok {
				return false
			}
			for _, e := range a {
				if check != nil && !check(e) {
					return false
				}
			}
			return true
		})
	}
	return s, nil
}

func isObject(x any) bool { _, ok := x.(map[string]any); return ok }

// parseLiteralAs parses s and checks that the result is what the type says.
func parseLiteralAs(s, what string, ok func(any) bool) (any, error) {
	x, err := pyliteral.Parse(s)
	if err != nil {
		return nil, err
	}
	if !ok(x) {
		return nil, fmt.Errorf("not %s (got %s)", what, kindOf(x))
	}
	return x, nil
}

// kindOf names the kind of a parsed value, for errors.
func kindOf(x any) string {
	switch x := x.(type) {
	case nil:
		return "None"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case map[string]any:
		return "an object"
	case []any:
		if len(x) == 0 {
			return "an empty array"
		}
		return "an array with " + kindOf(x[0])
	}
	return fmt.Sprintf("%T", x)
}

// variableWire is a conversation variable as it comes over the wire, with
// its value kept raw: the server sends a string, but a value of another JSON
// type (from a server that sends JSON) is kept as its JSON text rather than
// failing the whole page.
type variableWire struct {
	CreatedAt   int64           `json:"created_at"`
	Description string          `json:"description"`
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	UpdatedAt   int64           `json:"updated_at"`
	Value       json.RawMessage `json:"value"`
	ValueType   string          `json:"value_type"`
}

// variable converts w, keeping a string value as it is and any other
// non-null JSON value as its JSON text.
func (w *variableWire) variable() ConversationVariable {
	v := ConversationVariable{
		CreatedAt: w.CreatedAt, Description: w.Description, ID: w.ID,
		Name: w.Name, UpdatedAt: w.UpdatedAt, ValueType: w.ValueType,
	}
	raw := strings.TrimSpace(string(w.Value))
	switch {
	case raw == "" || raw == "null":
	case raw[0] == '"':
		var s string
		if json.Unmarshal(w.Value, &s) == nil {
			v.Value = &s
		} else {
			v.Value = &raw
		}
	default:
		v.Value = &raw
	}
	return v
}

// variablesPageWire is a page of conversation variables as sent.
type variablesPageWire struct {
	Data    []variableWire `json:"data"`
	HasMore bool           `json:"has_more"`
	Limit   int            `json:"limit"`
}
