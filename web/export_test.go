package web

import "net/http"

// HandleForTest adds a route, for tests of the middleware.
func (s *Server) HandleForTest(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }
