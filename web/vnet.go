package web

// Virtual networks (package vnet): REST resources over the configuration
// the vnet.Manager keeps, its declarative import and export, and views of
// what the Manager made of it (reconciliation state, compiled flows).
//
//	GET    /api/v1/{kind}                       list (kind: datapaths, networks, interfaces, routers, security-groups, floating-ips)
//	POST   /api/v1/{kind}                       create: the object as JSON
//	GET    /api/v1/{kind}/{name}
//	PUT    /api/v1/{kind}/{name}                replace: the whole object (ids are kept when left out)
//	DELETE /api/v1/{kind}/{name}                409 while other objects use it
//	                                            (a floating IP's name is its address; POST chooses one when "ip" is left out)
//	POST   /api/v1/networks/auto                the "default" network and router, created once [{"dns": [...]}]
//	GET    /api/v1/routers/{name}/interfaces     and POST; GET, PUT, DELETE .../interfaces/{network}
//	GET    /api/v1/routers/{name}/routes         and POST; GET, PUT, DELETE .../routes/{destination} (10.9.0.0/16)
//	GET    /api/v1/security-groups/{name}/rules  and POST; GET, PUT, DELETE .../rules/{n} (1, 2, ...)
//	GET    /api/v1/trunks[?datapath=NAME]        ports that carry tagged networks
//	GET    /api/v1/leases[?network=NAME]         DHCP leases with their state
//	GET    /api/v1/vnet/status                   reconciliation state of every datapath
//	GET    /api/v1/vnet/flows/{dpid}             the compiled program of a datapath (dpid or name)
//	GET    /api/v1/vnet/config[?format=json|yaml]
//	PUT    /api/v1/vnet/config                   apply a whole configuration (JSON or YAML)
//
// Every change goes through vnet.Manager.Update: validated and stored at
// once, or not at all. See docs/vnet-api.md.

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/vnet"
)

// WithVirtualNetworks serves the virtual network routes from m; without
// it they answer 503.
func WithVirtualNetworks(m *vnet.Manager) Option { return func(s *Server) { s.vnets = m } }

// ---- documents of the virtual network routes (besides the vnet types)

// ---- plumbing

// manager returns the Manager, or 503 when the server has none.
func (s *Server) manager() (*vnet.Manager, error) {
	if s.vnets == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "virtual networks are not enabled on this server")
	}
	return s.vnets, nil
}

// vnetError maps an error of a configuration change to an API error. A
// validation error about the object the request changes (object, such as
// `network "net1"`; "" for the whole configuration) is a 400 naming the
// field; one about another object (the change would break it) a 422.
func vnetError(err error, object string) error {
	var ae *httpapi.Error
	var fe *vnet.FieldError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		if object == "" || fe.Object == object || strings.HasPrefix(fe.Object, object+" ") {
			return httpapi.Errorf(http.StatusBadRequest, fe.Field, "%s", fe.Error())
		}
		return httpapi.Errorf(http.StatusUnprocessableEntity, "", "this change to %s would make %s invalid: %s: %s", object, fe.Object, fe.Field, fe.Msg)
	case errors.Is(err, vnet.ErrConflict):
		return httpapi.Errorf(http.StatusConflict, "", "the configuration changed meanwhile; try again")
	default:
		return httpapi.Errorf(http.StatusInternalServerError, "", "%v", err)
	}
}

// update runs one change through the Manager.
func (s *Server) update(object string, fn func(c *vnet.Config) error) (vnet.Config, error) {
	m, err := s.manager()
	if err != nil {
		return vnet.Config{}, err
	}
	c, err := m.Update(fn)
	if err != nil {
		return vnet.Config{}, vnetError(err, object)
	}
	return c, nil
}

// current returns the configuration in effect.
func (s *Server) current() (vnet.Config, uint64, error) {
	m, err := s.manager()
	if err != nil {
		return vnet.Config{}, 0, err
	}
	c, rev := m.Config()
	return c, rev, nil
}

