package web

import (
	"net/http"

	"causeway/homeserver/mxerr"
)

// NotFound answers a request for an endpoint that does not exist with M_UNRECOGNIZED 404, as the
// code's definition in content/client-server-api/_index.md requires. Set it as the router's
// NotFound handler.
func NotFound(w http.ResponseWriter, r *http.Request) {
	_ = writeRespError(w, mxerr.Unrecognized.WithMessage("Unrecognized request"))
}

// MethodNotAllowed answers a request for a known path with a method it does not support with
// M_UNRECOGNIZED 405. Set it as the router's MethodNotAllowed handler.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	_ = writeRespError(w, mxerr.UnrecognizedMethod.WithMessage("Unrecognized request"))
}
