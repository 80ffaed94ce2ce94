package api

import "github.com/satellite-sdn/satellite/internal/auth"

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name    string    `json:"name"`
	Role    auth.Role `json:"role"`
	Replace bool      `json:"replace,omitempty"`
}

// CreatedToken answers POST /api/v1/tokens: the secret is shown only here.
type CreatedToken struct {
	Token  auth.Token `json:"token"`
	Secret string     `json:"secret"`
}