// list renders a list of names: "a", "a and b", "a, b and c".
func list(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// ---- top-level objects

// vkind describes one kind of top-level object for the generic handlers.
type vkind[T any] struct {
	kind    string // as validation errors name it: "network", "security group"
	path    string // "/api/v1/networks"
	items   func(c *vnet.Config) *[]T
	name    func(*T) *string
	id      func(*T) *uint32 // nil: the kind has no id
	users   func(c *vnet.Config, name string) []string
	out     func(T) T // fills lists for output (nil: as it is)
	example string
	// create, when set, handles POST instead of the generic create (for
	// objects whose name the server may choose, like floating IPs)
	create func(s *Server, w http.ResponseWriter, r *http.Request) error
}

func (k *vkind[T]) object(name string) string { return fmt.Sprintf("%s %q", k.kind, name) }

func (k *vkind[T]) find(c *vnet.Config, name string) (int, bool) {
	items := *k.items(c)
	for i := range items {
		if *k.name(&items[i]) == name {
			return i, true
		}
	}
	return -1, false
}

func (k *vkind[T]) notFound(name string) error {
	return httpapi.Errorf(http.StatusNotFound, "name", "%s does not exist (see GET %s)", k.object(name), k.path)
}

func (k *vkind[T]) render(v T) T {
	if k.out != nil {
		return k.out(v)
	}
	return v
}

// lookup returns the object named in the path.
func (k *vkind[T]) lookup(s *Server, r *http.Request) (T, error) {
	var zero T
	c, _, err := s.current()
	if err != nil {
		return zero, err
	}
	name := r.PathValue("name")
	i, ok := k.find(&c, name)
	if !ok {
		return zero, k.notFound(name)
	}
	return (*k.items(&c))[i], nil
}

func registerKind[T any](s *Server, k *vkind[T]) {
	s.handle("GET "+k.path, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		c, _, err := s.current()
		if err != nil {
			return err
		}
		out := []T{}
		for _, v := range *k.items(&c) {
			out = append(out, k.render(v))
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
		return nil
	})
	s.handle("GET "+k.path+"/{name}", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		v, err := k.lookup(s, r)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, k.render(v))
		return nil
	})
	s.handle("POST "+k.path, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.manager(); err != nil {
			return err
		}
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		if k.create != nil {
			return k.create(s, w, r)
		}
		var v T
		if err := httpapi.DecodeBody(r, &v, k.example); err != nil {
			return err
		}
		name := *k.name(&v)
		if name == "" {
			return httpapi.Errorf(http.StatusBadRequest, "name", "name is missing; want an object such as %s", k.example)
		}
		c, err := s.update(k.object(name), func(c *vnet.Config) error {
			if _, ok := k.find(c, name); ok {
				return httpapi.Errorf(http.StatusConflict, "name", "%s already exists (PUT %s/%s replaces it)", k.object(name), k.path, name)
			}
			*k.items(c) = append(*k.items(c), v)
			vnet.AssignGroupIDs(c)
			return nil
		})
		if err != nil {
			return err
		}
		i, _ := k.find(&c, name)
		w.Header().Set("Location", k.path+"/"+name)
		httpapi.WriteJSON(w, http.StatusCreated, k.render((*k.items(&c))[i]))
		return nil
	})
	s.handle("PUT "+k.path+"/{name}", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.manager(); err != nil {
			return err
		}
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		name := r.PathValue("name")
		var v T
		if err := httpapi.DecodeBody(r, &v, k.example); err != nil {
			return err
		}
		switch body := k.name(&v); *body {
		case "":
			*body = name
		case name:
		default:
			return httpapi.Errorf(http.StatusBadRequest, "name", "the body names %s, the path %s: renaming is not supported (create the new one, move what uses the old one, delete it)",
				k.object(*body), k.object(name))
		}
		c, err := s.update(k.object(name), func(c *vnet.Config) error {
			i, ok := k.find(c, name)
			if !ok {
				return k.notFound(name)
			}
			items := *k.items(c)
			if k.id != nil && *k.id(&v) == 0 {
				*k.id(&v) = *k.id(&items[i])
			}
			items[i] = v
			vnet.AssignGroupIDs(c)
			return nil
		})
		if err != nil {
			return err
		}
		i, _ := k.find(&c, name)
		httpapi.WriteJSON(w, http.StatusOK, k.render((*k.items(&c))[i]))
		return nil
	})
	s.handle("DELETE "+k.path+"/{name}", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		name := r.PathValue("name")
		var gone T
		_, err := s.update(k.object(name), func(c *vnet.Config) error {
			i, ok := k.find(c, name)
			if !ok {
				return k.notFound(name)
			}
			if k.users != nil {
				if users := k.users(c, name); len(users) > 0 {
					return httpapi.Errorf(http.StatusConflict, "", "%s is in use by %s; delete them or change them first", k.object(name), list(users))
				}
			}
			items := *k.items(c)
			gone = items[i]
			*k.items(c) = append(items[:i:i], items[i+1:]...)
			return nil
		})
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, k.render(gone))
		return nil
	})
}

