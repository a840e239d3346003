// Package web is the HTTP plumbing shared by the client-server API, the media API and the
// federation API: the handler adapter that is the only place an error becomes a JSON response
// (Wrap, WriteError), JSON bodies in and out, URL-unescaped path parameters, access-token
// extraction, CORS, rate limiting, request IDs and the slog handler that tags log records with
// them, and the M_UNRECOGNIZED answers for unknown endpoints.
//
// It knows Matrix only as far as the "API standards" of content/client-server-api/_index.md
// go. Routes, authentication (which token belongs to which device), and endpoint logic belong
// to the API packages; web must not import them, nor storage or domain packages: callers map
// their own sentinel errors with an ErrorMapper.
package web
