package chatflow

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/difykit/chatflow/gen"
)

// DeleteConversation deletes a conversation of user. The server answers 204
// (very old servers 200 with {"result":"success"}); both are success.
// Servers that check the owner answer a conversation that does not exist,
// or belongs to another user, with an error matching ErrNotFound; some
// newer servers delete by id without that check and answer 204 even for an
// unknown id, so a nil error does not prove that the id existed.
func (c *Client) DeleteConversation(ctx context.Context, conversationID, user string) error {
	if err := checkID("conversation id", conversationID); err != nil {
		return err
	}
	return checkSuccess(c.raw.DeleteConversation(ctx, conversationID, gen.DeleteConversationJSONRequestBody{User: user}))
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
	cfg := newListConfig(opts)
	fetch := func(ctx context.Context, cursor string) ([]Conversation, bool, error) {
		// The hot path of the most common list: the request is built here
		// (the generated builder costs about 15 allocations more per page)
		// and sent through the same doer, editors and checks.
		var b strings.Builder
		b.Grow(len(c.server) + 64 + len(user) + len(cursor))
		b.WriteString(c.server)
		b.WriteString("conversations?limit=")
		b.WriteString(strconv.Itoa(cfg.pageSize))
		for _, p := range [...][2]string{{"user", user}, {"last_id", cursor}, {"sort_by", string(cfg.sortBy)}} {
			if p[1] != "" {
				b.WriteString("&" + p[0] + "=")
				b.WriteString(url.QueryEscape(p[1]))
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.String(), nil)
		if err == nil {
			err = c.applyEditors(ctx, req)
		}
		if err != nil {
			return nil, false, fmt.Errorf("chatflow: %w", err)
		}
		page, err := decodeJSON[gen.ConversationsListResponse](apiDoer{c}.Do(req))
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
	}
	id := func(v *Conversation) string { return v.ID }
	return cursorSeq(ctx, fetch, id, lastID(id), false)
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
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	return decodeJSON[Conversation](c.raw.RenameConversation(ctx, conversationID, body))
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
	if err := checkID("conversation id", conversationID); err != nil {
		return errSeq[ConversationVariable](err)
	}
	cfg := newListConfig(opts)
	if !cfg.pageSizeSet {
		cfg.pageSize = MaxPageSize
	}
	fetch := func(ctx context.Context, cursor string) ([]ConversationVariable, bool, error) {
		params := &gen.GetConversationVariablesParams{
			User:         ptr(user),
			LastID:       ptr(cursor),
			Limit:        &cfg.pageSize,
			VariableName: ptr(cfg.variableName),
		}
		page, err := decodeJSON[variablesPageWire](c.raw.GetConversationVariables(ctx, conversationID, params))
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
	all := cursorSeq(ctx, fetch, id, lastID(id), false)
	name := cfg.variableName
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
	if err := checkID("conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := checkID("variable id", variableID); err != nil {
		return nil, err
	}
	body := gen.ConversationVariableUpdateRequest{User: user, Value: value}
	w, err := decodeJSON[variableWire](c.raw.UpdateChatConversationVariable(ctx, conversationID, variableID, body))
	if err != nil {
		return nil, err
	}
	v := w.variable()
	return &v, nil
}