var (
	datapathKind = &vkind[vnet.Datapath]{
		kind: "datapath", path: "/api/v1/datapaths",
		items: func(c *vnet.Config) *[]vnet.Datapath { return &c.Datapaths },
		name:  func(d *vnet.Datapath) *string { return &d.Name },
		users: func(c *vnet.Config, name string) []string {
			var out []string
			for _, in := range c.Interfaces {
				if in.Datapath == name {
					out = append(out, fmt.Sprintf("interface %q", in.Name))
				}
			}
			return out
		},
		example: `{"name": "h1", "dpid": "0000000000000001", "segment": "a"}`,
	}
	networkKind = &vkind[vnet.Network]{
		kind: "network", path: "/api/v1/networks",
		items: func(c *vnet.Config) *[]vnet.Network { return &c.Networks },
		name:  func(n *vnet.Network) *string { return &n.Name },
		id:    func(n *vnet.Network) *uint32 { return &n.ID },
		users: func(c *vnet.Config, name string) []string {
			var out []string
			for _, in := range c.Interfaces {
				if in.Network == name {
					out = append(out, fmt.Sprintf("interface %q", in.Name))
				}
			}
			for _, r := range c.Routers {
				for _, ri := range r.Interfaces {
					if ri.Network == name {
						out = append(out, fmt.Sprintf("router %q", r.Name))
					}
				}
			}
			for _, f := range c.FloatingIPs {
				if f.Network == name {
					out = append(out, fmt.Sprintf("floating IP %s", f.IP))
				}
			}
			return out
		},
		example: `{"name": "net1", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "dhcp": true}`,
	}
	interfaceKind = &vkind[vnet.Interface]{
		kind: "interface", path: "/api/v1/interfaces",
		items: func(c *vnet.Config) *[]vnet.Interface { return &c.Interfaces },
		name:  func(in *vnet.Interface) *string { return &in.Name },
		id:    func(in *vnet.Interface) *uint32 { return &in.ID },
		users: func(c *vnet.Config, name string) []string {
			var out []string
			for _, f := range c.FloatingIPs {
				if f.Interface == name {
					out = append(out, fmt.Sprintf("floating IP %s", f.IP))
				}
			}
			return out
		},
		example: `{"name": "a1", "network": "net1", "datapath": "h1", "port": "vm1", "ip": "10.1.0.11"}`,
	}
	routerKind = &vkind[vnet.Router]{
		kind: "router", path: "/api/v1/routers",
		items: func(c *vnet.Config) *[]vnet.Router { return &c.Routers },
		name:  func(r *vnet.Router) *string { return &r.Name },
		id:    func(r *vnet.Router) *uint32 { return &r.ID },
		out: func(r vnet.Router) vnet.Router {
			if r.Interfaces == nil {
				r.Interfaces = []vnet.RouterInterface{}
			}
			return r
		},
		example: `{"name": "r1", "interfaces": [{"network": "net1"}, {"network": "net2", "ip": "10.2.0.1"}]}`,
	}
	groupKind = &vkind[vnet.SecurityGroup]{
		kind: "security group", path: "/api/v1/security-groups",
		items: func(c *vnet.Config) *[]vnet.SecurityGroup { return &c.SecurityGroups },
		name:  func(g *vnet.SecurityGroup) *string { return &g.Name },
		id:    func(g *vnet.SecurityGroup) *uint32 { return &g.ID },
		users: func(c *vnet.Config, name string) []string {
			var out []string
			for _, in := range c.Interfaces {
				for _, g := range in.SecurityGroups {
					if g == name {
						out = append(out, fmt.Sprintf("interface %q", in.Name))
					}
				}
			}
			for _, g := range c.SecurityGroups {
				if g.Name == name {
					continue // its own rules go with it
				}
				for j, r := range g.Rules {
					if r.RemoteGroup == name {
						out = append(out, fmt.Sprintf("rule %d of security group %q", j+1, g.Name))
					}
				}
			}
			return out
		},
		out: func(g vnet.SecurityGroup) vnet.SecurityGroup {
			if g.Rules == nil {
				g.Rules = []vnet.Rule{}
			}
			stateful := g.IsStateful() // shown, default or not
			g.Stateful = &stateful
			return g
		},
		example: `{"name": "web", "stateful": true, "rules": [{"protocol": "tcp", "port_min": 80}]}`,
	}
)

