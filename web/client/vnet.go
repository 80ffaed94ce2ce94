package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/vnet"
)

// Virtual networks: the objects of package vnet, as the API serves them.

func objPath(kind, name string) string { return "/api/v1/" + kind + "/" + url.PathEscape(name) }

func list[T any](c *Client, ctx context.Context, kind string) ([]T, error) {
	var out []T
	return out, c.do(ctx, "GET", "/api/v1/"+kind, nil, nil, &out)
}

func get[T any](c *Client, ctx context.Context, kind, name string) (T, error) {
	var out T
	return out, c.do(ctx, "GET", objPath(kind, name), nil, nil, &out)
}

func create[T any](c *Client, ctx context.Context, kind string, v T) (T, error) {
	var out T
	return out, c.do(ctx, "POST", "/api/v1/"+kind, nil, v, &out)
}

func replace[T any](c *Client, ctx context.Context, kind, name string, v T) (T, error) {
	var out T
	return out, c.do(ctx, "PUT", objPath(kind, name), nil, v, &out)
}

func remove[T any](c *Client, ctx context.Context, kind, name string) (T, error) {
	var out T
	return out, c.do(ctx, "DELETE", objPath(kind, name), nil, nil, &out)
}

// Datapaths lists the datapaths, by name.
func (c *Client) Datapaths(ctx context.Context) ([]vnet.Datapath, error) {
	return list[vnet.Datapath](c, ctx, "datapaths")
}

// Datapath returns one datapath.
func (c *Client) Datapath(ctx context.Context, name string) (vnet.Datapath, error) {
	return get[vnet.Datapath](c, ctx, "datapaths", name)
}

// CreateDatapath creates a datapath and returns it as stored.
func (c *Client) CreateDatapath(ctx context.Context, d vnet.Datapath) (vnet.Datapath, error) {
	return create(c, ctx, "datapaths", d)
}

// UpdateDatapath replaces a datapath.
func (c *Client) UpdateDatapath(ctx context.Context, name string, d vnet.Datapath) (vnet.Datapath, error) {
	return replace(c, ctx, "datapaths", name, d)
}

// DeleteDatapath deletes a datapath no interface uses, and returns it.
func (c *Client) DeleteDatapath(ctx context.Context, name string) (vnet.Datapath, error) {
	return remove[vnet.Datapath](c, ctx, "datapaths", name)
}

// Networks lists the networks, by name.
func (c *Client) Networks(ctx context.Context) ([]vnet.Network, error) {
	return list[vnet.Network](c, ctx, "networks")
}

// Network returns one network.
func (c *Client) Network(ctx context.Context, name string) (vnet.Network, error) {
	return get[vnet.Network](c, ctx, "networks", name)
}

// CreateNetwork creates a network and returns it as stored (id and DHCP
// defaults filled in).
func (c *Client) CreateNetwork(ctx context.Context, n vnet.Network) (vnet.Network, error) {
	return create(c, ctx, "networks", n)
}

// UpdateNetwork replaces a network (its id is kept when n has none).
func (c *Client) UpdateNetwork(ctx context.Context, name string, n vnet.Network) (vnet.Network, error) {
	return replace(c, ctx, "networks", name, n)
}

// DeleteNetwork deletes a network no interface or router uses, and
// returns it.
func (c *Client) DeleteNetwork(ctx context.Context, name string) (vnet.Network, error) {
	return remove[vnet.Network](c, ctx, "networks", name)
}

// AutoNetwork makes sure the ready network "default" and its router
// "default-router" exist (see vnet.Manager.AutoNetwork); dns is used only
// when the network is created.
func (c *Client) AutoNetwork(ctx context.Context, dns []string) (vnet.AutoResult, error) {
	var out vnet.AutoResult
	return out, c.do(ctx, "POST", "/api/v1/networks/auto", nil, api.AutoNetworkRequest{DNS: dns}, &out)
}

// Interfaces lists the interfaces, by name.
func (c *Client) Interfaces(ctx context.Context) ([]vnet.Interface, error) {
	return list[vnet.Interface](c, ctx, "interfaces")
}

// Interface returns one interface.
func (c *Client) Interface(ctx context.Context, name string) (vnet.Interface, error) {
	return get[vnet.Interface](c, ctx, "interfaces", name)
}

