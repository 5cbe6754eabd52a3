package chatflow

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestStopMessage(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	task := uuidN(11, 1)
	mux.HandleFunc("POST /chat-messages/{task}/stop", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("task") != task {
			t.Errorf("task = %s", r.PathValue("task"))
		}
		testHeader(t, r, "Content-Type", "application/json")
		testJSONBody(t, r, `{"user":"u1"}`)
		writeJSON(w, 200, `{"result":"success"}`)
	})
	if err := c.StopMessage(context.Background(), task, "u1"); err != nil {
		t.Fatal(err)
	}
	if err := c.StopMessage(context.Background(), "", "u1"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("err = %v", err)
	}
}