// floatingIPKind: floating IPs are named by their address, which POST
// chooses when the body leaves it out.
var floatingIPKind = &vkind[vnet.FloatingIP]{
	kind: "floating IP", path: "/api/v1/floating-ips",
	items:   func(c *vnet.Config) *[]vnet.FloatingIP { return &c.FloatingIPs },
	name:    func(f *vnet.FloatingIP) *string { return &f.IP },
	example: `{"network": "ext1", "ip": "192.0.2.10", "interface": "a1"}`,
	create: func(s *Server, w http.ResponseWriter, r *http.Request) error {
		var f vnet.FloatingIP
		if err := httpapi.DecodeBody(r, &f, `{"network": "ext1", "ip": "192.0.2.10", "interface": "a1"} (ip is optional)`); err != nil {
			return err
		}
		if f.Network == "" {
			return httpapi.Errorf(http.StatusBadRequest, "network", "network is missing: the external network to take the address from")
		}
		if f.Interface == "" {
			return httpapi.Errorf(http.StatusBadRequest, "interface", "interface is missing: the interface the address leads to")
		}
		obj := fmt.Sprintf("floating IP for %q", f.Interface) // as validation names it
		if f.IP != "" {
			obj = fmt.Sprintf("floating IP %q", f.IP)
		}
		c, err := s.update(obj, func(c *vnet.Config) error {
			for _, o := range c.FloatingIPs {
				if f.IP != "" && o.Network == f.Network && o.IP == f.IP {
					return httpapi.Errorf(http.StatusConflict, "ip", "floating IP %s is in use by interface %q (PUT %s/%s moves it)", f.IP, o.Interface, "/api/v1/floating-ips", f.IP)
				}
			}
			c.FloatingIPs = append(c.FloatingIPs, f)
			return nil
		})
		if err != nil {
			return err
		}
		for _, o := range c.FloatingIPs {
			if o.Network == f.Network && o.Interface == f.Interface {
				w.Header().Set("Location", "/api/v1/floating-ips/"+o.IP)
				httpapi.WriteJSON(w, http.StatusCreated, o)
				return nil
			}
		}
		return httpapi.Errorf(http.StatusInternalServerError, "", "the floating IP was stored but is not in the configuration")
	},
}

// getFloatingIPStats answers a floating IP's counters, read from its
// gateway switch.
func (s *Server) getFloatingIPStats(w http.ResponseWriter, r *http.Request) error {
	m, err := s.manager()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	st, err := m.FloatingIPStats(r.Context(), r.PathValue("name"))
	switch {
	case errors.Is(err, vnet.ErrNoFloatingIP):
		return httpapi.Errorf(http.StatusNotFound, "name", "floating IP %q does not exist (see GET /api/v1/floating-ips)", r.PathValue("name"))
	case err != nil:
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "%v", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, st)
	return nil
}

// ---- parts of routers and security groups

// vpart describes a list inside a top-level object (a router's
// interfaces and routes, a security group's rules), whose members are
// named in the path by key.
type vpart[P, T any] struct {
	parent *vkind[P]
	what   string // "interface in network", "route to", "rule"
	a      string // its article: "an ", "a ", ""
	seg    string // path segment after the parent: "interfaces"
	param  string // the path parameter naming a member
	items  func(*P) *[]T
	// key names a member (its network, its destination, its number).
	key func(t *T, i int) string
	// pathKey reads the member's name from the path, canonically.
	pathKey func(s string) (string, error)
	// setKey fills the member's name into a PUT body that left it out,
	// and returns the body's own name ("" for rules, which have none).
	setKey func(t *T, key string) string
	// canRemove refuses to remove member i while the parent needs it.
	canRemove func(c *vnet.Config, p *P, i int) error
	// same reports whether two members are the same (for members without
	// a name of their own; nil: compare keys).
	same    func(a, b T) bool
	example string
}

func (v *vpart[P, T]) path() string {
	return v.parent.path + "/{name}/" + v.seg
}

func (v *vpart[P, T]) notFound(parent, key string) error {
	return httpapi.Errorf(http.StatusNotFound, v.param, "%s has no %s %s (see GET %s/%s/%s)", v.parent.object(parent), v.what, key, v.parent.path, parent, v.seg)
}

// member finds the member named key.
func (v *vpart[P, T]) member(p *P, key string) (int, bool) {
	items := *v.items(p)
	for i := range items {
		if v.key(&items[i], i) == key {
			return i, true
		}
	}
	return -1, false
}

// change runs fn on the parent named in the path.
func (v *vpart[P, T]) change(s *Server, r *http.Request, fn func(c *vnet.Config, p *P) error) (P, error) {
	name := r.PathValue("name")
	var out P
	c, err := s.update(v.parent.object(name), func(c *vnet.Config) error {
		i, ok := v.parent.find(c, name)
		if !ok {
			return v.parent.notFound(name)
		}
		return fn(c, &(*v.parent.items(c))[i])
	})
	if err != nil {
		return out, err
	}
	i, _ := v.parent.find(&c, name)
	return (*v.parent.items(&c))[i], nil
}