// CreateInterface creates an interface and returns it as stored.
func (c *Client) CreateInterface(ctx context.Context, in vnet.Interface) (vnet.Interface, error) {
	return create(c, ctx, "interfaces", in)
}

// UpdateInterface replaces an interface.
func (c *Client) UpdateInterface(ctx context.Context, name string, in vnet.Interface) (vnet.Interface, error) {
	return replace(c, ctx, "interfaces", name, in)
}

// DeleteInterface deletes an interface and returns it.
func (c *Client) DeleteInterface(ctx context.Context, name string) (vnet.Interface, error) {
	return remove[vnet.Interface](c, ctx, "interfaces", name)
}

// Routers lists the routers, by name.
func (c *Client) Routers(ctx context.Context) ([]vnet.Router, error) {
	return list[vnet.Router](c, ctx, "routers")
}

// Router returns one router.
func (c *Client) Router(ctx context.Context, name string) (vnet.Router, error) {
	return get[vnet.Router](c, ctx, "routers", name)
}

// CreateRouter creates a router and returns it as stored.
func (c *Client) CreateRouter(ctx context.Context, r vnet.Router) (vnet.Router, error) {
	return create(c, ctx, "routers", r)
}

// UpdateRouter replaces a router, with its interfaces and routes.
func (c *Client) UpdateRouter(ctx context.Context, name string, r vnet.Router) (vnet.Router, error) {
	return replace(c, ctx, "routers", name, r)
}

// DeleteRouter deletes a router and returns it.
func (c *Client) DeleteRouter(ctx context.Context, name string) (vnet.Router, error) {
	return remove[vnet.Router](c, ctx, "routers", name)
}

func routerPart(router, part string) string { return objPath("routers", router) + "/" + part }

// AddRouterInterface gives a router an interface in a network (IP
// default: the network's gateway) and returns it as stored.
func (c *Client) AddRouterInterface(ctx context.Context, router string, ri vnet.RouterInterface) (vnet.RouterInterface, error) {
	var out vnet.RouterInterface
	return out, c.do(ctx, "POST", routerPart(router, "interfaces"), nil, ri, &out)
}

// DeleteRouterInterface removes a router's interface in network.
func (c *Client) DeleteRouterInterface(ctx context.Context, router, network string) (vnet.RouterInterface, error) {
	var out vnet.RouterInterface
	return out, c.do(ctx, "DELETE", routerPart(router, "interfaces/"+url.PathEscape(network)), nil, nil, &out)
}

// AddRoute adds a static route to a router.
func (c *Client) AddRoute(ctx context.Context, router string, rt vnet.Route) (vnet.Route, error) {
	var out vnet.Route
	return out, c.do(ctx, "POST", routerPart(router, "routes"), nil, rt, &out)
}

// DeleteRoute removes a router's route to destination (a CIDR).
func (c *Client) DeleteRoute(ctx context.Context, router, destination string) (vnet.Route, error) {
	var out vnet.Route
	return out, c.do(ctx, "DELETE", routerPart(router, "routes/"+url.PathEscape(destination)), nil, nil, &out)
}

// SecurityGroups lists the security groups, by name.
func (c *Client) SecurityGroups(ctx context.Context) ([]vnet.SecurityGroup, error) {
	return list[vnet.SecurityGroup](c, ctx, "security-groups")
}

// SecurityGroup returns one security group.
func (c *Client) SecurityGroup(ctx context.Context, name string) (vnet.SecurityGroup, error) {
	return get[vnet.SecurityGroup](c, ctx, "security-groups", name)
}

// CreateSecurityGroup creates a security group and returns it as stored.
func (c *Client) CreateSecurityGroup(ctx context.Context, g vnet.SecurityGroup) (vnet.SecurityGroup, error) {
	return create(c, ctx, "security-groups", g)
}

// UpdateSecurityGroup replaces a security group, with its rules.
func (c *Client) UpdateSecurityGroup(ctx context.Context, name string, g vnet.SecurityGroup) (vnet.SecurityGroup, error) {
	return replace(c, ctx, "security-groups", name, g)
}

// DeleteSecurityGroup deletes a security group nothing uses, and returns it.
func (c *Client) DeleteSecurityGroup(ctx context.Context, name string) (vnet.SecurityGroup, error) {
	return remove[vnet.SecurityGroup](c, ctx, "security-groups", name)
}

