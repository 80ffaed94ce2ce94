// Package openapi derives OpenAPI 3.0 schemas from the Go types the API
// encodes, by reflection, so that the document cannot drift from the
// JSON. The routes' table (summaries, parameters, roles) is the
// server's (web/openapi.go); this package only knows types.
package openapi

import (
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Schemas derives JSON schemas (OpenAPI 3.0) from Go types and collects
// the named ones (structs) for components/schemas.
type Schemas struct {
	schemas map[string]any
	names   map[reflect.Type]string
	special map[reflect.Type]map[string]any
	local   []string
}

// New returns a generator. special gives the schema of types whose JSON
// is not their Go shape (a number kept as a string, a custom
// marshaler); structs of the packages whose import paths end in one of
// local are named as they are (Switch), others with their package's
// name in front (TopologyDelta).
func New(special map[reflect.Type]map[string]any, local ...string) *Schemas {
	return &Schemas{schemas: map[string]any{}, names: map[reflect.Type]string{}, special: special, local: local}
}

// Components is components/schemas: every struct named so far.
func (g *Schemas) Components() map[string]any { return g.schemas }

var (
	timeType      = reflect.TypeOf(time.Time{})
	durationType  = reflect.TypeOf(time.Duration(0))
	rawType       = reflect.TypeOf(json.RawMessage(nil))
	marshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
)

// Schema is the schema of t (a $ref for structs).
func (g *Schemas) Schema(t reflect.Type) map[string]any {
	if s, ok := g.special[t]; ok {
		return s
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.Schema(t.Elem())
		if _, isRef := s["$ref"]; isRef {
			return map[string]any{"type": "object", "allOf": []any{s}, "nullable": true} // refs name structs
		}
		if _, typed := s["type"]; !typed {
			return s // any value already (nullable needs a type beside it)
		}
		out := map[string]any{"nullable": true}
		for k, v := range s {
			out[k] = v
		}
		return out
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": g.Schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.Schema(t.Elem())}
	case reflect.Struct:
		return g.Ref(t)
	case reflect.Interface:
		return map[string]any{}
	}
	if t.Implements(marshalerType) {
		return map[string]any{}
	}
	return map[string]any{}
}

// Ref names a struct type in components/schemas and returns a reference.
func (g *Schemas) Ref(t reflect.Type) map[string]any {
	name, ok := g.names[t]
	if !ok {
		name = t.Name()
		if pkg := t.PkgPath(); pkg != "" && !g.isLocal(pkg) {
			p := pkg[strings.LastIndex(pkg, "/")+1:]
			name = strings.ToUpper(p[:1]) + p[1:] + name
		}
		if name == "" {
			return g.object(t) // anonymous struct: inline
		}
		name = schemaName(name)
		for _, taken := g.schemas[name]; taken; _, taken = g.schemas[name] {
			name += "_"
		}
		g.names[t] = name
		g.schemas[name] = map[string]any{} // placeholder against recursion
		g.schemas[name] = g.object(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// object is the schema of a struct's JSON object: exported fields by
// their json names, embedded structs inlined as encoding/json does.
func (g *Schemas) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = g.Schema(f.Type)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		out["required"] = required
	}
	return out
}

var (
	typeArgPath = regexp.MustCompile(`[A-Za-z0-9_./-]*/`)
	notNameChar = regexp.MustCompile(`[^A-Za-z0-9]+`)
)

// schemaName turns a Go type name into a valid component name: generic
// instances such as Page[github.com/x/topology.Event] become PageTopologyEvent
// (a name with brackets or slashes breaks every $ref to it).
func schemaName(name string) string {
	if !strings.ContainsAny(name, "[]/.,* ") {
		return name
	}
	name = typeArgPath.ReplaceAllString(name, "")
	var b strings.Builder
	for _, part := range notNameChar.Split(name, -1) {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func (g *Schemas) isLocal(pkg string) bool {
	for _, l := range g.local {
		if strings.HasSuffix(pkg, l) {
			return true
		}
	}
	return false
}
