package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"unicode/utf8"

	"causeway/homeserver/mxerr"
)

// errWrite marks a failure to write a response that had already started.
var errWrite = errors.New("write response")

// WriteJSON writes v as a JSON response with the given status and Content-Type
// application/json. It encodes v before writing anything, so an encoding error leaves the
// response untouched and can still be answered with an error. HTML characters are not
// escaped: Matrix clients are not browsers parsing HTML.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("%w: %w", errWrite, err)
	}
	return nil
}

// ReadJSON reads r's body, at most maxBytes of it, and decodes it into into, which must be a
// non-nil pointer. The body must be a JSON object encoded as UTF-8 (the "API standards" of
// content/client-server-api/_index.md). Unknown fields are ignored, since Matrix is
// extensible. Its errors are protocol answers:
//
//   - a body larger than maxBytes: M_TOO_LARGE (413);
//   - an empty body, or one that is not valid UTF-8 or not valid JSON: M_NOT_JSON;
//   - valid JSON that is not an object, or holds a value of the wrong type: M_BAD_JSON, with a
//     message naming the field.
//
// Checking required fields and values is left to the caller (mxerr.MissingParam,
// mxerr.InvalidParam, mxerr.BadJSON).
func ReadJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, into any) error {
	if maxBytes <= 0 {
		return fmt.Errorf("ReadJSON: maxBytes is %d, must be positive", maxBytes)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return mxerr.NotJSON.WithMessage("Request body is empty, expected a JSON object")
	}
	body, err := readBody(w, r, maxBytes)
	if err != nil {
		return err
	}
	return decodeJSONObject(body, into)
}

// readBody reads the whole body, at most maxBytes of it.
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, mxerr.TooLarge.WithMessage("Request body is larger than %d bytes", maxBytes)
	case err != nil:
		// Usually a client that hung up or sent a truncated body.
		return nil, mxerr.NotJSON.WithMessage("Could not read the request body")
	}
	return body, nil
}

// ReadOptionalJSON is ReadJSON for endpoints whose body is entirely optional: no body at all,
// and a body of JSON null (which mautrix-go sends for an omitted request struct), leave into
// untouched.
func ReadOptionalJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, into any) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := readBody(w, r, maxBytes)
	if err != nil {
		return err
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || string(trimmed) == "null" {
		return nil
	}
	return decodeJSONObject(body, into)
}

func decodeJSONObject(body []byte, into any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return mxerr.NotJSON.WithMessage("Request body is empty, expected a JSON object")
	case !utf8.Valid(body):
		return mxerr.NotJSON.WithMessage("Request body is not valid UTF-8")
	case !json.Valid(body):
		var syntax *json.SyntaxError
		if err := json.Unmarshal(body, new(json.RawMessage)); errors.As(err, &syntax) {
			return mxerr.NotJSON.WithMessage("Request body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset)
		}
		return mxerr.NotJSON.WithMessage("Request body is not valid JSON")
	case trimmed[0] != '{':
		return mxerr.BadJSON.WithMessage("Request body must be a JSON object")
	}

	err := json.Unmarshal(body, into)
	var (
		typeErr    *json.UnmarshalTypeError
		invalidErr *json.InvalidUnmarshalError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &invalidErr):
		return fmt.Errorf("decode request body: %w", err) // the caller's bug, not the client's
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return mxerr.BadJSON.WithMessage("Request body must be %s", jsonKind(typeErr.Type))
	case errors.As(err, &typeErr):
		return mxerr.BadJSON.WithMessage("Field %q must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	default:
		// A custom UnmarshalJSON (an mautrix type, say) refused a value.
		return mxerr.BadJSON.WithMessage("Request body is invalid: %v", err)
	}
}

// jsonKind names the JSON type that decodes into t, for error messages.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	default:
		return "a different type"
	}
}
