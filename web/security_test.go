package web_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/ui"
	"github.com/satellite-sdn/satellite/web/webtest"
)

var updateRoles = flag.Bool("update-roles", false, "rewrite testdata/roles.txt with the statuses seen")

// req sends a request with headers (Host: sets the Host header).
func req(t *testing.T, env *webtest.Env, method, path, body string, headers ...string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	rq, err := http.NewRequest(method, env.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			rq.Host = headers[i+1]
			continue
		}
		rq.Header.Set(headers[i], headers[i+1])
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// TestRoles tries every route of the OpenAPI document with no token and
// with a viewer, an operator and an admin token, and compares the
// statuses with testdata/roles.txt (go test -run TestRoles -update-roles
// rewrites it; review the diff). 401 and 403 are the refusals; anything
// else got past authorization to the handler.
func TestRoles(t *testing.T) {
	env := fullServerWith(t, func(opts ...web.Option) *webtest.Env { return webtest.StartSecure(t, web.Security{}, opts...) })
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	req(t, env, "GET", api.OpenAPIPath, "", bearer(env.Tokens[auth.RoleViewer])...).decode(t, 200, &doc)
	var ops []string
	for p, methods := range doc.Paths {
		for m := range methods {
			ops = append(ops, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Slice(ops, func(i, j int) bool { // reads first, so that changes do not alter what they see
		ri, rj := strings.HasPrefix(ops[i], "GET "), strings.HasPrefix(ops[j], "GET ")
		if ri != rj {
			return ri
		}
		return ops[i] < ops[j]
	})
	file := filepath.Join("testdata", "roles.txt")
	want := map[string]string{}
	if f, err := os.Open(file); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			fs := strings.Fields(line)
			if len(fs) != 6 {
				t.Fatalf("%s: %q: want METHOD PATH NONE VIEWER OPERATOR ADMIN", file, line)
			}
			want[fs[0]+" "+fs[1]] = strings.Join(fs[2:], " ")
		}
		f.Close()
	} else if !*updateRoles {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("# The status of every route of the OpenAPI document with no token, a viewer, an operator and an admin token\n" +
		"# (TestRoles; path parameters: dpid 1, id s1, others x; bodies {}). 401/403: refused by authorization.\n" +
		"# METHOD PATH NONE VIEWER OPERATOR ADMIN\n")
	seen := map[string]bool{}
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		concrete := pathParam.ReplaceAllStringFunc(path, func(m string) string {
			switch {
			case strings.HasPrefix(m, "{dpid"):
				return "1"
			case strings.HasPrefix(m, "{id"):
				return "s1"
			default:
				return "x"
			}
		})
		body := ""
		if method != "GET" && method != "DELETE" {
			body = "{}"
		}
		var got []string
		for _, role := range []auth.Role{auth.RoleNone, auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin} {
			h := []string{"Content-Type", "application/json"}
			if role != auth.RoleNone {
				h = append(h, bearer(env.Tokens[role])...)
			}
			r := req(t, env, method, concrete, body, h...)
			got = append(got, fmt.Sprint(r.status))
			// a refusal says why
			if (r.status == 401 && !strings.Contains(string(r.body), "needs a token with role")) ||
				(r.status == 403 && !strings.Contains(string(r.body), "needs role")) {
				t.Errorf("%s as %s: %d %s", op, role, r.status, r.body)
			}
		}
		seen[op] = true
		line := strings.Join(got, " ")
		fmt.Fprintf(&out, "%s %s %s\n", method, path, line)
		if w, ok := want[op]; !ok && !*updateRoles {
			t.Errorf("%s is not in %s (got %s)", op, file, line)
		} else if ok && w != line && !*updateRoles {
			t.Errorf("%s: statuses %s, %s says %s", op, line, file, w)
		}
		// whatever the table says, no route answers a change to a viewer,
		// and nothing but the open ones to no one
		if got[0] != "401" && op != "GET /api/v1/whoami" {
			t.Errorf("%s answers %s without a token", op, got[0])
		}
		if method != "GET" && got[1] != "403" {
			t.Errorf("%s answers %s to a viewer", op, got[1])
		}
	}
	for op := range want {
		if !seen[op] && !*updateRoles {
			t.Errorf("%s lists %s, which the document does not have", file, op)
		}
	}
	if *updateRoles {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d operations tried with 4 identities", len(ops))
}

// secureSwitch is an authenticated server with switch 1 connected.
func secureSwitch(t *testing.T, sec web.Security, opts ...web.Option) *webtest.Env {
	env := webtest.StartSecure(t, sec, opts...)
	env.Connect(switchemu.Config{DPID: 1, Ports: 2})
	return env
}

// apiFlows counts the API's flows on switch 1.
func apiFlows(t *testing.T, env *webtest.Env) int {
	t.Helper()
	var flows []api.Flow
	req(t, env, "GET", "/api/v1/switches/1/flows?owner=api", "", bearer(env.Tokens[auth.RoleViewer])...).decode(t, 200, &flows)
	return len(flows)
}

// TestCrossSiteRequestsRefused reproduces the CSRF finding: a page of
// another site makes the browser POST a drop-all flow with the user's
// cookie, as text/plain or a form (which need no preflight), or with a
// foreign Origin. None reaches the handler; the same request from the
// server's own page does.
func TestCrossSiteRequestsRefused(t *testing.T) {
	env := secureSwitch(t, web.Security{})
	cookie := web.CookieName + "=" + env.Tokens[auth.RoleAdmin]
	flow := `{"flow": "priority=65000,actions=drop"}`
	own := strings.Replace(env.URL, "http://", "http://", 1)
	for _, tc := range []struct {
		what    string
		headers []string
		status  int
		msg     string
	}{
		{"text/plain from another site", []string{"Content-Type", "text/plain", "Cookie", cookie, "Origin", "http://evil.example"}, 403, `Origin "http://evil.example" is not this server`},
		{"text/plain, no Origin", []string{"Content-Type", "text/plain;charset=UTF-8", "Cookie", cookie}, 415, `Content-Type "text/plain;charset=UTF-8": want application/json`},
		{"a form", []string{"Content-Type", "application/x-www-form-urlencoded", "Cookie", cookie}, 415, "want application/json"},
		{"multipart", []string{"Content-Type", "multipart/form-data; boundary=x", "Cookie", cookie}, 415, "want application/json"},
		{"no Content-Type", []string{"Cookie", cookie}, 415, "has a body but no Content-Type"},
		{"JSON with a foreign Origin", []string{"Content-Type", "application/json", "Cookie", cookie, "Origin", "https://evil.example"}, 403, "cross-origin request refused"},
		{"JSON, Origin null (sandboxed frame)", []string{"Content-Type", "application/json", "Cookie", cookie, "Origin", "null"}, 403, "cross-origin request refused"},
		{"JSON, Sec-Fetch-Site cross-site", []string{"Content-Type", "application/json", "Cookie", cookie, "Sec-Fetch-Site", "cross-site"}, 403, "cross-site request refused"},
		{"a token with a foreign Origin", append([]string{"Content-Type", "application/json", "Origin", "http://evil.example"}, bearer(env.Tokens[auth.RoleAdmin])...), 403, "cross-origin"},
	} {
		r := req(t, env, "POST", "/api/v1/switches/1/flows", flow, tc.headers...)
		var e api.Error
		_ = json.Unmarshal(r.body, &e)
		if r.status != tc.status || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s: %d %s, want %d and %q", tc.what, r.status, r.body, tc.status, tc.msg)
		}
	}
	if n := apiFlows(t, env); n != 0 {
		t.Fatalf("a cross-site request installed %d flows", n)
	}
	// the same from the server's own page goes through
	r := req(t, env, "POST", "/api/v1/switches/1/flows", flow, "Content-Type", "application/json", "Cookie", cookie, "Origin", own, "Sec-Fetch-Site", "same-origin")
	if r.status != 201 {
		t.Fatalf("same-origin: %d %s", r.status, r.body)
	}
	if n := apiFlows(t, env); n != 1 {
		t.Fatalf("%d API flows after the same-origin request", n)
	}
	// every attempt is in the audit log, with who and from where
	es, err := env.Audit.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 10 || es[0].Status != 403 || es[0].User != "admin" || es[0].Via != "cookie" || !strings.Contains(es[0].Error, "cross-origin") ||
		es[9].Status != 201 || es[9].Method != "POST" || es[9].Path != "/api/v1/switches/1/flows" || !strings.HasPrefix(es[9].Remote, "127.0.0.1:") {
		t.Fatalf("audit log: %+v", es)
	}
}

// TestHostChecked reproduces the DNS rebinding finding: a page of
// evil.example whose name now resolves to this server reads the API with
// Host: evil.example. IP addresses, localhost and configured names pass.
func TestHostChecked(t *testing.T) {
	env := secureSwitch(t, web.Security{Hosts: []string{"satellite.example.net"}})
	tok := bearer(env.Tokens[auth.RoleViewer])
	_, port, _ := strings.Cut(strings.TrimPrefix(env.URL, "http://"), ":")
	for host, status := range map[string]int{
		"evil.example:" + port: 421, "evil.example": 421, "localhost.evil.example": 421, "satellite.example.net.evil.example": 421,
		"localhost:" + port: 200, "127.0.0.1:" + port: 200, "[::1]:" + port: 200, "satellite.example.net:" + port: 200, "SATELLITE.example.net": 200, "[fe80::1%25eth0]:" + port: 200, "192.0.2.7": 200,
	} {
		r := req(t, env, "GET", "/api/v1/switches", "", append(tok, "Host", host)...)
		if r.status != status {
			t.Errorf("Host %s: %d %s, want %d", host, r.status, r.body, status)
		}
		if status == 421 && !strings.Contains(string(r.body), "is not a name of this server; add it to http.hosts") {
			t.Errorf("Host %s: %s", host, r.body)
		}
	}
	// changes too, and before credentials are even looked at
	r := req(t, env, "POST", "/api/v1/switches/1/flows", `{"flow": "actions=drop"}`, "Content-Type", "application/json", "Host", "evil.example", "Cookie", web.CookieName+"="+env.Tokens[auth.RoleAdmin])
	if r.status != 421 || apiFlows(t, env) != 0 {
		t.Fatalf("rebound POST: %d %s", r.status, r.body)
	}
}

// TestTokens: no token, a wrong one, a revoked one are refused; a viewer
// reads but does not change; tokens are managed by admins only, their
// secrets shown once.
func TestTokens(t *testing.T) {
	env := secureSwitch(t, web.Security{})
	r := req(t, env, "GET", "/api/v1/switches", "")
	if r.status != 401 || r.header.Get("WWW-Authenticate") == "" || !strings.Contains(string(r.body), "satellite token create") {
		t.Fatalf("no token: %d %v %s", r.status, r.header, r.body)
	}
	for _, bad := range []string{"sat_nope", env.Tokens[auth.RoleAdmin] + "x", "Basic YTpi"} {
		h := bearer(bad)
		if strings.HasPrefix(bad, "Basic") {
			h = []string{"Authorization", bad}
		}
		if r := req(t, env, "GET", "/api/v1/switches", "", h...); r.status != 401 {
			t.Errorf("token %q: %d %s", bad, r.status, r.body)
		}
	}
	viewer := bearer(env.Tokens[auth.RoleViewer])
	if r := req(t, env, "GET", "/api/v1/switches", "", viewer...); r.status != 200 {
		t.Fatalf("viewer read: %d %s", r.status, r.body)
	}
	r = req(t, env, "POST", "/api/v1/switches/1/flows", `{"flow": "actions=drop"}`, append(viewer, "Content-Type", "application/json")...)
	if r.status != 403 || !strings.Contains(string(r.body), `token \"viewer\" has role viewer; POST /api/v1/switches/1/flows needs role operator or higher`) {
		t.Fatalf("viewer change: %d %s", r.status, r.body)
	}
	var id auth.Identity
	req(t, env, "GET", "/api/v1/whoami", "", viewer...).decode(t, 200, &id)
	if id.Name != "viewer" || id.Role != auth.RoleViewer || id.Via != "token" {
		t.Fatalf("whoami %+v", id)
	}

	// an admin creates a token; it works at once, is listed without its
	// secret, and stops working when revoked
	admin := append(bearer(env.Tokens[auth.RoleAdmin]), "Content-Type", "application/json")
	if r := req(t, env, "POST", "/api/v1/tokens", `{"name": "grafana", "role": "viewer"}`, append(bearer(env.Tokens[auth.RoleOperator]), "Content-Type", "application/json")...); r.status != 403 {
		t.Fatalf("operator creates a token: %d %s", r.status, r.body)
	}
	var created api.CreatedToken
	req(t, env, "POST", "/api/v1/tokens", `{"name": "grafana", "role": "viewer"}`, admin...).decode(t, 201, &created)
	if !strings.HasPrefix(created.Secret, auth.TokenPrefix) || created.Token.Role != auth.RoleViewer || created.Token.CreatedBy != "admin" || created.Token.Hash != "" {
		t.Fatalf("created %+v", created)
	}
	req(t, env, "POST", "/api/v1/tokens", `{"name": "grafana", "role": "admin"}`, admin...).wantError(t, 409, "name", "exists")
	req(t, env, "POST", "/api/v1/tokens", `{"name": "a b", "role": "admin"}`, admin...).wantError(t, 400, "name", "want 1 to 64 letters")
	req(t, env, "POST", "/api/v1/tokens", `{"name": "x", "role": "root"}`, admin...).wantError(t, 400, "", "role")
	if r := req(t, env, "GET", "/api/v1/switches", "", bearer(created.Secret)...); r.status != 200 {
		t.Fatalf("new token: %d", r.status)
	}
	r = req(t, env, "GET", "/api/v1/tokens", "", admin...)
	if r.status != 200 || strings.Contains(string(r.body), created.Secret) || strings.Contains(string(r.body), auth.HashSecret(created.Secret)) || !strings.Contains(string(r.body), `"grafana"`) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	req(t, env, "DELETE", "/api/v1/tokens/grafana", "", admin...).decode(t, 200, &auth.Token{})
	if r := req(t, env, "GET", "/api/v1/switches", "", bearer(created.Secret)...); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
	req(t, env, "DELETE", "/api/v1/tokens/grafana", "", admin...).wantError(t, 404, "name", "no token")

	// the audit log, paged like a log
	var es []auth.AuditEntry
	r = req(t, env, "GET", "/api/v1/audit-log?limit=2", "", admin...)
	r.decode(t, 200, &es)
	if len(es) != 2 || es[1].Method != "DELETE" || es[1].Status != 404 || es[0].Path != "/api/v1/tokens/grafana" || es[0].Status != 200 || es[0].User != "admin" {
		t.Fatalf("audit log page: %+v", es)
	}
	if r.header.Get("X-Total-Count") != "8" { // the viewer's POST, the operator's, 6 of the admin's
		t.Fatalf("audit entries: %s", r.header.Get("X-Total-Count"))
	}
	if r := req(t, env, "GET", "/api/v1/audit-log", "", viewer...); r.status != 403 {
		t.Fatalf("viewer reads the audit log: %d", r.status)
	}
}

// TestOpenPaths: /healthz (and /metrics) answer without a token only when
// configured; changes never do.
func TestOpenPaths(t *testing.T) {
	closed := webtest.StartSecure(t, web.Security{})
	if r := req(t, closed, "GET", "/healthz", ""); r.status != 401 {
		t.Fatalf("/healthz not configured open: %d", r.status)
	}
	open := webtest.StartSecure(t, web.Security{OpenPaths: []string{"/healthz", "/api/openapi.json"}})
	if r := req(t, open, "GET", "/healthz", ""); r.status != 200 {
		t.Fatalf("open /healthz: %d %s", r.status, r.body)
	}
	if r := req(t, open, "GET", "/api/v1/switches", ""); r.status != 401 {
		t.Fatalf("a path not opened: %d", r.status)
	}
}

// TestLogin: the UI sends an anonymous browser to the login page; a valid
// token becomes an HttpOnly, SameSite=Strict cookie that the pages and
// the API accept; logout clears it.
func TestLogin(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the page") })
	env := webtest.StartSecure(t, web.Security{}, web.WithUI(ui))
	r := req(t, env, "GET", "/ui/topology?x=1", "")
	if r.status != 303 || r.header.Get("Location") != "/ui/login?next="+url.QueryEscape("/ui/topology?x=1") {
		t.Fatalf("anonymous page: %d %v", r.status, r.header)
	}
	r = req(t, env, "GET", "/ui/login?next=/ui/alerts", "")
	if r.status != 200 || !strings.Contains(string(r.body), `name="token"`) || !strings.Contains(string(r.body), `value="/ui/alerts"`) || r.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("login page: %d %v %s", r.status, r.header, r.body)
	}
	form := "application/x-www-form-urlencoded"
	r = req(t, env, "POST", "/ui/login", "token=sat_wrong&next=/ui/alerts", "Content-Type", form)
	if r.status != 401 || !strings.Contains(string(r.body), "not valid") || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("bad login: %d %v %s", r.status, r.header, r.body)
	}
	// a login form posted from another site is refused (login CSRF)
	if r := req(t, env, "POST", "/ui/login", "token="+env.Tokens[auth.RoleViewer], "Content-Type", form, "Origin", "http://evil.example"); r.status != 403 {
		t.Fatalf("cross-site login: %d", r.status)
	}
	r = req(t, env, "POST", "/ui/login", "token="+url.QueryEscape(env.Tokens[auth.RoleViewer])+"&next="+url.QueryEscape("//evil.example/"), "Content-Type", form, "Origin", env.URL)
	c := r.header.Get("Set-Cookie")
	if r.status != 303 || r.header.Get("Location") != "/ui/" || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") || !strings.HasPrefix(c, web.CookieName+"=") {
		t.Fatalf("login: %d %v", r.status, r.header)
	}
	cookie := strings.SplitN(c, ";", 2)[0]
	if r := req(t, env, "GET", "/ui/topology", "", "Cookie", cookie); r.status != 200 || string(r.body) != "the page" {
		t.Fatalf("page with the cookie: %d %s", r.status, r.body)
	}
	var id auth.Identity
	req(t, env, "GET", "/api/v1/whoami", "", "Cookie", cookie).decode(t, 200, &id)
	if id.Role != auth.RoleViewer || id.Via != "cookie" {
		t.Fatalf("whoami with the cookie: %+v", id)
	}
	// a viewer's cookie still cannot change anything
	if r := req(t, env, "POST", "/api/v1/alerts/rules", "{}", "Cookie", cookie, "Content-Type", "application/json", "Origin", env.URL); r.status != 403 {
		t.Fatalf("viewer cookie change: %d", r.status)
	}
	r = req(t, env, "POST", "/ui/logout", "", "Cookie", cookie, "Origin", env.URL)
	if r.status != 303 || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", r.status, r.header)
	}
	// the audit log has the logins, with the name of the good one
	es, _ := env.Audit.Entries()
	var logins []string
	for _, e := range es {
		if e.Path == "/ui/login" {
			logins = append(logins, fmt.Sprintf("%d %s", e.Status, e.User))
		}
	}
	if strings.Join(logins, ",") != "401 ,403 ,303 viewer" {
		raw, _ := os.ReadFile(env.Audit.Path())
		t.Fatalf("logins in the audit log: %q\n%s", logins, raw)
	}
}

