package testservers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// Influx2 is a running InfluxDB 2.7.12 (influxd2), set up with an
// organisation, a bucket, a user and an operator token. It is built
// without Flux (scripts/testservers.sh): the write API, InfluxQL through
// /query, setup, tokens, orgs and buckets are the real ones; a Flux query
// is refused with "Flux is not available in this build".
type Influx2 struct {
	*process
	// URL is the HTTP API, http://127.0.0.1:PORT.
	URL string
	// Org and Bucket are the ones made by the setup, OrgID and BucketID
	// their ids.
	Org, Bucket     string
	OrgID, BucketID string
	// Token is the operator token (all permissions on everything).
	Token string
	// User and Password are the initial user's.
	User, Password string
}

// Influx2Options tune StartInflux2.
type Influx2Options struct {
	// Org and Bucket made by the setup (default "satellite" and "sat").
	Org, Bucket string
}

// StartInflux2 starts influxd2 on a free loopback port with its data in a
// temporary directory, reporting, UI and task scheduler off, logging
// errors only, and runs the setup (POST /api/v2/setup). It is stopped
// when the test ends. Kill and Start keep the data and the setup.
func StartInflux2(t testing.TB, opt Influx2Options) *Influx2 {
	t.Helper()
	if opt.Org == "" {
		opt.Org = "satellite"
	}
	if opt.Bucket == "" {
		opt.Bucket = "sat"
	}
	bin := binary(t, "influxd2")
	dir := t.TempDir()
	port := FreePort(t)
	s := &Influx2{
		URL:      fmt.Sprintf("http://127.0.0.1:%d", port),
		Org:      opt.Org,
		Bucket:   opt.Bucket,
		Token:    "satellite-test-operator-token",
		User:     "satellite",
		Password: "s3cret-test-password",
	}
	// influxd 2.x has one listener (the HTTP API, with /metrics and
	// /debug/pprof on it). It reads a config.{json,toml,yaml} from its
	// working directory: the temporary directory has none.
	args := []string{"run",
		"--http-bind-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--bolt-path", filepath.Join(dir, "influxd.bolt"),
		"--sqlite-path", filepath.Join(dir, "influxd.sqlite"),
		"--engine-path", filepath.Join(dir, "engine"),
		"--reporting-disabled",
		"--ui-disabled",
		"--no-tasks", // tasks are Flux scripts
		"--log-level", "error",
	}
	s.process = newProcess(t, "influxd2", bin, args, dir, httpReady(s.URL+"/health"))
	s.start(t)
	var setup struct {
		Org    struct{ ID string } `json:"org"`
		Bucket struct{ ID string } `json:"bucket"`
	}
	if err := s.api(http.MethodPost, "/api/v2/setup", "", map[string]any{
		"username": s.User, "password": s.Password, "org": s.Org, "bucket": s.Bucket, "token": s.Token,
	}, &setup); err != nil {
		t.Fatal(err)
	}
	s.OrgID, s.BucketID = setup.Org.ID, setup.Bucket.ID
	return s
}

// api sends a JSON request to the v2 API with token (none if "") and
// decodes a JSON answer into out (if not nil).
func (s *Influx2) api(method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return nil
}

// CreateBucket creates a bucket in the org (infinite retention) and
// returns its id. InfluxQL reaches it as database NAME, retention policy
// autogen: 2.7 maps every bucket so by itself (a virtual DBRP mapping).
func (s *Influx2) CreateBucket(t testing.TB, name string) string {
	t.Helper()
	var out struct{ ID string }
	if err := s.api(http.MethodPost, "/api/v2/buckets", s.Token, map[string]any{"orgID": s.OrgID, "name": name}, &out); err != nil {
		t.Fatal(err)
	}
	return out.ID
}

// CreateReadToken returns a new token that may read every bucket of the
// org and write none.
func (s *Influx2) CreateReadToken(t testing.TB) string {
	t.Helper()
	var out struct{ Token string }
	if err := s.api(http.MethodPost, "/api/v2/authorizations", s.Token, map[string]any{
		"orgID":       s.OrgID,
		"description": "read only, Satellite test",
		"permissions": []any{map[string]any{"action": "read", "resource": map[string]any{"type": "buckets", "orgID": s.OrgID}}},
	}, &out); err != nil {
		t.Fatal(err)
	}
	return out.Token
}

// Query runs InfluxQL with the operator token against bucket (the
// database of its DBRP mapping; "" for statements naming no database),
// timestamps as ns epochs, and returns the series of the first statement.
func (s *Influx2) Query(bucket, q string) ([]Series, error) {
	return influxQL(s.URL, bucket, q, func(req *http.Request) {
		req.Header.Set("Authorization", "Token "+s.Token)
	})
}

// Count returns SELECT COUNT(field) FROM measurement [WHERE ...] in bucket.
func (s *Influx2) Count(bucket, measurement, field, where string) (int64, error) {
	return count(s.Query, bucket, measurement, field, where)
}
