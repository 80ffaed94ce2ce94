package api

// The paths of routes the client needs by name.

// AuditPath is the flow audit's route.
const AuditPath = "/api/v1/audit"

// TracePath answers "why can't A reach B?": a packet trace through the
// switches' flow tables (diagnostics.Tracer).
const TracePath = "/api/v1/trace"

// OpenAPIPath serves the OpenAPI document of the API.
const OpenAPIPath = "/api/openapi.json"

// StreamPath is the route of the websocket stream.
const StreamPath = "/api/v1/stream"

// MaxPageLimit is the largest limit a page may ask for.
const MaxPageLimit = 1_000_000

// RulesPath is where the alert rules are.
const RulesPath = "/api/v1/alerts/rules"
