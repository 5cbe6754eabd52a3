package chatflow

import (
	"context"
	"errors"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/transport"
)

// HumanInputForm returns the form behind formToken (the form_token of a
// human_input_required event). An expired or already submitted form is a
// 412 error (code human_input_form_expired or human_input_form_submitted).
func (c *Client) HumanInputForm(ctx context.Context, formToken string) (*HumanInputForm, error) {
	if err := transport.CheckID("form token", formToken); err != nil {
		return nil, err
	}
	return transport.DecodeJSON[HumanInputForm](c.raw.GetChatflowHumanInputForm(ctx, formToken))
}

// SubmitHumanInputForm fills in the form behind formToken on behalf of
// user, pressing the button action (the ID of one of its UserActions),
// and lets the paused run go on; follow it with the run's event stream.
// inputs maps output variable names to values (nil sends {}).
func (c *Client) SubmitHumanInputForm(ctx context.Context, formToken, user, action string, inputs map[string]any) error {
	if err := transport.CheckID("form token", formToken); err != nil {
		return err
	}
	if action == "" {
		return errors.New("chatflow: SubmitHumanInputForm: empty action")
	}
	if inputs == nil {
		inputs = map[string]any{}
	}
	body := gen.SubmitChatflowHumanInputFormJSONRequestBody{Action: action, Inputs: inputs, User: user}
	return transport.CheckSuccess(c.raw.SubmitChatflowHumanInputForm(ctx, formToken, body))
}
