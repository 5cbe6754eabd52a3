package chatflow

import (
	"context"

	"github.com/difykit/chatflow/gen"
)

// StopMessage asks the server to stop generating the answer of the
// streaming task taskID (the task_id of the stream's events) started for
// user. The server answers success even for a task that has already ended
// or never existed.
func (c *Client) StopMessage(ctx context.Context, taskID, user string) error {
	if err := checkID("task id", taskID); err != nil {
		return err
	}
	return checkSuccess(c.raw.StopChatMessageGeneration(ctx, taskID, gen.StopChatMessageGenerationJSONRequestBody{User: user}))
}
