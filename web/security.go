package web

// Authentication and authorization of the API, layered like Kubernetes'
// API server: each step is one handler in front of the routes, none is a
// check inside a handler.
//
//	checkHost     the Host header names this server (DNS rebinding)
//	audit         every state-changing request is recorded, refused or not
//	authenticate  who: a bearer token, the UI's cookie or a TLS client certificate
//	admit         changes come from this server's pages only (Origin,
//	              Sec-Fetch-Site) with a JSON (or YAML) body: no CSRF
//	authorize     the caller's role is at least the route's (roles.go)
//	route         the handler

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/internal/auth"
)

// TokenStore is what the server needs of the token store (auth.TokenStore).
type TokenStore interface {
	Lookup(secret string) (auth.Token, bool)
	Create(name string, role auth.Role, by string, replace bool) (string, auth.Token, error)
	Revoke(name string) error
	List() []auth.Token
}

// AuditLog is what the server needs of the audit log (auth.AuditLog).
type AuditLog interface {
	Append(auth.AuditEntry) error
	Entries() ([]auth.AuditEntry, error)
}

// Security configures who may use the server.
type Security struct {
	// Tokens are the bearer tokens; nil: no token is accepted.
	Tokens TokenStore
	// Audit receives every state-changing request; nil: none is recorded.
	Audit AuditLog
	// OpenPaths are paths answered to GET without credentials (such as
	// /healthz and /metrics). Changes always need credentials.
	OpenPaths []string
	// Hosts are the names (without port) the Host header may carry besides
	// localhost and IP addresses; "*" allows every name.
	Hosts []string
	// Origins are origins (scheme://host[:port]) allowed to make changes
	// besides the server's own.
	Origins []string
	// CertRoles maps TLS client certificates to roles: "CN=NAME" or
	// "OU=UNIT" to a role. Only certificates the TLS layer verified count.
	CertRoles map[string]auth.Role
	// Open answers every request as an admin without credentials: for
	// tests and throw-away servers only. The Host, Origin and content
	// type checks stay on.
	Open bool
}

// WithSecurity sets who may use the server. Without it (or WithoutAuth)
// only the open paths answer; everything else is 401.
func WithSecurity(sec Security) Option { return func(s *Server) { s.sec = sec } }

// WithoutAuth serves every request as an admin without credentials (see
// Security.Open), keeping the other settings of WithSecurity.
func WithoutAuth() Option { return func(s *Server) { s.sec.Open = true } }

// CookieName is the UI's session cookie: the token given at the login.
const CookieName = "satellite_token"

// safeMethod says whether a request changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkHost refuses requests whose Host is not a name of this server: a
// page of another site whose name was rebound to this address must not
// read or change anything. IP addresses and localhost are always
// allowed (a browser sends them only when the user typed them).
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			s.writeError(w, httpapi.Errorf(http.StatusMisdirectedRequest, "Host",
				"Host %q is not a name of this server; add it to http.hosts in the configuration (allowed: localhost, IP addresses%s)", r.Host, listOrNone(s.sec.Hosts)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return ", " + strings.Join(l, ", ")
}

func (s *Server) hostAllowed(host string) bool {
	if host == "" {
		return false
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	if i := strings.IndexByte(h, '%'); i >= 0 && strings.Contains(h, ":") { // fe80::1%eth0
		h = h[:i]
	}
	if net.ParseIP(h) != nil || strings.EqualFold(h, "localhost") {
		return true
	}
	for _, a := range s.sec.Hosts {
		if a == "*" || strings.EqualFold(a, h) {
			return true
		}
	}
	return false
}

// auditRec is filled in by the layers below audit.
type auditRec struct {
	id      auth.Identity
	objPath string          // the object the request changes (objectPath), if any
	before  json.RawMessage // its value before (changeValues)
}

// changeValues reads the object a request changes before the handler
// runs, for the journal's config-change record; it stands after
// authorize, so that no one who may not change it costs a read.
func (s *Server) changeValues(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := r.Context().Value(auditKey{}).(*auditRec); ok && rec.objPath != "" {
			rec.before = s.objectState(r, rec.objPath)
		}
		next.ServeHTTP(w, r)
	})
}

