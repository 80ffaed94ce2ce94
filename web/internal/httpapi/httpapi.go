// Package httpapi is what every handler package of the API shares: the
// error that carries its HTTP status, the handler signature, JSON
// answers, query-string checks and the router handlers register on.
// The server (package web) turns an Error into the API's error document
// (api.Error) and wraps every route in its security layers.
package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Error is an error with its HTTP status and, when it is about one
// request parameter or body field, that field's name.
type Error struct {
	Status int
	Msg    string
	Field  string
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an Error with status, field and a formatted message.
func Errorf(status int, field, format string, args ...any) *Error {
	return &Error{Status: status, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// HandlerFunc is an API handler: it writes its answer, or returns an
// error that the server writes as the error document (an *Error keeps
// its status; anything else is a 500).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Router is where handler packages register their routes: patterns as
// http.ServeMux takes them ("GET /api/v1/audit/{dpid}").
type Router interface {
	Handle(pattern string, h HandlerFunc)
}

// WriteJSON answers v as JSON with status; API answers are never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Query parses the query string, refusing parameters not in allowed and
// parameters given twice.
func Query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "", "malformed query string: %v", err)
	}
	for k, v := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			if len(allowed) == 0 {
				return nil, Errorf(http.StatusBadRequest, k, "unknown query parameter %q (this route takes none)", k)
			}
			return nil, Errorf(http.StatusBadRequest, k, "unknown query parameter %q (want %s)", k, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return nil, Errorf(http.StatusBadRequest, k, "query parameter %q given %d times", k, len(v))
		}
	}
	return q, nil
}

// Get is the handler of a route that takes no query parameters and
// answers one document: ready says whether the subsystem behind it is
// there (its error, such as a 503, is the answer when it is not), then
// read gives the document.
func Get(ready func() error, read func() any) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := ready(); err != nil {
			return err
		}
		if _, err := Query(r); err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, read())
		return nil
	}
}
