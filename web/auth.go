package web

// The routes of the credentials themselves: tokens (admin), the audit log
// (admin), whoami (anyone), and the UI's login and logout.
//
//	GET    /api/v1/whoami                     who the caller is (role none when anonymous)
//	GET    /api/v1/tokens                     the tokens (names, roles; never secrets)
//	POST   /api/v1/tokens                     {"name": N, "role": R[, "replace": true]}: the secret, once
//	DELETE /api/v1/tokens/{name}              revoke
//	GET    /api/v1/audit-log[?limit=&after=]  every state-changing request, oldest first
//	GET    /ui/login, POST /ui/login          the UI's login form (token -> HttpOnly cookie)
//	POST   /ui/logout

import (
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/internal/auth"
)

// Paths of the UI's login and logout.
const (
	LoginPath  = "/ui/login"
	LogoutPath = "/ui/logout"
)

func (s *Server) authRoutes() {
	s.handle("GET /api/v1/whoami", s.whoami)
	s.handle("GET /api/v1/tokens", s.listTokens)
	s.handle("POST /api/v1/tokens", s.createToken)
	s.handle("DELETE /api/v1/tokens/{name}", s.revokeToken)
	s.handle("GET /api/v1/audit-log", s.getAuditLog)
	if s.ui != nil {
		s.roles["GET "+LoginPath] = auth.RoleNone
		s.roles["POST "+LoginPath] = auth.RoleNone
		s.roles["POST "+LogoutPath] = auth.RoleNone
		s.bodies["POST "+LoginPath] = formBody
		s.bodies["POST "+LogoutPath] = formBody
		s.mux.HandleFunc("GET "+LoginPath, s.loginPage)
		s.mux.HandleFunc("POST "+LoginPath, s.login)
		s.mux.HandleFunc("POST "+LogoutPath, s.logout)
	}
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, auth.FromContext(r.Context()))
	return nil
}

func (s *Server) tokens() (TokenStore, error) {
	if s.sec.Tokens == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "this server keeps no tokens")
	}
	return s.sec.Tokens, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.tokens()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, ts.List())
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.tokens()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	var req api.CreateTokenRequest
	if err := httpapi.DecodeBody(r, &req, `{"name": "grafana", "role": "viewer"}`); err != nil {
		return err
	}
	if err := auth.CheckName(req.Name); err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "name", "%v", err)
	}
	if req.Role == auth.RoleNone {
		return httpapi.Errorf(http.StatusBadRequest, "role", "missing role: want viewer, operator or admin")
	}
	by := auth.FromContext(r.Context()).Name
	secret, t, err := ts.Create(req.Name, req.Role, by, req.Replace)
	if errors.Is(err, auth.ErrTokenExists) {
		return httpapi.Errorf(http.StatusConflict, "name", "%v", err)
	} else if err != nil {
		return err
	}
	t.Hash = ""
	s.log.Info("token created", "name", t.Name, "role", t.Role, "by", by)
	httpapi.WriteJSON(w, http.StatusCreated, api.CreatedToken{Token: t, Secret: secret})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.tokens()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	var found *auth.Token
	for _, t := range ts.List() {
		if t.Name == name {
			found = &t
		}
	}
	if err := ts.Revoke(name); errors.Is(err, auth.ErrTokenNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "name", "%v", err)
	} else if err != nil {
		return err
	}
	s.log.Info("token revoked", "name", name, "by", auth.FromContext(r.Context()).Name)
	httpapi.WriteJSON(w, http.StatusOK, found)
	return nil
}

func (s *Server) getAuditLog(w http.ResponseWriter, r *http.Request) error {
	if s.sec.Audit == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "this server keeps no audit log")
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	es, err := s.sec.Audit.Entries()
	if err != nil {
		return err
	}
	if es == nil {
		es = []auth.AuditEntry{}
	}
	httpapi.WriteJSON(w, http.StatusOK, es)
	return nil
}

// ---- the UI's login

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Satellite: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}
form{background:#1e293b;padding:2rem;border-radius:8px;min-width:22rem}
h1{font-size:1.2rem;margin:0 0 1rem}
input{width:100%;box-sizing:border-box;padding:.5rem;margin:.5rem 0 1rem;font:inherit;background:#0f172a;color:inherit;border:1px solid #475569;border-radius:4px}
button{padding:.5rem 1rem;font:inherit;border:0;border-radius:4px;background:#2563eb;color:#fff;cursor:pointer}
.err{color:#fca5a5;margin:0 0 1rem}
small{display:block;margin-top:1rem;color:#94a3b8}
</style></head><body>
<form method="post" action="/ui/login">
<h1>Satellite</h1>
{{if .Error}}<p class="err" id="login-error">{{.Error}}</p>{{end}}
<label for="token">Token</label>
<input type="password" id="token" name="token" autocomplete="current-password" autofocus required>
<input type="hidden" name="next" value="{{.Next}}">
<button type="submit" id="login">Sign in</button>
<small>Create a token with <code>satellite token create NAME --role viewer</code>; the first admin token is in the file the server logged at start.</small>
</form></body></html>
`))

// safeNext keeps redirects after the login on this server's UI.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") && next != LoginPath {
		return next
	}
	return "/ui/"
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, http.StatusOK, safeNext(r.URL.Query().Get("next")), "")
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, next, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = loginTmpl.Execute(w, struct{ Next, Error string }{next, msg})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, http.StatusBadRequest, "/ui/", "could not read the form: "+err.Error())
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	t, ok := s.lookup(strings.TrimSpace(r.PostForm.Get("token")))
	if !ok {
		s.renderLogin(w, http.StatusUnauthorized, next, "That token is not valid (revoked, mistyped or from another server).")
		return
	}
	if rec, ok := r.Context().Value(auditKey{}).(*auditRec); ok {
		rec.id = auth.Identity{Name: t.Name, Role: t.Role, Via: "login"}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: strings.TrimSpace(r.PostForm.Get("token")), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int((7 * 24 * time.Hour).Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
	http.Redirect(w, r, LoginPath, http.StatusSeeOther)
}
