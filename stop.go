package chatflow

import (
	"context"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
)

// StopMessage asks the server to stop generating the answer of the
// streaming task taskID (the task_id of the stream's live events, not the
// workflow run id) started for user. A stopped run's stream ends with
// message_end and a workflow_finished whose status is "stopped"; the stored
// message keeps the partial answer. The server answers 200 for any task:
// one that has already ended, never existed or belongs to another user is
// silently left alone, so a nil error does not prove that a run stopped.
func (c *Client) StopMessage(ctx context.Context, taskID, user string) error {
	if err := transport.CheckID("task id", taskID); err != nil {
		return err
	}
	return transport.CheckSuccess(c.raw.StopChatMessageGeneration(ctx, taskID, gen.StopChatMessageGenerationJSONRequestBody{User: user}))
}
