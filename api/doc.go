// Package api holds the JSON documents of Satellite's HTTP API: the
// server (package web and its handler packages) encodes them and the
// client (web/client) decodes into the same types, so the two cannot
// drift. It imports the packages whose values appear in the documents
// (topology deltas, alert rules, virtual-network objects) and nothing
// of the server.
package api
