package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// cancelTimeout bounds the cancel request sent when verify --server is
// stopped (Ctrl-C): the command must end even if the sandbox does not answer.
const cancelTimeout = 10 * time.Second

// cancelRun asks the sandbox to cancel the run this command started (its
// context is already done, so the request gets one of its own) and says
// what became of it.
func (c *runClient) cancelRun(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+id+"/cancel", nil)
	if err != nil {
		return fmt.Sprintf("run %s was not cancelled (%v); it goes on in the sandbox", id, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Sprintf("run %s could not be cancelled (%v); it goes on in the sandbox: POST %s/%s/cancel", id, err, c.base, id)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted:
		return fmt.Sprintf("run %s cancelled", id)
	case http.StatusConflict:
		return fmt.Sprintf("run %s had already ended; see GET %s/%s", id, c.base, id)
	default:
		return fmt.Sprintf("run %s could not be cancelled (HTTP %s); it goes on in the sandbox: POST %s/%s/cancel", id, resp.Status, c.base, id)
	}
}