type auditKey struct{}

// auditWriter keeps the status and the start of an error body, and with
// keepBody a successful body of at most maxChangeValue bytes.
type auditWriter struct {
	*statusWriter
	errBody  bytes.Buffer
	keepBody bool
	body     bytes.Buffer
	tooBig   bool
}

func (w *auditWriter) Write(b []byte) (int, error) {
	if w.code >= 400 && w.errBody.Len() < 1024 {
		w.errBody.Write(b[:min(len(b), 1024-w.errBody.Len())])
	}
	if w.keepBody && w.code < 400 && !w.tooBig {
		if w.body.Len()+len(b) > maxChangeValue {
			w.tooBig, w.body = true, bytes.Buffer{}
		} else {
			w.body.Write(b)
		}
	}
	return w.statusWriter.Write(b)
}

// maxChangeValue bounds an old or new value the journal keeps of a change.
const maxChangeValue = 16 << 10

// objectPath is the path of the one object a PUT, PATCH or DELETE
// changes, when the API can show it (a GET route ending in a name, such
// as /api/v1/networks/{name}, or the whole virtual-network configuration):
// never a collection, which could be a switch's whole flow table.
func (s *Server) objectPath(r *http.Request) (string, bool) {
	if s.journal == nil || (r.Method != http.MethodPut && r.Method != http.MethodPatch && r.Method != http.MethodDelete) {
		return "", false
	}
	get := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: r.URL.Path}, Host: r.Host, Header: http.Header{}}
	_, pattern := s.mux.Handler(get)
	if !strings.HasPrefix(pattern, "GET ") || !(strings.HasSuffix(pattern, "}") || pattern == "GET /api/v1/vnet/config") {
		return "", false
	}
	return r.URL.Path, true
}

// objectState is the object at path as GET shows it now, or nil (not
// found, or larger than maxChangeValue).
func (s *Server) objectState(r *http.Request, path string) json.RawMessage {
	get, err := http.NewRequestWithContext(r.Context(), http.MethodGet, path, nil)
	if err != nil {
		return nil
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, get)
	if rec.Code != http.StatusOK || rec.Body.Len() > maxChangeValue || !json.Valid(rec.Body.Bytes()) {
		return nil
	}
	return append(json.RawMessage(nil), rec.Body.Bytes()...)
}

func (w *auditWriter) Unwrap() http.ResponseWriter { return w.statusWriter }

// audit records every state-changing request: who, what, from where, how
// it ended.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if safeMethod(r.Method) || s.sec.Audit == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := &auditRec{id: auth.Anonymous}
		aw := &auditWriter{statusWriter: &statusWriter{ResponseWriter: w}}
		// the object before the change is read once the caller is
		// authorized (changeValues), for the journal (events.go)
		objPath, isObj := s.objectPath(r)
		rec.objPath = objPath
		if r.Method == http.MethodPost && s.journal != nil {
			aw.keepBody = true // a created object: the answer is its new value
		}
		start := time.Now()
		completed := false
		defer func() { // also when the handler panics (recover answers 500 further out)
			e := auth.AuditEntry{Time: start, User: rec.id.Name, Role: rec.id.Role, Via: rec.id.Via,
				Method: r.Method, Path: r.URL.RequestURI(), Status: aw.code, Remote: r.RemoteAddr}
			switch {
			case !completed:
				e.Status, e.Error = http.StatusInternalServerError, "internal error in the handler (see the server log)"
			case e.Status == 0:
				e.Status = http.StatusOK
			case e.Status >= 400:
				var msg api.Error
				if json.Unmarshal(aw.errBody.Bytes(), &msg) == nil {
					e.Error = msg.Error
				}
			}
			if err := s.sec.Audit.Append(e); err != nil {
				s.log.Error("audit log write failed", "err", err, "method", r.Method, "path", r.URL.Path)
			}
			var after json.RawMessage
			switch {
			case e.Status >= 400 || r.Method == http.MethodDelete:
			case isObj:
				after = s.objectState(r, objPath)
			case aw.keepBody && json.Valid(aw.body.Bytes()):
				after = append(json.RawMessage(nil), aw.body.Bytes()...)
			}
			s.journalChange(e, rec.before, after) // a change that took effect is history too (events.go)
		}()
		next.ServeHTTP(aw, r.WithContext(context.WithValue(r.Context(), auditKey{}, rec)))
		completed = true
	})
}

