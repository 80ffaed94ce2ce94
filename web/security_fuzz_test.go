package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// FuzzSecurityLayers sends arbitrary Host, Authorization, Cookie, Origin,
// Sec-Fetch-Site and Content-Type headers, methods and paths through the
// layers: nothing panics or answers 5xx (but 503 for subsystems this
// server lacks), and nothing but whoami succeeds without a valid token
// in the Authorization header or the cookie.
func FuzzSecurityLayers(f *testing.F) {
	env := webtest.StartSecure(f, web.Security{Hosts: []string{"sat.example"}})
	admin := env.Tokens[auth.RoleAdmin]
	f.Add("GET", "/api/v1/switches", "127.0.0.1", "Bearer "+admin, "", "", "", "", "")
	f.Add("POST", "/api/v1/tokens", "localhost:8080", "Bearer "+admin, "", "http://localhost:8080", "same-origin", "application/json", `{"name":"x","role":"viewer"}`)
	f.Add("POST", "/api/v1/switches/1/flows", "evil.example", "", web.CookieName+"="+admin, "http://evil.example", "cross-site", "text/plain", `{"flow":"actions=drop"}`)
	f.Add("PUT", "/api/v1/vnet/config", "[::1]:1", "bearer  "+admin, "", "null", "", "application/yaml; charset=utf-8", "networks: []")
	f.Add("DELETE", "/api/v1/tokens/admin", "sat.example.", "Basic YWRtaW46", "a=b; "+web.CookieName+"=sat_x", "", "", "", "")
	f.Add("GET", "/api/v1/whoami", "", "Bearer", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, method, path, host, authz, cookie, origin, site, ctype, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t?#%") || strings.ContainsAny(method, " \r\n\t/") || method == "" || method == "CONNECT" {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(body))
		req.Method = method
		req.URL.Path, req.RequestURI = path, path
		req.Host = host
		for k, v := range map[string]string{"Authorization": authz, "Cookie": cookie, "Origin": origin, "Sec-Fetch-Site": site, "Content-Type": ctype} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		env.API.ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s (Host %q): %d %s", method, path, host, w.Code, w.Body)
		}
		creds := authz + " " + cookie
		valid := false
		for _, tok := range env.Tokens {
			valid = valid || strings.Contains(creds, tok)
		}
		if w.Code < 400 && !valid && path != "/api/v1/whoami" {
			t.Fatalf("%s %s answered %d without a valid token (Authorization %q, Cookie %q)", method, path, w.Code, authz, cookie)
		}
	})
}
