package chatflow

import (
	"context"
	"io"
	"net/http"

	"github.com/difykit/chatflow/gen"
)

// DeleteConversation deletes a conversation of user. The server answers 204
// (very old servers 200 with {"result":"success"}); both are success. A
// conversation that does not exist, or belongs to another user, gives an
// error matching ErrNotFound.
func (c *Client) DeleteConversation(ctx context.Context, conversationID, user string) error {
	if err := checkID("conversation id", conversationID); err != nil {
		return err
	}
	resp, err := c.raw.DeleteConversation(ctx, conversationID, gen.DeleteConversationJSONRequestBody{User: user})
	if err != nil {
		return err
	}
	return drainClose(resp)
}

// drainClose discards what is left of a reply body (bounded) and closes it,
// so the connection can be reused.
func drainClose(resp *http.Response) error {
	_, _ = io.CopyN(io.Discard, resp.Body, errBodyReadLimit)
	return resp.Body.Close()
}
