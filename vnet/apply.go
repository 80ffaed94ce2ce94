package vnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Formats of a configuration document (DecodeConfig, EncodeConfig).
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// DecodeConfig reads a whole configuration, as `satellite apply -f` and
// PUT /api/v1/vnet/config take it, in format FormatYAML or FormatJSON; ""
// detects it: a document whose first non-blank character is '{' is JSON,
// anything else is YAML. Decoding is strict: unknown fields, values of the
// wrong type, a second document or data after the JSON object are errors,
// with the line they are on. An empty document is an error too (the empty
// configuration, which removes every object, is written {}). DecodeConfig
// does not validate: call Validate.
func DecodeConfig(b []byte, format string) (Config, error) {
	trimmed := bytes.TrimSpace(b)
	if format == "" {
		format = FormatYAML
		if len(trimmed) > 0 && trimmed[0] == '{' {
			format = FormatJSON
		}
	}
	if len(trimmed) == 0 {
		return Config{}, errors.New("the configuration is empty; the empty configuration (which removes every object) is written {}")
	}
	switch format {
	case FormatJSON:
		return decodeJSON(b)
	case FormatYAML:
		return decodeYAML(b)
	default:
		return Config{}, fmt.Errorf("format %q: want yaml or json", format)
	}
}

const configWant = "want a mapping with datapaths, networks, interfaces, routers and security_groups"

func decodeJSON(b []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return Config{}, fmt.Errorf("line %d: not valid JSON: %v", lineOf(b, se.Offset), err)
		case errors.As(err, &te) && te.Field == "":
			return Config{}, fmt.Errorf("the document is a JSON %s; %s", te.Value, configWant)
		case errors.As(err, &te):
			return Config{}, fmt.Errorf("line %d: %s: got JSON %s, want %s", lineOf(b, te.Offset), te.Field, te.Value, goKind(te.Type.String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return Config{}, fmt.Errorf("line %d: unknown field %q", lineOf(b, dec.InputOffset()), name)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return Config{}, errors.New("not valid JSON: the document ends in the middle of a value")
		default:
			return Config{}, fmt.Errorf("not valid JSON: %v", err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Config{}, fmt.Errorf("line %d: data after the JSON object", lineOf(b, dec.InputOffset()))
	}
	return c, nil
}

// lineOf returns the line of a byte offset.
func lineOf(b []byte, off int64) int {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

func goKind(t string) string {
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "uint"):
		return "a whole number"
	case t == "[]string":
		return "a list of strings"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	default:
		return "an object"
	}
}

// yamlTypeNames turns the Go type names in yaml.v3's messages into words.
var (
	yamlUnknown  = regexp.MustCompile(`field (\S+) not found in type vnet\.(\w+)`)
	yamlIntoType = regexp.MustCompile(`into (\[\])?vnet\.(\w+)`)
)

var typeWords = map[string]string{
	"Config": "the configuration", "Datapath": "a datapath", "Network": "a network", "Interface": "an interface",
	"Router": "a router", "RouterInterface": "a router interface", "Route": "a route",
	"SecurityGroup": "a security group", "Rule": "a rule",
}

func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = yamlUnknown.ReplaceAllStringFunc(msg, func(s string) string {
		m := yamlUnknown.FindStringSubmatch(s)
		return fmt.Sprintf("unknown field %q in %s", m[1], typeWords[m[2]])
	})
	return yamlIntoType.ReplaceAllStringFunc(msg, func(s string) string {
		m := yamlIntoType.FindStringSubmatch(s)
		if m[1] != "" {
			return "into a list of " + strings.TrimPrefix(strings.TrimPrefix(typeWords[m[2]], "a "), "an ") + "s"
		}
		return "into " + typeWords[m[2]]
	})
}

func decodeYAML(b []byte) (Config, error) {
	// the shape first: one document, a mapping
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return Config{}, errors.New("the configuration is empty; the empty configuration (which removes every object) is written {}")
		}
		return Config{}, errors.New(yamlMessage(err))
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			return Config{}, errors.New(yamlMessage(err))
		}
		return Config{}, fmt.Errorf("line %d: a second YAML document; want one configuration", next.Line)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		line := doc.Line
		if len(doc.Content) > 0 {
			line = doc.Content[0].Line
		}
		return Config{}, fmt.Errorf("line %d: %s", line, configWant)
	}
	// then strictly into the configuration
	var c Config
	dec = yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, errors.New(yamlMessage(err))
	}
	return c, nil
}

// EncodeConfig writes c as YAML (FormatYAML, or "") or indented JSON
// (FormatJSON). Lists are never null, so the document shows every field
// that can be given.
func EncodeConfig(c Config, format string) ([]byte, error) {
	c = Normalized(c)
	switch format {
	case FormatJSON:
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(b, '\n'), nil
	case FormatYAML, "":
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(c); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	default:
		return nil, fmt.Errorf("format %q: want yaml or json", format)
	}
}

// Normalized returns a copy of c whose lists that are always shown
// (the top-level lists, router interfaces, security group rules) are
// empty rather than nil, so they encode as [] rather than null.
func Normalized(c Config) Config {
	c = cloneConfig(c)
	if c.Datapaths == nil {
		c.Datapaths = []Datapath{}
	}
	if c.Networks == nil {
		c.Networks = []Network{}
	}
	if c.Interfaces == nil {
		c.Interfaces = []Interface{}
	}
	if c.Routers == nil {
		c.Routers = []Router{}
	}
	if c.SecurityGroups == nil {
		c.SecurityGroups = []SecurityGroup{}
	}
	for i := range c.Routers {
		if c.Routers[i].Interfaces == nil {
			c.Routers[i].Interfaces = []RouterInterface{}
		}
	}
	for i := range c.SecurityGroups {
		if c.SecurityGroups[i].Rules == nil {
			c.SecurityGroups[i].Rules = []Rule{}
		}
	}
	return c
}

