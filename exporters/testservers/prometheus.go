package testservers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Prometheus is a running Prometheus server scraping a test's targets.
type Prometheus struct {
	*process
	// URL is the web and API address, http://127.0.0.1:PORT.
	URL string
}

// StartPrometheus starts Prometheus on a free loopback port, scraping
// each target (host:port, path /metrics) every interval, with its data
// in a temporary directory. It is stopped when the test ends.
func StartPrometheus(t testing.TB, interval time.Duration, targets ...string) *Prometheus {
	t.Helper()
	bin := binary(t, "prometheus")
	dir := t.TempDir()
	port := FreePort(t)
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = fmt.Sprintf("%q", tg)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: satellite
    scrape_interval: %s
    scrape_timeout: %s
    static_configs:
      - targets: [%s]
`, interval, interval, interval, interval, strings.Join(quoted, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfgPath, conf)
	s := &Prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	args := []string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--log.level=warn",
		"--web.console.templates=" + filepath.Join(dir, "consoles"),
		"--web.console.libraries=" + filepath.Join(dir, "console_libraries"),
	}
	s.process = newProcess(t, "prometheus", bin, args, dir, httpReady(s.URL+"/-/ready"))
	s.start(t)
	return s
}

// Sample is one element of an instant vector.
type Sample struct {
	Labels map[string]string
	Value  string
}

// Query runs an instant PromQL query and returns the vector.
func (s *Prometheus) Query(q string) ([]Sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("prometheus query %q: %s: %s", q, resp.Status, body)
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("prometheus query %q: %s", q, out.Error)
	}
	var samples []Sample
	for _, r := range out.Data.Result {
		v := ""
		if len(r.Value) == 2 {
			v, _ = r.Value[1].(string)
		}
		samples = append(samples, Sample{Labels: r.Metric, Value: v})
	}
	return samples, nil
}

// Targets returns the scrape targets' health ("up", "down", "unknown")
// and last error by scrape URL.
func (s *Prometheus) Targets() (map[string][2]string, error) {
	resp, err := http.Get(s.URL + "/api/v1/targets")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	m := map[string][2]string{}
	for _, a := range out.Data.ActiveTargets {
		m[a.ScrapeURL] = [2]string{a.Health, a.LastError}
	}
	return m, nil
}
