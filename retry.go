package chatflow

import (
	"fmt"
	"net/http"
)

// send performs one logical request: the transport call, wrapped so that the
// caller sees which request failed. (Retries are layered here.)
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chatflow: %w", err)
	}
	return resp, nil
}
