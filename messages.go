package chatflow

import (
	"context"
	"iter"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/paging"
	"github.com/difykit/chatflow/internal/transport"
)

// Messages yields the messages of a conversation of user, newest first.
//
// The server pages backwards: each page holds the messages just older than
// the page before (cursor first_id), oldest first within the page. Messages
// yields each page from its end, so the whole sequence runs from the most
// recent message to the first one, with no more than one page in memory,
// and breaking out of the loop after the last n messages fetches only the
// pages that hold them. Each message is yielded exactly once, even if the
// server repeats the cursor message at the edge of a page. For a transcript
// in chronological order, collect and reverse:
//
//	var msgs []chatflow.Message
//	for m, err := range c.Messages(ctx, convID, user) {
//		if err != nil {
//			return err
//		}
//		msgs = append(msgs, m)
//	}
//	slices.Reverse(msgs)
//
// A single page is c.API().GetConversationHistoryWithResponse.
func (c *Client) Messages(ctx context.Context, conversationID, user string, opts ...ListOption) iter.Seq2[Message, error] {
	if err := transport.CheckID("conversation id", conversationID); err != nil {
		return paging.Err[Message](err)
	}
	cfg := paging.NewConfig(opts)
	fetch := func(ctx context.Context, cursor string) ([]Message, bool, error) {
		params := &gen.GetConversationHistoryParams{
			ConversationID: conversationID,
			User:           ptr(user),
			FirstID:        ptr(cursor),
			Limit:          &cfg.PageSize,
		}
		page, err := transport.DecodeJSON[gen.ConversationHistoryResponse](c.raw.GetConversationHistory(ctx, params))
		if err != nil {
			return nil, false, err
		}
		return page.Data, page.HasMore, nil
	}
	// The next (older) page ends just before the oldest message of this one.
	oldest := func(items []Message) string { return items[0].ID }
	return paging.Cursor(ctx, fetch, func(m *Message) string { return m.ID }, oldest, true)
}

// SendFeedback rates the answer of a message on behalf of user, with an
// optional comment. RatingNone revokes a rating given before (the request
// carries "rating": null).
func (c *Client) SendFeedback(ctx context.Context, messageID, user string, rating Rating, content string) error {
	if err := transport.CheckID("message id", messageID); err != nil {
		return err
	}
	body := gen.MessageFeedbackRequest{User: user, Content: content}
	if rating != RatingNone {
		body.Rating = &rating
	}
	return transport.CheckSuccess(c.raw.PostChatMessageFeedback(ctx, messageID, body))
}

// RevokeFeedback removes the rating user gave to a message.
func (c *Client) RevokeFeedback(ctx context.Context, messageID, user string) error {
	return c.SendFeedback(ctx, messageID, user, RatingNone, "")
}

// SuggestedQuestions returns the follow-up questions the app suggests
// after the answer of a message. The app must have the feature enabled
// (otherwise a 400 or 403 error).
func (c *Client) SuggestedQuestions(ctx context.Context, messageID, user string) ([]string, error) {
	if err := transport.CheckID("message id", messageID); err != nil {
		return nil, err
	}
	r, err := transport.DecodeJSON[gen.SuggestedQuestionsResponse](c.raw.GetSuggestedQuestions(ctx, messageID, &gen.GetSuggestedQuestionsParams{User: user}))
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}