func registerPart[P, T any](s *Server, v *vpart[P, T]) {
	s.handle("GET "+v.path(), func(w http.ResponseWriter, r *http.Request) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		p, err := v.parent.lookup(s, r)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, append([]T{}, *v.items(&p)...))
		return nil
	})
	s.handle("GET "+v.path()+"/{"+v.param+"...}", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		key, err := v.pathKey(r.PathValue(v.param))
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, v.param, "%v", err)
		}
		p, err := v.parent.lookup(s, r)
		if err != nil {
			return err
		}
		i, ok := v.member(&p, key)
		if !ok {
			return v.notFound(r.PathValue("name"), key)
		}
		httpapi.WriteJSON(w, http.StatusOK, (*v.items(&p))[i])
		return nil
	})
	s.handle("POST "+v.path(), func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.manager(); err != nil {
			return err
		}
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		var t T
		if err := httpapi.DecodeBody(r, &t, v.example); err != nil {
			return err
		}
		var key string
		p, err := v.change(s, r, func(_ *vnet.Config, p *P) error {
			items := v.items(p)
			n := len(*items)
			k := v.key(&t, n)
			if v.setKey != nil && k == "" {
				return httpapi.Errorf(http.StatusBadRequest, v.param, "%s is missing; want an object such as %s", v.param, v.example)
			}
			if v.setKey != nil {
				if canon, err := v.pathKey(k); err == nil {
					k = canon
				}
			}
			for i := range *items {
				if (v.same == nil && v.key(&(*items)[i], i) == k) || (v.same != nil && v.same((*items)[i], t)) {
					return httpapi.Errorf(http.StatusConflict, v.param, "%s already has %s%s %s", v.parent.object(r.PathValue("name")), v.a, v.what, v.key(&(*items)[i], i))
				}
			}
			*items = append(*items, t)
			key = k
			return nil
		})
		if err != nil {
			return err
		}
		i, _ := v.member(&p, key)
		w.Header().Set("Location", strings.Replace(v.path(), "{name}", r.PathValue("name"), 1)+"/"+key)
		httpapi.WriteJSON(w, http.StatusCreated, (*v.items(&p))[i])
		return nil
	})
	s.handle("PUT "+v.path()+"/{"+v.param+"...}", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := s.manager(); err != nil {
			return err
		}
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		key, err := v.pathKey(r.PathValue(v.param))
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, v.param, "%v", err)
		}
		var t T
		if err := httpapi.DecodeBody(r, &t, v.example); err != nil {
			return err
		}
		if v.setKey != nil {
			if own := v.setKey(&t, key); own != "" {
				if canon, err := v.pathKey(own); err != nil || canon != key {
					return httpapi.Errorf(http.StatusBadRequest, v.param, "the body's %s %s differs from the path's %s; to change it, delete the %s and add a new one", v.param, own, key, v.what)
				}
			}
		}
		p, err := v.change(s, r, func(_ *vnet.Config, p *P) error {
			i, ok := v.member(p, key)
			if !ok {
				return v.notFound(r.PathValue("name"), key)
			}
			(*v.items(p))[i] = t
			return nil
		})
		if err != nil {
			return err
		}
		i, _ := v.member(&p, key)
		httpapi.WriteJSON(w, http.StatusOK, (*v.items(&p))[i])
		return nil
	})
	s.handle("DELETE "+v.path()+"/{"+v.param+"...}", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		key, err := v.pathKey(r.PathValue(v.param))
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, v.param, "%v", err)
		}
		var gone T
		_, err = v.change(s, r, func(c *vnet.Config, p *P) error {
			i, ok := v.member(p, key)
			if !ok {
				return v.notFound(r.PathValue("name"), key)
			}
			if v.canRemove != nil {
				if err := v.canRemove(c, p, i); err != nil {
					return err
				}
			}
			items := v.items(p)
			gone = (*items)[i]
			*items = append((*items)[:i:i], (*items)[i+1:]...)
			return nil
		})
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, gone)
		return nil
	})
}

// canonicalPrefix reads a route destination: an IPv4 CIDR, written
// canonically.
func canonicalPrefix(s string) (string, error) {
	if s == "" {
		return "", errors.New("destination is missing: want an IPv4 CIDR such as 10.9.0.0/16")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return "", fmt.Errorf("destination %q: want an IPv4 CIDR such as 10.9.0.0/16", s)
	}
	return p.String(), nil
}

