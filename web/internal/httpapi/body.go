package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// DecodeBody decodes a JSON object strictly into v: no unknown fields, no
// trailing data, at most the size limit. example is a valid body, shown
// in the errors.
func DecodeBody(r *http.Request, v any, example string) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return Errorf(http.StatusRequestEntityTooLarge, "", "request body exceeds the limit of %d bytes", mbe.Limit)
		}
		return Errorf(http.StatusBadRequest, "", "reading request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Errorf(http.StatusBadRequest, "", "request body is empty; want a JSON object such as %s", example)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return Errorf(http.StatusBadRequest, "", "request body is not valid JSON (at byte %d): %v", se.Offset, err)
		case errors.As(err, &te) && te.Field != "":
			return Errorf(http.StatusBadRequest, te.Field, "%s: got JSON %s, want %s", te.Field, te.Value, JSONKind(te.Type.String()))
		case errors.As(err, &te):
			return Errorf(http.StatusBadRequest, "", "request body is a JSON %s; want an object such as %s", te.Value, example)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return Errorf(http.StatusBadRequest, name, "unknown field %q in request body; want an object such as %s", name, example)
		default:
			return Errorf(http.StatusBadRequest, "", "request body is not valid JSON: %v", err)
		}
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "", "request body has data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(http.StatusBadRequest, "", "request body has data after the JSON object")
	}
	return nil
}

// JSONKind says in words what JSON a Go type of a field wants ("a
// whole number from 0 to 4294967295"), for errors about a body.
func JSONKind(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "string":
		return "a string"
	case "uint32":
		return "a whole number from 0 to 4294967295"
	default:
		return goType
	}
}
