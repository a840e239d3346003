package fakeslack

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Slack pages lists with an opaque "cursor" and a "limit"; the answer's
// response_metadata.next_cursor is "" on the last page. Slack's cursors are base64 text
// such as "dXNlcjpVMDYxTkZUVDI=" ("user:U061NFTT2"); the fake's are too.

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// paginate returns the page of items that the call's "limit" and "cursor" select, and the
// cursor of the next page.
func paginate[T any](c *call, items []T) ([]T, string, error) {
	limit, err := pageLimit(c)
	if err != nil {
		return nil, "", err
	}
	offset := 0
	if c.param("cursor") != "" {
		value, ok := decodeCursor(c.param("cursor"), "offset")
		if !ok {
			return nil, "", errInvalidCursor
		}
		if offset, err = strconv.Atoi(value); err != nil || offset < 0 || offset > len(items) {
			return nil, "", errInvalidCursor
		}
	}
	end := min(offset+limit, len(items))
	next := ""
	if end < len(items) {
		next = encodeCursor("offset", strconv.Itoa(end))
	}
	return items[offset:end], next, nil
}

// pageLimit reads "limit": absent or 0 means the default, and more than the maximum means
// the maximum, as Slack does.
func pageLimit(c *call) (int, error) {
	if c.param("limit") == "" {
		return defaultPageSize, nil
	}
	limit, err := strconv.Atoi(c.param("limit"))
	if err != nil || limit < 0 {
		return 0, errInvalidArguments
	}
	if limit == 0 {
		return defaultPageSize, nil
	}
	return min(limit, maxPageSize), nil
}

func encodeCursor(kind, value string) string {
	return base64.StdEncoding.EncodeToString([]byte(kind + ":" + value))
}

// decodeCursor returns the value of a cursor made by encodeCursor with the same kind.
func decodeCursor(cursor, kind string) (string, bool) {
	data, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(data), kind+":")
}
