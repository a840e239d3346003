package slackexport

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeArray decodes the JSON array read from r one element at a time, so
// that at most one element (up to maxElem bytes) is held in memory, and calls
// fn with each element's bytes and its byte offset in r. The bytes belong to
// fn. Errors of the input are *FormatError values without File; errors of fn
// are returned unchanged.
func decodeArray(r io.Reader, maxElem int64, fn func(raw json.RawMessage, off int64) error) error {
	er, _ := r.(*entryReader)
	if er != nil {
		er.markMax = maxElem
	}
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return &FormatError{Offset: 0, Err: fmt.Errorf("%w: empty file, want a JSON array", ErrMalformed)}
		}
		return inputError(dec, er, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return &FormatError{Offset: 0, Err: fmt.Errorf("%w: want a JSON array, found %v", ErrMalformed, tok)}
	}
	for dec.More() {
		if er != nil {
			er.mark = dec.InputOffset()
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return inputError(dec, er, err)
		}
		off := dec.InputOffset() - int64(len(raw))
		if int64(len(raw)) > maxElem {
			// entryReader stopped anything much larger before it was buffered.
			return &FormatError{Offset: off, Err: fmt.Errorf("%w: one element of %d bytes, limit %d", ErrTooLarge, len(raw), maxElem)}
		}
		if err := fn(raw, off); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return inputError(dec, er, err)
	}
	switch tok, err := dec.Token(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return inputError(dec, er, err)
	default:
		return &FormatError{Offset: dec.InputOffset(), Err: fmt.Errorf("%w: data after the array: %v", ErrMalformed, tok)}
	}
}

// inputError turns an error met while decoding into a positioned FormatError.
// er, when not nil, is the entry being decoded.
func inputError(dec *json.Decoder, er *entryReader, err error) error {
	off := dec.InputOffset()
	var (
		syn     *json.SyntaxError
		typ     *json.UnmarshalTypeError
		corrupt flate.CorruptInputError
	)
	switch {
	case errors.Is(err, ErrSizeMismatch) && er != nil:
		off = er.declared // where the entry should have ended
	case errors.Is(err, ErrTooLarge) && er != nil && er.markMax > 0 && er.n-er.mark > 2*er.markMax:
		off = er.mark // the start of the element that is too large
	case errors.Is(err, ErrSizeMismatch), errors.Is(err, ErrTooLarge):
		// From entryReader: already classified.
	case errors.As(err, &syn):
		off, err = syn.Offset, fmt.Errorf("%w: %w", ErrMalformed, err)
	case errors.As(err, &typ):
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	case err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("%w: unexpected end of file", ErrMalformed)
	case errors.Is(err, zip.ErrChecksum), errors.As(err, &corrupt):
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	default:
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &FormatError{Offset: off, Err: err}
}

// forEachElement runs decodeArray over entry f and names f in its errors.
func (e *Export) forEachElement(f *zip.File, fn func(raw json.RawMessage, off int64) error) error {
	r, err := e.openEntry(f)
	if err != nil {
		return err
	}
	defer r.Close()
	return e.locate(f, decodeArray(r, e.limits.MaxMessageSize, fn))
}

// locate fills in the entry name and line of a FormatError about f that
// lacks them. The line is found by reading f again up to the offset, which is
// cheap next to the import that the error stops.
func (e *Export) locate(f *zip.File, err error) error {
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != "" {
		return err
	}
	fe.File = f.Name
	if fe.Offset >= 0 && fe.Line == 0 {
		fe.Line = e.lineAt(f, fe.Offset)
	}
	return fe
}

// lineAt returns the 1-based line holding byte off of f, or 0 if f cannot be read.
func (e *Export) lineAt(f *zip.File, off int64) int {
	r, err := e.openEntry(f)
	if err != nil {
		return 0
	}
	defer r.Close()
	lr := io.LimitReader(r, off)
	line := 1
	buf := make([]byte, 32*kib)
	for {
		n, err := lr.Read(buf)
		line += bytes.Count(buf[:n], []byte{'\n'})
		if err == io.EOF {
			return line
		}
		if err != nil {
			return 0
		}
	}
}

// elementError positions an error from decoding the element at off.
func elementError(off int64, err error) *FormatError {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		// The default text names our internal struct; name the JSON field instead.
		if typ.Offset > 0 {
			off += typ.Offset
		}
		return &FormatError{Offset: off, Err: fmt.Errorf("%w: field %q is a JSON %s, want %s", ErrMalformed, typ.Field, typ.Value, typ.Type)}
	}
	return &FormatError{Offset: off, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
}