// AddRule appends a rule to a security group and returns it as stored.
func (c *Client) AddRule(ctx context.Context, group string, r vnet.Rule) (vnet.Rule, error) {
	var out vnet.Rule
	return out, c.do(ctx, "POST", objPath("security-groups", group)+"/rules", nil, r, &out)
}

// DeleteRule removes rule n (1 is the first) of a security group.
func (c *Client) DeleteRule(ctx context.Context, group string, n int) (vnet.Rule, error) {
	var out vnet.Rule
	return out, c.do(ctx, "DELETE", objPath("security-groups", group)+"/rules/"+strconv.Itoa(n), nil, nil, &out)
}

// Trunks lists the ports that carry tagged networks (datapath "": all).
func (c *Client) Trunks(ctx context.Context, datapath string) ([]api.Trunk, error) {
	q := url.Values{}
	if datapath != "" {
		q.Set("datapath", datapath)
	}
	var out []api.Trunk
	return out, c.do(ctx, "GET", "/api/v1/trunks", q, nil, &out)
}

// Leases lists the DHCP leases (network "": of every network).
func (c *Client) Leases(ctx context.Context, network string) ([]api.Lease, error) {
	q := url.Values{}
	if network != "" {
		q.Set("network", network)
	}
	var out []api.Lease
	return out, c.do(ctx, "GET", "/api/v1/leases", q, nil, &out)
}

// VNetStatus returns the reconciliation state of the virtual networks.
func (c *Client) VNetStatus(ctx context.Context) (api.VNetStatus, error) {
	var out api.VNetStatus
	return out, c.do(ctx, "GET", "/api/v1/vnet/status", nil, nil, &out)
}

// VNetFlows returns the compiled program of a datapath (its name or id).
func (c *Client) VNetFlows(ctx context.Context, datapath string) (api.VNetProgram, error) {
	var out api.VNetProgram
	return out, c.do(ctx, "GET", "/api/v1/vnet/flows/"+url.PathEscape(datapath), nil, nil, &out)
}

// VNetConfig returns the whole configuration in effect.
func (c *Client) VNetConfig(ctx context.Context) (vnet.Config, error) {
	var out vnet.Config
	return out, c.do(ctx, "GET", "/api/v1/vnet/config", nil, nil, &out)
}

// ApplyVNetConfig replaces the whole configuration (see
// vnet.Manager.ApplyConfig): applying what is in effect changes nothing.
func (c *Client) ApplyVNetConfig(ctx context.Context, cfg vnet.Config) (vnet.ApplyResult, error) {
	var out vnet.ApplyResult
	return out, c.do(ctx, "PUT", "/api/v1/vnet/config", nil, cfg, &out)
}

// FloatingIPs lists the floating IPs.
func (c *Client) FloatingIPs(ctx context.Context) ([]vnet.FloatingIP, error) {
	return list[vnet.FloatingIP](c, ctx, "floating-ips")
}

// FloatingIP returns one floating IP, by its address.
func (c *Client) FloatingIP(ctx context.Context, ip string) (vnet.FloatingIP, error) {
	return get[vnet.FloatingIP](c, ctx, "floating-ips", ip)
}

// CreateFloatingIP gives an interface an address of an external network
// (chosen by the server when f.IP is empty) and returns it as stored.
func (c *Client) CreateFloatingIP(ctx context.Context, f vnet.FloatingIP) (vnet.FloatingIP, error) {
	return create(c, ctx, "floating-ips", f)
}

// UpdateFloatingIP replaces a floating IP (moves it to another interface).
func (c *Client) UpdateFloatingIP(ctx context.Context, ip string, f vnet.FloatingIP) (vnet.FloatingIP, error) {
	return replace(c, ctx, "floating-ips", ip, f)
}

// FloatingIPStats returns a floating IP's counters at its gateway.
func (c *Client) FloatingIPStats(ctx context.Context, ip string) (vnet.FloatingIPStats, error) {
	var out vnet.FloatingIPStats
	return out, c.do(ctx, "GET", objPath("floating-ips", ip)+"/stats", nil, nil, &out)
}

// DeleteFloatingIP deletes a floating IP and returns it.
func (c *Client) DeleteFloatingIP(ctx context.Context, ip string) (vnet.FloatingIP, error) {
	return remove[vnet.FloatingIP](c, ctx, "floating-ips", ip)
}