// TestUIReadOnlyForViewer: the pages show who is signed in; a viewer's
// alerts page has no rule form (and its script no edit buttons), an
// operator's has.
func TestUIReadOnlyForViewer(t *testing.T) {
	env := webtest.StartSecure(t, web.Security{}, web.WithUI(ui.New(ui.Options{Version: "test"})))
	r := req(t, env, "GET", "/ui/alerts", "", bearer(env.Tokens[auth.RoleViewer])...)
	page := string(r.body)
	if r.status != 200 || strings.Contains(page, `id="rule-form"`) || !strings.Contains(page, `id="read-only"`) ||
		!strings.Contains(page, `data-can-edit="false"`) || !strings.Contains(page, "viewer · viewer") || !strings.Contains(page, `action="/ui/logout"`) {
		t.Fatalf("viewer's alerts page: %d\n%s", r.status, page)
	}
	r = req(t, env, "GET", "/ui/alerts", "", bearer(env.Tokens[auth.RoleOperator])...)
	page = string(r.body)
	if r.status != 200 || !strings.Contains(page, `id="rule-form"`) || strings.Contains(page, `id="read-only"`) || !strings.Contains(page, "operator · operator") {
		t.Fatalf("operator's alerts page: %d\n%s", r.status, page)
	}
}

// TestAuditPanic: a change whose handler panics is answered 500 and still
// in the audit log; a route registered without a role needs admin.
func TestAuditPanic(t *testing.T) {
	env := webtest.StartSecure(t, web.Security{})
	env.API.HandleForTest("POST /api/v1/test-panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	if r := req(t, env, "POST", "/api/v1/test-panic", "{}", append(bearer(env.Tokens[auth.RoleOperator]), "Content-Type", "application/json")...); r.status != 403 {
		t.Fatalf("operator on a route without a role: %d %s", r.status, r.body)
	}
	if r := req(t, env, "POST", "/api/v1/test-panic", "{}", append(bearer(env.Tokens[auth.RoleAdmin]), "Content-Type", "application/json")...); r.status != 500 {
		t.Fatalf("panic: %d %s", r.status, r.body)
	}
	es, _ := env.Audit.Entries()
	if len(es) != 2 || es[1].Status != 500 || es[1].User != "admin" || !strings.Contains(es[1].Error, "internal error") {
		t.Fatalf("audit: %+v", es)
	}
}
