package chatflow

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestHumanInputForm(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("GET /form/human_input/{token}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("token") {
		case "tok-expired":
			writeJSON(w, 412, `{"code":"human_input_form_expired","message":"Form expired.","status":412}`)
			return
		}
		writeJSON(w, 200, `{"form_content":"Approve {{#$output.reason#}}?",
		"inputs":[{"type":"paragraph","output_variable_name":"reason","default":{"type":"constant","value":"ok","selector":[]}},
		 {"type":"select","output_variable_name":"level","option_source":{"type":"constant","value":["a","b"]},"new_thing":1}],
		"user_actions":[{"id":"approve","title":"Approve","button_style":"primary"},{"id":"reject","title":"Reject","button_style":"default"}],
		"resolved_default_values":{"reason":"ok","count":3,"obj":{"x":1}},"expiration_time":1732690000}`)
	})
	f, err := c.HumanInputForm(context.Background(), "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Inputs) != 2 || f.Inputs[0].Default.Value != "ok" || len(f.Inputs[1].OptionSource.Value) != 2 ||
		len(f.UserActions) != 2 || f.UserActions[0].ID != "approve" || f.ResolvedDefaultValues["count"] != float64(3) || f.ExpirationTime != 1732690000 {
		t.Errorf("form = %+v", f)
	}
	_, err = c.HumanInputForm(context.Background(), "tok-expired")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 412 || apiErr.Code != "human_input_form_expired" {
		t.Errorf("err = %v", err)
	}
	if _, err := c.HumanInputForm(context.Background(), ".."); !errors.Is(err, ErrInvalidID) {
		t.Errorf("err = %v", err)
	}
}

func TestSubmitHumanInputForm(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /form/human_input/{token}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("token") == "tok-done" {
			writeJSON(w, 412, `{"code":"human_input_form_submitted","message":"Already submitted.","status":412}`)
			return
		}
		testJSONBody(t, r, `{"action":"approve","inputs":{"reason":"fine"},"user":"u1"}`)
		writeJSON(w, 200, `{}`)
	})
	ctx := context.Background()
	if err := c.SubmitHumanInputForm(ctx, "tok-1", "u1", "approve", map[string]any{"reason": "fine"}); err != nil {
		t.Fatal(err)
	}
	err := c.SubmitHumanInputForm(ctx, "tok-done", "u1", "approve", nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "human_input_form_submitted" {
		t.Errorf("err = %v", err)
	}
	if err := c.SubmitHumanInputForm(ctx, "tok-1", "u1", "", nil); err == nil {
		t.Error("empty action accepted")
	}
}

func TestSubmitHumanInputFormNilInputs(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("POST /form/human_input/{token}", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"action":"reject","inputs":{},"user":"u1"}`)
		writeJSON(w, 200, `{"result":"success"}`)
	})
	if err := c.SubmitHumanInputForm(context.Background(), "tok-1", "u1", "reject", nil); err != nil {
		t.Fatal(err)
	}
}