// KeepIDs gives every network, interface, router and security group of
// next that has no id (0) the id of the object of the same name in cur,
// unless next gives that id to another object, and every security group
// still without one the smallest free id. Applying a file written without
// ids therefore keeps the ids, MACs and flow cookies of the objects that
// did not change.
func KeepIDs(cur, next *Config) {
	keepIDs(cur.Networks, next.Networks, func(n *Network) (string, *uint32) { return n.Name, &n.ID })
	keepIDs(cur.Interfaces, next.Interfaces, func(in *Interface) (string, *uint32) { return in.Name, &in.ID })
	keepIDs(cur.Routers, next.Routers, func(r *Router) (string, *uint32) { return r.Name, &r.ID })
	keepIDs(cur.SecurityGroups, next.SecurityGroups, func(g *SecurityGroup) (string, *uint32) { return g.Name, &g.ID })
	AssignGroupIDs(next)
}

func keepIDs[T any](cur, next []T, key func(*T) (string, *uint32)) {
	used := map[uint32]bool{}
	for i := range next {
		if _, id := key(&next[i]); *id != 0 {
			used[*id] = true
		}
	}
	old := map[string]uint32{}
	for i := range cur {
		name, id := key(&cur[i])
		old[name] = *id
	}
	for i := range next {
		name, id := key(&next[i])
		if prev := old[name]; *id == 0 && prev != 0 && !used[prev] {
			*id = prev
			used[prev] = true
		}
	}
}

// AssignGroupIDs gives every security group without an id the smallest
// free one (Validate does not: the id only tells the groups' flows apart
// in their cookies).
func AssignGroupIDs(c *Config) {
	used := map[uint32]bool{}
	for _, g := range c.SecurityGroups {
		used[g.ID] = true
	}
	next := uint32(1)
	for i := range c.SecurityGroups {
		if c.SecurityGroups[i].ID != 0 {
			continue
		}
		for used[next] {
			next++
		}
		c.SecurityGroups[i].ID = next
		used[next] = true
	}
}

// Diff lists what changes from configuration a to b, object by object:
// "+ network net1" (added), "- router r1" (removed), "~ interface a1"
// (changed), datapaths first, then networks, security groups, interfaces
// and routers, each by name. Both should be validated: defaults filled in.
func Diff(a, b Config) []string {
	a, b = cloneConfig(a), cloneConfig(b) // empty lists become nil: [] and absent mean the same
	var out []string
	out = diffKind(out, "datapath", a.Datapaths, b.Datapaths, func(d Datapath) string { return d.Name })
	out = diffKind(out, "network", a.Networks, b.Networks, func(n Network) string { return n.Name })
	out = diffKind(out, "security group", a.SecurityGroups, b.SecurityGroups, func(g SecurityGroup) string { return g.Name })
	out = diffKind(out, "interface", a.Interfaces, b.Interfaces, func(in Interface) string { return in.Name })
	out = diffKind(out, "router", a.Routers, b.Routers, func(r Router) string { return r.Name })
	return out
}

func diffKind[T any](out []string, kind string, a, b []T, name func(T) string) []string {
	before := map[string]string{}
	for _, x := range a {
		before[name(x)] = canonical(x)
	}
	after := map[string]string{}
	for _, x := range b {
		after[name(x)] = canonical(x)
	}
	var names []string
	for n := range before {
		names = append(names, n)
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		x, inA := before[n]
		y, inB := after[n]
		switch {
		case !inA:
			out = append(out, "+ "+kind+" "+n)
		case !inB:
			out = append(out, "- "+kind+" "+n)
		case x != y:
			out = append(out, "~ "+kind+" "+n)
		}
	}
	return out
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Equal reports whether two validated configurations hold the same
// objects with the same settings.
func (c Config) Equal(o Config) bool { return len(Diff(c, o)) == 0 }

// ApplyResult is what ApplyConfig did.
type ApplyResult struct {
	// Revision is the configuration's revision after the apply.
	Revision uint64 `json:"revision"`
	// Changed is false when the configuration was already in effect: then
	// nothing was stored and the revision did not move.
	Changed bool `json:"changed"`
	// Changes lists the objects added (+), removed (-) and changed (~); see Diff.
	Changes []string `json:"changes"`
	// Config is the configuration in effect, with defaults filled in.
	Config Config `json:"-"`
}

var errUnchanged = errors.New("vnet: configuration unchanged")

// ApplyConfig replaces the whole configuration with c, declaratively:
// objects c gives without an id keep the one they have (KeepIDs), and
// applying a configuration that is already in effect stores nothing (the
// revision stays). The comparison and the store happen under the
// Manager's lock, in one Update.
func (m *Manager) ApplyConfig(c Config) (ApplyResult, error) {
	var res ApplyResult
	_, err := m.Update(func(cur *Config) error {
		next := cloneConfig(c)
		KeepIDs(cur, &next)
		check := cloneConfig(next)
		if err := check.Validate(); err != nil {
			return err
		}
		check.Sort()
		res.Changes = Diff(*cur, check)
		if len(res.Changes) == 0 {
			return errUnchanged
		}
		*cur = next
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
	case err != nil:
		return ApplyResult{}, err
	default:
		res.Changed = true
	}
	if res.Changes == nil {
		res.Changes = []string{}
	}
	res.Config, res.Revision = m.Config()
	return res, nil
}
