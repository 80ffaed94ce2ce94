package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// BenchmarkSecurityLayers is the cost of the security layers on a read
// (GET /api/v1/whoami, in process): without credentials checks, with a
// bearer token among 3 and among 1000 stored ones (every hash is
// compared, in constant time), and with a state-changing request that is
// admitted, authorized and audited (refused by the handler: no body).
func BenchmarkSecurityLayers(b *testing.B) {
	run := func(b *testing.B, env *webtest.Env, method, path, token string) {
		req := httptest.NewRequest(method, path, nil)
		req.Host = "127.0.0.1"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			w := httptest.NewRecorder()
			env.API.ServeHTTP(w, req)
			if w.Code >= 500 || w.Code == 401 || w.Code == 403 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("open", func(b *testing.B) { run(b, webtest.Start(b), "GET", "/api/v1/whoami", "") })
	b.Run("token-of-3", func(b *testing.B) {
		env := webtest.StartSecure(b, web.Security{})
		run(b, env, "GET", "/api/v1/whoami", env.Tokens[auth.RoleViewer])
	})
	b.Run("token-of-1000", func(b *testing.B) {
		env := webtest.StartSecure(b, web.Security{})
		for i := 0; i < 997; i++ {
			if _, _, err := env.Store.Create(fmt.Sprintf("t%d", i), auth.RoleViewer, "", false); err != nil {
				b.Fatal(err)
			}
		}
		run(b, env, "GET", "/api/v1/whoami", env.Tokens[auth.RoleViewer])
	})
	b.Run("audited-change", func(b *testing.B) {
		env := webtest.StartSecure(b, web.Security{})
		run(b, env, http.MethodDelete, "/api/v1/tokens/nope", env.Tokens[auth.RoleAdmin])
	})
}