var (
	routerInterfaces = &vpart[vnet.Router, vnet.RouterInterface]{
		parent: routerKind, what: "interface in network", a: "an ", seg: "interfaces", param: "network",
		items: func(r *vnet.Router) *[]vnet.RouterInterface { return &r.Interfaces },
		key:   func(ri *vnet.RouterInterface, _ int) string { return ri.Network },
		pathKey: func(s string) (string, error) {
			if s == "" {
				return "", errors.New("network is missing: want the name of a network")
			}
			return s, nil
		},
		setKey: func(ri *vnet.RouterInterface, key string) string {
			own := ri.Network
			if own == "" {
				ri.Network = key
			}
			return own
		},
		canRemove: func(c *vnet.Config, r *vnet.Router, i int) error {
			// a route whose next hop is only reachable through this interface
			ri := r.Interfaces[i]
			for _, rt := range r.Routes {
				if routeNeeds(c, r, rt, ri.Network) {
					return httpapi.Errorf(http.StatusConflict, "", "route %s via %s of router %q needs the interface in network %q; delete the route first",
						rt.Destination, rt.NextHop, r.Name, ri.Network)
				}
			}
			return nil
		},
		example: `{"network": "net2", "ip": "10.2.0.1"}`,
	}
	routerRoutes = &vpart[vnet.Router, vnet.Route]{
		parent: routerKind, what: "route to", a: "a ", seg: "routes", param: "destination",
		items: func(r *vnet.Router) *[]vnet.Route { return &r.Routes },
		key: func(rt *vnet.Route, _ int) string {
			if c, err := canonicalPrefix(rt.Destination); err == nil {
				return c
			}
			return rt.Destination
		},
		pathKey: canonicalPrefix,
		setKey: func(rt *vnet.Route, key string) string {
			own := rt.Destination
			if own == "" {
				rt.Destination = key
			}
			return own
		},
		example: `{"destination": "10.9.0.0/16", "next_hop": "10.1.0.254"}`,
	}
	groupRules = &vpart[vnet.SecurityGroup, vnet.Rule]{
		parent: groupKind, what: "rule", seg: "rules", param: "n",
		items: func(g *vnet.SecurityGroup) *[]vnet.Rule { return &g.Rules },
		key:   func(_ *vnet.Rule, i int) string { return strconv.Itoa(i + 1) },
		pathKey: func(s string) (string, error) {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || strconv.Itoa(n) != s {
				return "", fmt.Errorf("rule %q: want a rule number (1 is the first rule)", s)
			}
			return s, nil
		},
		same:    func(a, b vnet.Rule) bool { return normRule(a) == normRule(b) },
		example: `{"protocol": "tcp", "port_min": 22, "remote_cidr": "10.2.0.0/24"}`,
	}
)

// routeNeeds reports whether a route of a router needs its interface in
// network: its next hop is in that network's subnet and in no other of
// the router's networks.
func routeNeeds(c *vnet.Config, r *vnet.Router, rt vnet.Route, network string) bool {
	hop, err := netip.ParseAddr(rt.NextHop)
	if err != nil {
		return false
	}
	in := func(name string) bool {
		for _, n := range c.Networks {
			if p, err := netip.ParsePrefix(n.Subnet); err == nil && n.Name == name && p.Contains(hop) {
				return true
			}
		}
		return false
	}
	if !in(network) {
		return false
	}
	for _, ri := range r.Interfaces {
		if ri.Network != network && in(ri.Network) {
			return false
		}
	}
	return true
}

// normRule fills in a rule's defaults as validation does, so that the
// same rule given twice is recognised.
func normRule(r vnet.Rule) vnet.Rule {
	if r.Direction == "" {
		r.Direction = "ingress"
	}
	if r.Protocol == "tcp" || r.Protocol == "udp" {
		if r.PortMin == 0 && r.PortMax == 0 {
			r.PortMin, r.PortMax = 1, 65535
		}
		if r.PortMax == 0 {
			r.PortMax = r.PortMin
		}
	}
	return r
}

// ---- routes

func (s *Server) vnetRoutes() {
	registerKind(s, datapathKind)
	registerKind(s, networkKind)
	registerKind(s, interfaceKind)
	registerKind(s, routerKind)
	registerKind(s, groupKind)
	registerKind(s, floatingIPKind)
	s.handle("GET /api/v1/floating-ips/{name}/stats", s.getFloatingIPStats)
	registerPart(s, routerInterfaces)
	registerPart(s, routerRoutes)
	registerPart(s, groupRules)
	s.handle("POST /api/v1/networks/auto", s.autoNetwork)
	s.handle("GET /api/v1/trunks", s.getTrunks)
	s.handle("GET /api/v1/leases", s.getLeases)
	s.handle("GET /api/v1/vnet/status", s.getVNetStatus)
	s.handle("GET /api/v1/vnet/flows/{dpid}", s.getVNetFlows)
	s.handle("GET /api/v1/vnet/config", s.getVNetConfig)
	s.handle("PUT /api/v1/vnet/config", s.putVNetConfig)
}

// ---- the default network

func (s *Server) autoNetwork(w http.ResponseWriter, r *http.Request) error {
	m, err := s.manager()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	var req api.AutoNetworkRequest
	if r.ContentLength != 0 {
		if err := decodeBodyOptional(r, &req, `{"dns": ["10.0.0.53"]}`); err != nil {
			return err
		}
	}
	res, err := m.AutoNetwork(vnet.AutoOptions{DNS: req.DNS})
	if err != nil {
		return vnetError(err, fmt.Sprintf("network %q", vnet.AutoNetworkName))
	}
	res.Router = routerKind.render(res.Router)
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", networkKind.path+"/"+vnet.AutoNetworkName)
	httpapi.WriteJSON(w, status, res)
	return nil
}

// decodeBodyOptional is decodeBody where an empty body is an empty object.
func decodeBodyOptional(r *http.Request, v any, example string) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return httpapi.Errorf(http.StatusRequestEntityTooLarge, "", "request body exceeds the limit of %d bytes", mbe.Limit)
		}
		return httpapi.Errorf(http.StatusBadRequest, "", "reading request body: %v", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	r.Body = io.NopCloser(strings.NewReader(string(b)))
	return httpapi.DecodeBody(r, v, example)
}

