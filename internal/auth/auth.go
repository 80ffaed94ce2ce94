// Package auth holds the credentials of Satellite's HTTP API: roles, the
// bearer tokens (kept hashed in a bbolt file next to the state file) and
// the audit log of every state-changing request.
//
// The HTTP side (authenticate, authorize, admit, audit) is in package web;
// this package only knows who is who and what was done.
package auth

import (
	"context"
	"fmt"
	"strings"
)

// Role is what an identity may do. Each role includes the ones below it.
type Role int

// Roles, lowest first.
const (
	// RoleNone is an anonymous caller: only the open paths.
	RoleNone Role = iota
	// RoleViewer reads everything and follows the stream.
	RoleViewer
	// RoleOperator also programs flows, runs traces, imports snapshots
	// and edits alert rules.
	RoleOperator
	// RoleAdmin also changes virtual networks, tokens and the
	// configuration, and reads the audit log.
	RoleAdmin
)

// Roles are the names of the roles a token can have, lowest first.
var Roles = []string{"viewer", "operator", "admin"}

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	default:
		return "none"
	}
}

// ParseRole reads a role name (viewer, operator or admin).
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "viewer":
		return RoleViewer, nil
	case "operator":
		return RoleOperator, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("role %q: want viewer, operator or admin", s)
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	if string(b) == "none" {
		*r = RoleNone
		return nil
	}
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Identity is who made a request.
type Identity struct {
	// Name is the token's or certificate's name ("" when anonymous).
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Via says how the caller proved it: token (Authorization: Bearer),
	// cookie (the UI's login), certificate (TLS client certificate),
	// open (a server without authentication) or none.
	Via string `json:"via"`
}

// Anonymous is a caller without credentials.
var Anonymous = Identity{Role: RoleNone, Via: "none"}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity of the request of ctx (Anonymous when
// none was set).
func FromContext(ctx context.Context) Identity {
	if id, ok := ctx.Value(ctxKey{}).(Identity); ok {
		return id
	}
	return Anonymous
}
