package slackexport

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// inMemoryDayFile is the size up to which a day file is read once, its
// elements' bytes held and sorted, then decoded one by one. Nearly all day
// files are far smaller. Larger ones are read twice (validate, then emit) so
// that memory holds one message.
const inMemoryDayFile = 1 * mib

// Messages streams the messages of conv to fn in ts order and returns fn's
// first error unchanged, ctx's error if it ends, or a *FormatError.
//
// The order is by ts across the whole conversation. Day files are read in
// date order; a thread reply sits in the day file of its own ts, so a thread's
// root always comes before its replies, even when they span days. A day file
// out of ts order is sorted in memory (up to Limits.MaxSortBuffer bytes);
// messages out of order across day files are an ErrUnsorted error, because
// repairing that would need the whole conversation in memory.
//
// Each day file is validated whole before any of its messages reaches fn, so
// a malformed file produces an error and no message from that file; fn never
// sees a partly decoded message. Messages that refer to users missing from
// users.json are passed on and collected for UnknownUsers.
//
// A conversation without a folder has no messages: Messages returns nil
// without calling fn.
func (e *Export) Messages(ctx context.Context, conv Conversation, fn func(Message) error) error {
	return e.messages(ctx, conv, &e.unknown, fn)
}

func (e *Export) messages(ctx context.Context, conv Conversation, unknown *unknownUsers, fn func(Message) error) error {
	i, ok := e.convByID[conv.ID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownConversation, conv.ID)
	}
	c := e.convs[i]
	if e.folderOwners[c.Folder] > 1 {
		return entryError(e.prefix+c.Folder+"/", fmt.Errorf("%w: %s is one of them", ErrAmbiguousFolder, c.ID))
	}
	var lastTS TS // of the last message passed to fn
	var lastFile string
	for _, day := range e.days[c.Folder] {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := e.dayMessages(ctx, day, func(first Message) error {
			if lastTS != "" && first.TS.Compare(lastTS) < 0 {
				return &FormatError{Offset: first.Offset, Err: fmt.Errorf(
					"%w: ts %s is earlier than ts %s, the last of %s", ErrUnsorted, first.TS, lastTS, lastFile)}
			}
			return nil
		}, func(m Message) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			unknown.note(&m, e.knownUser)
			lastTS, lastFile = m.TS, m.File
			return fn(m)
		})
		if err != nil {
			return e.locate(day.f, err)
		}
	}
	return nil
}

// dayMessages validates day file d, calls check with its earliest message,
// then calls emit with every message in ts order. Errors of check are
// positioned in d.
func (e *Export) dayMessages(ctx context.Context, d dayFile, check, emit func(Message) error) error {
	name := d.f.Name
	size := int64(d.f.UncompressedSize64)
	if size <= inMemoryDayFile {
		elems, err := e.loadDay(ctx, d)
		if err != nil {
			return err
		}
		return emitAll(name, elems, check, emit)
	}

	// Pass 1: validate everything and check the order, holding nothing.
	var first Message
	sorted, n := true, 0
	var prev TS
	err := e.forEachElement(d.f, func(raw json.RawMessage, off int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := decodeMessage(raw, off)
		if err != nil {
			return err
		}
		if n == 0 {
			first = m
		} else if m.TS.Compare(prev) < 0 {
			sorted = false
		}
		prev = m.TS
		n++
		return nil
	})
	if err != nil || n == 0 {
		return err
	}
	if !sorted {
		if size > e.limits.MaxSortBuffer {
			return entryError(name, fmt.Errorf("%w: day file of %d bytes is unsorted and over the %d-byte sort buffer",
				ErrUnsorted, size, e.limits.MaxSortBuffer))
		}
		elems, err := e.loadDay(ctx, d)
		if err != nil {
			return err
		}
		return emitAll(name, elems, check, emit)
	}
	first.File = name
	if err := check(first); err != nil {
		return err
	}

	// Pass 2: emit one message at a time.
	return e.forEachElement(d.f, func(raw json.RawMessage, off int64) error {
		m, err := decodeMessage(raw, off)
		if err != nil {
			return err // the entry changed under us
		}
		m.File = name
		return emit(m)
	})
}

// element is a validated message of a day file held in memory. Only its
// bytes are kept: a decoded Message takes several times more room.
type element struct {
	ts  TS
	off int64
	raw json.RawMessage
}

// loadDay validates day file d, holding its elements, sorted by ts.
func (e *Export) loadDay(ctx context.Context, d dayFile) ([]element, error) {
	var elems []element
	err := e.forEachElement(d.f, func(raw json.RawMessage, off int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := decodeMessage(raw, off)
		if err != nil {
			return err
		}
		elems = append(elems, element{ts: m.TS, off: off, raw: raw})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Stable, so that messages sharing a ts keep their file order.
	slices.SortStableFunc(elems, func(a, b element) int { return a.ts.Compare(b.ts) })
	return elems, nil
}

// emitAll decodes the validated elems of day file name again, one at a time.
func emitAll(name string, elems []element, check, emit func(Message) error) error {
	for i, el := range elems {
		m, err := decodeMessage(el.raw, el.off)
		if err != nil {
			return err // not reached: loadDay decoded the same bytes
		}
		m.File = name
		if i == 0 {
			if err := check(m); err != nil {
				return err
			}
		}
		if err := emit(m); err != nil {
			return err
		}
		elems[i] = element{} // let the collector have it
	}
	return nil
}
