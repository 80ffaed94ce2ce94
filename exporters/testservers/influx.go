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

// Influx is a running influxd 1.8.10.
type Influx struct {
	*process
	// URL is the HTTP API, http://127.0.0.1:PORT.
	URL string
	// User and Password are the admin's when started with auth.
	User, Password string
	auth           bool
}

// InfluxOptions tune StartInflux.
type InfluxOptions struct {
	// Auth enables authentication with an admin user (User, Password);
	// the v2 API then wants the token "user:password".
	Auth bool
}

// StartInflux starts influxd on a free loopback port with its data in a
// temporary directory. It is stopped when the test ends.
func StartInflux(t testing.TB, opt InfluxOptions) *Influx {
	t.Helper()
	bin := binary(t, "influxd")
	dir := t.TempDir()
	port, rpcPort := FreePort(t), FreePort(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[coordinator]
  log-queries-after = "0s"
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  flux-enabled = true
  log-enabled = false
  auth-enabled = %t
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[logging]
  level = "warn"
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), port, opt.Auth)
	cfgPath := filepath.Join(dir, "influxd.conf")
	writeFile(t, cfgPath, conf)
	s := &Influx{URL: fmt.Sprintf("http://127.0.0.1:%d", port), auth: opt.Auth}
	if opt.Auth {
		s.User, s.Password = "satellite", "s3cret-test"
	}
	s.process = newProcess(t, "influxd", bin, []string{"run", "-config", cfgPath}, dir, httpReady(s.URL+"/ping"))
	s.start(t)
	if opt.Auth {
		// the first admin may be created without credentials
		if _, err := s.query("", fmt.Sprintf("CREATE USER %q WITH PASSWORD '%s' WITH ALL PRIVILEGES", s.User, s.Password), false); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// Token returns the token for the v2 API ("" without auth).
func (s *Influx) Token() string {
	if !s.auth {
		return ""
	}
	return s.User + ":" + s.Password
}

// CreateDatabase creates a database (its bucket is "NAME/autogen").
func (s *Influx) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	if _, err := s.query("", fmt.Sprintf("CREATE DATABASE %q", name), true); err != nil {
		t.Fatal(err)
	}
}

// Series is one series of an InfluxQL result.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Rows returns the series' rows as maps column -> value.
func (s Series) Rows() []map[string]any {
	out := make([]map[string]any, 0, len(s.Values))
	for _, v := range s.Values {
		m := make(map[string]any, len(v)+len(s.Tags))
		for k, tv := range s.Tags {
			m[k] = tv
		}
		for i, c := range s.Columns {
			if i < len(v) {
				m[c] = v[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// Query runs InfluxQL against db (timestamps as RFC 3339 with
// nanoseconds) and returns the series of the first statement.
func (s *Influx) Query(db, q string) ([]Series, error) {
	return s.query(db, q, true)
}

func (s *Influx) query(db, q string, withAuth bool) ([]Series, error) {
	return influxQL(s.URL, db, q, func(req *http.Request) {
		if withAuth && s.auth {
			req.SetBasicAuth(s.User, s.Password)
		}
	})
}

// influxQL runs q with POST /query (db optional, ns epochs), auth setting
// the request's credentials, and returns the first statement's series.
func influxQL(baseURL, db, q string, auth func(*http.Request)) ([]Series, error) {
	form := url.Values{"q": {q}}
	if db != "" {
		form.Set("db", db)
	}
	form.Set("epoch", "ns")
	req, err := http.NewRequest(http.MethodPost, baseURL+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	auth(req)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("influx query %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Results []struct {
			Series []Series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
		// InfluxDB 2.x answers a refused request with code and message
		Message string `json:"message"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("influx query %q: %s: %s", q, resp.Status, body)
	}
	if out.Error != "" {
		return nil, fmt.Errorf("influx query %q: %s", q, out.Error)
	}
	if out.Message != "" {
		return nil, fmt.Errorf("influx query %q: %s: %s", q, resp.Status, out.Message)
	}
	if len(out.Results) == 0 {
		return nil, nil
	}
	if out.Results[0].Error != "" {
		return nil, fmt.Errorf("influx query %q: %s", q, out.Results[0].Error)
	}
	return out.Results[0].Series, nil
}

// Count returns SELECT COUNT(field) FROM measurement [WHERE ...] in db.
func (s *Influx) Count(db, measurement, field, where string) (int64, error) {
	return count(s.Query, db, measurement, field, where)
}

// count runs SELECT COUNT(field) FROM measurement [WHERE ...] with query.
func count(query func(db, q string) ([]Series, error), db, measurement, field, where string) (int64, error) {
	q := fmt.Sprintf("SELECT COUNT(%q) FROM %q", field, measurement)
	if where != "" {
		q += " WHERE " + where
	}
	series, err := query(db, q)
	if err != nil {
		return 0, err
	}
	if len(series) == 0 || len(series[0].Values) == 0 || len(series[0].Values[0]) < 2 {
		return 0, nil
	}
	n, ok := series[0].Values[0][1].(json.Number)
	if !ok {
		return 0, fmt.Errorf("count: unexpected value %v", series[0].Values[0][1])
	}
	return n.Int64()
}
