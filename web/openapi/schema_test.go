package openapi

import (
	"reflect"
	"testing"
	"time"
)

type inner struct {
	N int `json:"n"`
}

type outer struct {
	Name  string            `json:"name"`
	When  time.Time         `json:"when"`
	Opt   *inner            `json:"opt,omitempty"`
	List  []inner           `json:"list"`
	Tags  map[string]string `json:"tags,omitempty"`
	Skip  string            `json:"-"`
	Dur   myDur             `json:"dur"`
	inner                   // embedded: its fields are inlined
}

type myDur int64

func TestSchemas(t *testing.T) {
	g := New(map[reflect.Type]map[string]any{reflect.TypeOf(myDur(0)): {"type": "string"}}, "/openapi")
	ref := g.Schema(reflect.TypeOf(outer{}))
	if ref["$ref"] != "#/components/schemas/outer" {
		t.Fatalf("ref = %v", ref)
	}
	o := g.Components()["outer"].(map[string]any)
	props := o["properties"].(map[string]any)
	for _, name := range []string{"name", "when", "opt", "list", "tags", "dur", "n"} {
		if _, ok := props[name]; !ok {
			t.Errorf("property %s missing: %v", name, props)
		}
	}
	if _, ok := props["Skip"]; ok {
		t.Error(`json:"-" field documented`)
	}
	if props["when"].(map[string]any)["format"] != "date-time" || props["dur"].(map[string]any)["type"] != "string" {
		t.Errorf("when %v, dur %v", props["when"], props["dur"])
	}
	if opt := props["opt"].(map[string]any); opt["nullable"] != true {
		t.Errorf("pointer field not nullable: %v", opt)
	}
	if got := o["required"]; !reflect.DeepEqual(got, []string{"dur", "list", "n", "name", "when"}) {
		t.Errorf("required = %v", got)
	}
	// a type of another package is named with that package in front
	g2 := New(nil, "/nothing")
	if r := g2.Ref(reflect.TypeOf(time.Time{})); r["$ref"] != "#/components/schemas/TimeTime" {
		t.Errorf("foreign struct ref = %v", r)
	}
}
