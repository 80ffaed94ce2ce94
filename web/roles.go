package web

import (
	"net/http"
	"strings"

	"github.com/satellite-sdn/satellite/internal/auth"
)

// The role each route needs. A route registered with handle needs viewer
// to read (GET) and operator to change (POST, PUT, DELETE) unless a line
// of routeRoles says otherwise: a new route gets the right role by being
// registered, or by one line here.
//
//	viewer    reads, the stream, the UI
//	operator  flows, traces, snapshots, alert rules
//	admin     virtual networks, tokens, configuration, the audit log
var routeRoles = []struct {
	prefix      string // path prefix (a whole segment)
	read, write auth.Role
}{
	{"/api/v1/tokens", auth.RoleAdmin, auth.RoleAdmin},
	{"/api/v1/audit-log", auth.RoleAdmin, auth.RoleAdmin},
	{"/api/v1/datapaths", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/networks", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/interfaces", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/routers", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/security-groups", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/floating-ips", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/trunks", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/leases", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/vnet", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/config", auth.RoleViewer, auth.RoleAdmin},
	{"/api/v1/whoami", auth.RoleNone, auth.RoleNone},
}

// routeBodies are the routes whose bodies are not only JSON.
var routeBodies = map[string][]string{
	"PUT /api/v1/vnet/config": yamlBody,
}

// roleFor returns the role a route pattern ("METHOD /path") needs.
func roleFor(pattern string) auth.Role {
	method, path, _ := strings.Cut(pattern, " ")
	read := method == http.MethodGet || method == http.MethodHead
	for _, rr := range routeRoles {
		if path == rr.prefix || strings.HasPrefix(path, rr.prefix+"/") {
			if read {
				return rr.read
			}
			return rr.write
		}
	}
	if read {
		return auth.RoleViewer
	}
	return auth.RoleOperator
}

// RouteRole returns the role the route pattern ("METHOD /path", as in the
// OpenAPI document) needs, for documentation and tests.
func (s *Server) RouteRole(pattern string) (auth.Role, bool) {
	r, ok := s.roles[pattern]
	return r, ok
}
