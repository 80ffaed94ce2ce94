package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/satellite-sdn/satellite/api"

	"github.com/gorilla/websocket"
)

// OpenAPI returns the server's OpenAPI document.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, "GET", "/api/openapi.json", nil, nil, &out)
}

// Watch follows the server's websocket stream (GET /api/v1/stream): the
// hello, the snapshot, then every delta, each handed to fn as it arrives,
// until ctx ends, fn returns an error, or the server closes the stream.
// topics selects what is sent ("" for the server's default); since > 0
// resumes after that version of the run named by epoch.
func (c *Client) Watch(ctx context.Context, topics string, since uint64, epoch string, fn func(json.RawMessage) error) error {
	u := *c.base
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path += "/api/v1/stream"
	q := url.Values{}
	if topics != "" {
		q.Set("topics", topics)
	}
	if since > 0 {
		q.Set("since", strconv.FormatUint(since, 10))
		q.Set("epoch", epoch)
	}
	u.RawQuery = q.Encode()
	h := http.Header{}
	c.authorize(h)
	dialer := *websocket.DefaultDialer
	if t, ok := c.http.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		dialer.TLSClientConfig = t.TLSClientConfig
	}
	conn, resp, err := dialer.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			var e api.Error
			if b, rerr := io.ReadAll(io.LimitReader(resp.Body, 4096)); rerr == nil && json.Unmarshal(b, &e) == nil && e.Error != "" {
				return &APIError{Status: resp.StatusCode, Message: e.Error, Field: e.Field}
			}
			return fmt.Errorf("stream: %s: %w", resp.Status, err)
		}
		return &ConnError{URL: c.URL(), Err: err}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if ce, ok := err.(*websocket.CloseError); ok {
				if ce.Code == websocket.CloseNormalClosure {
					return nil
				}
				return fmt.Errorf("stream closed by the server: %s", ce.Text)
			}
			return fmt.Errorf("stream: %w", err)
		}
		if err := fn(msg); err != nil {
			return err
		}
	}
}
