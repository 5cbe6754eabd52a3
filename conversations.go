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
	"github.com/difykit/chatflow/internal/paging"
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
// following the server's cursor (last_id). WithVariableName yields only the
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
		page, err := transport.DecodeJSON[gen.ConversationVariablesResponse](c.raw.GetConversationVariables(ctx, conversationID, params))
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
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
func (c *Client) UpdateConversationVariable(ctx context.Context, conversationID, variableID, user string, value any) (*ConversationVariable, error) {
	if err := transport.CheckID("conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := transport.CheckID("variable id", variableID); err != nil {
		return nil, err
	}
	body := gen.ConversationVariableUpdateRequest{User: user, Value: value}
	return transport.DecodeJSON[ConversationVariable](c.raw.UpdateChatConversationVariable(ctx, conversationID, variableID, body))
}