// authenticate finds out who is calling: a bearer token, the UI's cookie
// or a verified TLS client certificate; none is the anonymous caller. A
// bearer token that is not valid is refused at once.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.identify(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="satellite", error="invalid_token"`)
			s.writeError(w, err)
			return
		}
		if rec, ok := r.Context().Value(auditKey{}).(*auditRec); ok {
			rec.id = id
		}
		next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

func (s *Server) identify(r *http.Request) (auth.Identity, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return auth.Anonymous, httpapi.Errorf(http.StatusUnauthorized, "Authorization", "Authorization scheme %q: want Bearer TOKEN", scheme)
		}
		if t, ok := s.lookup(strings.TrimSpace(secret)); ok {
			return auth.Identity{Name: t.Name, Role: t.Role, Via: "token"}, nil
		}
		return auth.Anonymous, httpapi.Errorf(http.StatusUnauthorized, "Authorization", "the bearer token is not valid (revoked, mistyped or from another server); create one with: satellite token create NAME --role viewer")
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if t, ok := s.lookup(c.Value); ok {
			return auth.Identity{Name: t.Name, Role: t.Role, Via: "cookie"}, nil
		}
	}
	if id, ok := s.certIdentity(r); ok {
		return id, nil
	}
	if s.sec.Open {
		return auth.Identity{Role: auth.RoleAdmin, Via: "open"}, nil
	}
	return auth.Anonymous, nil
}

func (s *Server) lookup(secret string) (auth.Token, bool) {
	if s.sec.Tokens == nil || secret == "" {
		return auth.Token{}, false
	}
	return s.sec.Tokens.Lookup(secret)
}

// certIdentity maps a verified client certificate to a role: its CN
// first, then its OUs.
func (s *Server) certIdentity(r *http.Request) (auth.Identity, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(s.sec.CertRoles) == 0 {
		return auth.Identity{}, false
	}
	return CertRole(r.TLS.VerifiedChains[0][0], s.sec.CertRoles)
}

// CertRole returns the identity roles gives certificate c ("CN=NAME" before
// "OU=UNIT"); false when neither is in roles.
func CertRole(c *x509.Certificate, roles map[string]auth.Role) (auth.Identity, bool) {
	if role, ok := roles["CN="+c.Subject.CommonName]; ok && c.Subject.CommonName != "" {
		return auth.Identity{Name: c.Subject.CommonName, Role: role, Via: "certificate"}, true
	}
	for _, ou := range c.Subject.OrganizationalUnit {
		if role, ok := roles["OU="+ou]; ok {
			return auth.Identity{Name: c.Subject.CommonName, Role: role, Via: "certificate"}, true
		}
	}
	return auth.Identity{}, false
}

