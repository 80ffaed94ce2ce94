package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// WebhookConfig says where firing and resolved alerts are posted.
type WebhookConfig struct {
	// URL receives a POST with a JSON WebhookMessage per transition.
	URL string
	// Timeout bounds each attempt (default 5s).
	Timeout time.Duration
	// Retries is how many times a failed delivery (network error, 5xx,
	// 408, 429) is retried, with backoff 1s, 2s, 4s, ... up to 30s
	// (default 3; negative: none).
	Retries int
	// Queue bounds the deliveries waiting (default 256); beyond it new
	// events are dropped and counted.
	Queue int
}

// WebhookMessage is the body posted to the webhook.
type WebhookMessage struct {
	Version int    `json:"version"` // 1
	Status  string `json:"status"`  // firing or resolved
	Time    string `json:"time"`    // RFC 3339
	Alert   Alert  `json:"alert"`
}

// WebhookStats are the webhook's counters.
type WebhookStats struct {
	URL       string `json:"url,omitempty"`
	Delivered uint64 `json:"delivered"`
	Retried   uint64 `json:"retried"`
	Failed    uint64 `json:"failed"`  // gave up after the retries
	Dropped   uint64 `json:"dropped"` // the queue was full
}

// Defaults of WebhookConfig.
const (
	DefaultWebhookTimeout = 5 * time.Second
	DefaultWebhookRetries = 3
	DefaultWebhookQueue   = 256
	maxBackoff            = 30 * time.Second
)

type webhook struct {
	cfg    WebhookConfig
	log    *slog.Logger
	client *http.Client
	queue  chan Event
	// backoff is the first retry delay (1s; tests shorten it).
	backoff time.Duration

	delivered, retried, failed, dropped atomic.Uint64
}

// CheckWebhookURL checks a webhook URL.
func CheckWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	return nil
}

func newWebhook(cfg WebhookConfig, log *slog.Logger) (*webhook, error) {
	if err := CheckWebhookURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("webhook url %v", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultWebhookRetries
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultWebhookQueue
	}
	return &webhook{
		cfg: cfg, log: log, queue: make(chan Event, cfg.Queue), backoff: time.Second,
		client: &http.Client{Timeout: cfg.Timeout},
	}, nil
}

// enqueue hands an event to the delivery goroutine without blocking.
func (w *webhook) enqueue(ev Event) {
	select {
	case w.queue <- ev:
	default:
		if w.dropped.Add(1) == 1 {
			w.log.Warn("webhook queue full; dropping alert notifications", "url", w.cfg.URL)
		}
	}
}

func (w *webhook) stats() WebhookStats {
	return WebhookStats{URL: w.cfg.URL, Delivered: w.delivered.Load(), Retried: w.retried.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load()}
}

// run delivers events in order until ctx ends.
func (w *webhook) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-w.queue:
			w.deliver(ctx, ev)
		}
	}
}

func (w *webhook) deliver(ctx context.Context, ev Event) {
	body, err := json.Marshal(WebhookMessage{Version: 1, Status: ev.Kind, Time: ev.Time.UTC().Format(time.RFC3339Nano), Alert: ev.Alert})
	if err != nil {
		w.failed.Add(1)
		w.log.Warn("webhook: cannot encode alert", "rule", ev.Alert.Rule, "err", err)
		return
	}
	delay := w.backoff
	for attempt := 0; ; attempt++ {
		retry, err := w.post(ctx, body)
		if err == nil {
			w.delivered.Add(1)
			return
		}
		if !retry || attempt >= w.cfg.Retries || ctx.Err() != nil {
			w.failed.Add(1)
			w.log.Warn("webhook delivery failed", "url", w.cfg.URL, "rule", ev.Alert.Rule, "status", ev.Kind, "attempts", attempt+1, "err", err)
			return
		}
		w.retried.Add(1)
		select {
		case <-ctx.Done():
			w.failed.Add(1)
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, maxBackoff)
	}
}

// post makes one attempt; retry says whether a failure is worth retrying.
func (w *webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "satellite-alerts/1")
	resp, err := w.client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("%s", resp.Status)
	default:
		return false, fmt.Errorf("%s (not retried)", resp.Status)
	}
}