// ---- trunks and leases

func (s *Server) getTrunks(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.Query(r, "datapath")
	if err != nil {
		return err
	}
	c, _, err := s.current()
	if err != nil {
		return err
	}
	dp := q.Get("datapath")
	if q.Has("datapath") {
		if _, ok := datapathKind.find(&c, dp); !ok {
			return httpapi.Errorf(http.StatusNotFound, "datapath", "%s does not exist (see GET %s)", datapathKind.object(dp), datapathKind.path)
		}
	}
	type portKey struct{ dp, port string }
	ports := map[portKey]*api.Trunk{}
	for _, in := range c.Interfaces {
		if in.Mode != vnet.ModeVIF || in.VLAN == 0 || (dp != "" && in.Datapath != dp) {
			continue
		}
		k := portKey{in.Datapath, in.Port}
		if ports[k] == nil {
			ports[k] = &api.Trunk{Datapath: in.Datapath, Port: in.Port}
		}
		ports[k].VLANs = append(ports[k].VLANs, api.TrunkVLAN{VLAN: in.VLAN, Network: in.Network, Interface: in.Name})
	}
	for _, in := range c.Interfaces {
		if t := ports[portKey{in.Datapath, in.Port}]; t != nil && in.Mode == vnet.ModeVIF && in.VLAN == 0 {
			t.Native = &api.TrunkVLAN{Network: in.Network, Interface: in.Name}
		}
	}
	out := []api.Trunk{}
	for _, t := range ports {
		sort.Slice(t.VLANs, func(i, j int) bool { return t.VLANs[i].VLAN < t.VLANs[j].VLAN })
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Datapath != out[j].Datapath {
			return out[i].Datapath < out[j].Datapath
		}
		return out[i].Port < out[j].Port
	})
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getLeases(w http.ResponseWriter, r *http.Request) error {
	m, err := s.manager()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "network")
	if err != nil {
		return err
	}
	c, _ := m.Config()
	network := q.Get("network")
	if q.Has("network") {
		if _, ok := networkKind.find(&c, network); !ok {
			return httpapi.Errorf(http.StatusNotFound, "network", "%s does not exist (see GET %s)", networkKind.object(network), networkKind.path)
		}
	}
	holder := map[string]string{}
	for _, in := range c.Interfaces {
		holder[in.Network+"/"+in.MAC] = in.Name
	}
	out := []api.Lease{}
	for _, l := range m.Leases() {
		if network != "" && l.Network != network {
			continue
		}
		out = append(out, api.Lease{Network: l.Network, MAC: l.MAC, IP: l.IP, State: string(l.State),
			Expires: l.Expires.UTC().Truncate(time.Second), Interface: holder[l.Network+"/"+l.MAC]})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// ---- what the Manager made of it

func (s *Server) getVNetStatus(w http.ResponseWriter, r *http.Request) error {
	m, err := s.manager()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	c, rev := m.Config()
	st, notes := m.Status()
	active := 0
	for _, l := range m.Leases() {
		if l.State.Active() {
			active++
		}
	}
	out := api.VNetStatus{Revision: rev, Datapaths: []api.VNetSwitchStatus{}, Notes: uniq(notes),
		Networks: len(c.Networks), Interfaces: len(c.Interfaces), Routers: len(c.Routers), SecurityGroups: len(c.SecurityGroups), Leases: active}
	for _, d := range st {
		ds := api.VNetSwitchStatus{Name: d.Name, DPID: d.DPID, Connected: d.Connected, Flows: d.Flows, Groups: d.Groups, LastChanges: d.LastChanges, Settling: d.Settling, Total: d.Total, Error: d.Error}
		if !d.Reconciled.IsZero() {
			t := apiTime(d.Reconciled)
			ds.Reconciled = &t
		}
		out.Datapaths = append(out.Datapaths, ds)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getVNetFlows(w http.ResponseWriter, r *http.Request) error {
	m, err := s.manager()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	c, _ := m.Config()
	arg := r.PathValue("dpid")
	var dp *vnet.Datapath
	for i := range c.Datapaths {
		if c.Datapaths[i].Name == arg {
			dp = &c.Datapaths[i]
		}
	}
	if dp == nil {
		id, err := ParseDPID(arg)
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "dpid", "%q is neither the name of a datapath nor a datapath id: %v", arg, err)
		}
		for i := range c.Datapaths {
			if d, _ := vnet.ParseDPID(c.Datapaths[i].DPID); d == id {
				dp = &c.Datapaths[i]
			}
		}
		if dp == nil {
			return httpapi.Errorf(http.StatusNotFound, "dpid", "no datapath with id %s is configured (see GET %s)", FormatDPID(id), datapathKind.path)
		}
	}
	id, _ := vnet.ParseDPID(dp.DPID)
	progs, notes := m.Programs()
	out := api.VNetProgram{Datapath: dp.Name, DPID: FormatDPID(id), Connected: s.ctl.Switch(id) != nil,
		Flows: []api.VNetFlow{}, Groups: []api.VNetGroup{}, Notes: uniq(notes)}
	if p := progs[id]; p != nil {
		for _, f := range p.Flows {
			out.Flows = append(out.Flows, vnetFlowJSON(f))
		}
		for _, g := range p.Groups {
			out.Groups = append(out.Groups, vnetGroupJSON(g))
		}
	}
	sort.SliceStable(out.Flows, func(i, j int) bool {
		a, b := &out.Flows[i], &out.Flows[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return a.Match < b.Match
	})
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].ID < out.Groups[j].ID })
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// uniq returns the distinct strings of list in their first order (the
// compiler notes a missing port once per datapath it compiles); never nil.
func uniq(list []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func vnetFlowJSON(f controller.Flow) api.VNetFlow {
	c := f.Cookie
	o := api.Owner{Kind: c.Kind().String()}
	if c.Kind() != controller.OwnerForeign {
		o.Network, o.ID = c.Scope(), c.Object()
	}
	match := controller.FormatMatch(f.Match)
	acts := controller.FormatInstructions(f.Instructions)
	spec := fmt.Sprintf("table=%d,priority=%d,", f.Table, f.Priority)
	if match != "" {
		spec += match + ","
	}
	if f.IdleTimeout != 0 {
		spec += fmt.Sprintf("idle_timeout=%d,", f.IdleTimeout)
	}
	if f.HardTimeout != 0 {
		spec += fmt.Sprintf("hard_timeout=%d,", f.HardTimeout)
	}
	return api.VNetFlow{Table: f.Table, Priority: f.Priority, Cookie: fmt.Sprintf("0x%016x", uint64(c)), Owner: o,
		Match: match, Actions: acts, Flow: spec + "actions=" + acts}
}

func vnetGroupJSON(g controller.Group) api.VNetGroup {
	typ, ok := groupTypeNames[g.Type]
	if !ok {
		typ = fmt.Sprintf("type(%d)", g.Type)
	}
	out := api.VNetGroup{ID: g.ID, Type: typ, Buckets: []api.VNetBucket{}}
	for _, b := range g.Buckets {
		bk := api.VNetBucket{Actions: controller.FormatActions(b.Actions)}
		if b.WatchPort != 0 && b.WatchPort != 0xffffffff {
			v := b.WatchPort
			bk.WatchPort = &v
		}
		out.Buckets = append(out.Buckets, bk)
	}
	return out
}

// ---- the whole configuration

// yamlTypes are the media types of YAML request bodies.
var yamlTypes = map[string]bool{"application/yaml": true, "application/x-yaml": true, "text/yaml": true, "text/x-yaml": true}

func (s *Server) getVNetConfig(w http.ResponseWriter, r *http.Request) error {
	m, err := s.manager()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "format")
	if err != nil {
		return err
	}
	format := vnet.FormatJSON
	if q.Has("format") {
		format = q.Get("format")
		if format != vnet.FormatJSON && format != vnet.FormatYAML {
			return httpapi.Errorf(http.StatusBadRequest, "format", "format %q: want json or yaml", format)
		}
	}
	c, rev := m.Config()
	b, err := vnet.EncodeConfig(c, format)
	if err != nil {
		return err
	}
	ctype := "application/json"
	if format == vnet.FormatYAML {
		ctype = "application/yaml"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Satellite-Revision", strconv.FormatUint(rev, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

func (s *Server) putVNetConfig(w http.ResponseWriter, r *http.Request) error {
	m, err := s.manager()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	format := ""
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return httpapi.Errorf(http.StatusUnsupportedMediaType, "", "Content-Type %q: want application/json or application/yaml", ct)
		case mt == "application/json":
			format = vnet.FormatJSON
		case yamlTypes[mt]:
			format = vnet.FormatYAML
		case mt == "text/plain" || mt == "application/octet-stream":
			// detected from the document
		default:
			return httpapi.Errorf(http.StatusUnsupportedMediaType, "", "Content-Type %q: want application/json or application/yaml", ct)
		}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return httpapi.Errorf(http.StatusRequestEntityTooLarge, "", "request body exceeds the limit of %d bytes", mbe.Limit)
		}
		return httpapi.Errorf(http.StatusBadRequest, "", "reading request body: %v", err)
	}
	c, err := vnet.DecodeConfig(b, format)
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "", "%v", err)
	}
	res, err := m.ApplyConfig(c)
	if err != nil {
		return vnetError(err, "")
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}