// admit lets a change through only when it comes from this server's own
// pages or from a client that is not a browser, with a body the route
// reads: a cross-site form or text/plain POST never gets as far as a
// handler, whatever cookie it carries.
func (s *Server) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if safeMethod(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.checkOrigin(r); err != nil {
			s.writeError(w, err)
			return
		}
		if err := checkBodyType(r, s.bodyTypes(r)); err != nil {
			s.writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkOrigin refuses a change whose Origin is another site's (or
// "null"), or that the browser says is cross-site.
func (s *Server) checkOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		return httpapi.Errorf(http.StatusForbidden, "Origin", "cross-site request refused: %s %s may only come from pages of this server", r.Method, r.URL.Path)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil // not from a browser (browsers send Origin with every POST, PUT and DELETE)
	}
	u, err := url.Parse(origin)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, a := range s.sec.Origins {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return nil
		}
	}
	return httpapi.Errorf(http.StatusForbidden, "Origin", "cross-origin request refused: Origin %q is not this server (%s); allow it with http.origins in the configuration", origin, r.Host)
}

// Media types of request bodies.
var (
	jsonTypes = []string{"application/json"}
	yamlBody  = []string{"application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
	formBody  = []string{"application/x-www-form-urlencoded"}
)

// bodyTypes returns the media types the route of r reads: JSON, or YAML
// too where a configuration file is applied, or the login form.
func (s *Server) bodyTypes(r *http.Request) []string {
	_, pattern := s.mux.Handler(r)
	return s.bodyTypesOf(pattern)
}

func (s *Server) bodyTypesOf(pattern string) []string {
	if types, ok := s.bodies[pattern]; ok {
		return types
	}
	return jsonTypes
}

// checkBodyType refuses a body that is not of the given types. A request
// without a body needs no Content-Type.
func checkBodyType(r *http.Request, types []string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 {
			return nil
		}
		return httpapi.Errorf(http.StatusUnsupportedMediaType, "", "%s %s has a body but no Content-Type; send Content-Type: %s", r.Method, r.URL.Path, describeTypes(types))
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, t := range types {
			if mt == t {
				return nil
			}
		}
	}
	return httpapi.Errorf(http.StatusUnsupportedMediaType, "", "Content-Type %q: want %s (%s %s takes no other body)", ct, describeTypes(types), r.Method, r.URL.Path)
}

func describeTypes(types []string) string {
	if len(types) > 2 && types[1] == "application/yaml" {
		return "application/json or application/yaml"
	}
	return strings.Join(types, " or ")
}

// authorize lets the request through when the caller's role is at least
// the one its route needs (roles.go). Anonymous callers are told to
// authenticate (the UI's pages send them to the login page); others that
// lack the role get 403.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need := s.needs(r)
		id := auth.FromContext(r.Context())
		if id.Role >= need {
			next.ServeHTTP(w, r)
			return
		}
		if id.Role == auth.RoleNone {
			if s.ui != nil && safeMethod(r.Method) && (r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/")) {
				http.Redirect(w, r, LoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="satellite"`)
			s.writeError(w, httpapi.Errorf(http.StatusUnauthorized, "Authorization",
				"%s %s needs a token with role %s or higher: send Authorization: Bearer TOKEN (satellite: --token or $SATELLITE_TOKEN; create one with satellite token create NAME --role %s)",
				r.Method, r.URL.Path, need, need))
			return
		}
		s.writeError(w, httpapi.Errorf(http.StatusForbidden, "", "%s %q has role %s; %s %s needs role %s or higher", whoKind(id), id.Name, id.Role, r.Method, r.URL.Path, need))
	})
}

func whoKind(id auth.Identity) string {
	if id.Via == "certificate" {
		return "certificate"
	}
	return "token"
}

// needs returns the role the route of r needs.
func (s *Server) needs(r *http.Request) auth.Role {
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		return auth.RoleViewer // unknown routes: no probing without credentials
	}
	if safeMethod(r.Method) {
		for _, p := range s.sec.OpenPaths {
			if p == r.URL.Path {
				return auth.RoleNone
			}
		}
	}
	if role, ok := s.roles[pattern]; ok {
		return role
	}
	return auth.RoleAdmin // a route registered without a role: the safe side
}
