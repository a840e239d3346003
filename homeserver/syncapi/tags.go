package syncapi

import (
	"context"
	"encoding/json"
	"errors"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/storage"
)

// Room tags (content/client-server-api/modules/tags.md) are a user's m.tag room account data,
// {"tags": {tag: {"order": …}}}, which these methods change one tag at a time
// (data/api/client-server/tags.yaml). Other keys of the content are kept.

// Tags returns a user's tags on a room, by name; none when the room has no m.tag.
func (s *Service) Tags(ctx context.Context, userID id.UserID, roomID id.RoomID) (map[string]json.RawMessage, error) {
	d, err := s.db.AccountDataOf(ctx, userID, roomID, event.AccountDataRoomTags.Type)
	if errors.Is(err, storage.ErrNotFound) {
		return map[string]json.RawMessage{}, nil
	} else if err != nil {
		return nil, err
	}
	_, tags := splitTags(d.Content)
	return tags, nil
}

// SetTag adds a tag to a room, or replaces its data: a JSON object whose order, when present,
// is a number.
func (s *Service) SetTag(ctx context.Context, userID id.UserID, roomID id.RoomID, tag string, data json.RawMessage) error {
	var fields struct {
		Order *json.RawMessage `json:"order"`
	}
	if err := json.Unmarshal(data, &fields); err != nil {
		return mxerr.BadJSON.WithMessage("a tag's data must be a JSON object")
	}
	var order float64
	if fields.Order != nil && json.Unmarshal(*fields.Order, &order) != nil {
		return mxerr.InvalidParam.WithMessage("a tag's order must be a number")
	}
	return s.changeTags(ctx, userID, roomID, func(tags map[string]json.RawMessage) { tags[tag] = data })
}

// DeleteTag removes a tag from a room; removing a tag the room does not have changes nothing.
func (s *Service) DeleteTag(ctx context.Context, userID id.UserID, roomID id.RoomID, tag string) error {
	return s.changeTags(ctx, userID, roomID, func(tags map[string]json.RawMessage) { delete(tags, tag) })
}

// changeTags applies change to a room's tags and stores the new m.tag.
func (s *Service) changeTags(ctx context.Context, userID id.UserID, roomID id.RoomID, change func(map[string]json.RawMessage)) error {
	return s.updateAccountData(ctx, userID, roomID, event.AccountDataRoomTags.Type, func(current json.RawMessage) (json.RawMessage, error) {
		content, tags := splitTags(current)
		change(tags)
		raw, err := json.Marshal(tags)
		if err != nil {
			return nil, err
		}
		content["tags"] = raw
		return json.Marshal(content)
	})
}

// splitTags reads an m.tag content into its keys and its tags. Content a client wrote in
// another shape reads as no tags.
func splitTags(content json.RawMessage) (map[string]json.RawMessage, map[string]json.RawMessage) {
	var fields, tags map[string]json.RawMessage
	_ = json.Unmarshal(content, &fields)
	if raw, ok := fields["tags"]; ok {
		_ = json.Unmarshal(raw, &tags)
	}
	if fields == nil {
		fields = map[string]json.RawMessage{}
	}
	if tags == nil {
		tags = map[string]json.RawMessage{}
	}
	return fields, tags
}

// carriedOver are the room account data types that follow a user into the replacement of an
// upgraded room (room_upgrades.md: "personalized settings such as notifications, tags").
var carriedOver = []string{event.AccountDataRoomTags.Type}

// CarryOverRoomSettings copies a user's tags from the room an upgraded room replaced, when
// they join the replacement and have none there yet.
func (s *Service) CarryOverRoomSettings(ctx context.Context, userID id.UserID, roomID id.RoomID) error {
	predecessor, err := s.rooms.Predecessor(ctx, roomID)
	if err != nil || predecessor == "" {
		return err
	}
	for _, typ := range carriedOver {
		old, err := s.db.AccountDataOf(ctx, userID, predecessor, typ)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		err = s.updateAccountData(ctx, userID, roomID, typ, func(current json.RawMessage) (json.RawMessage, error) {
			if current != nil {
				return nil, nil // the user has settings there already
			}
			return old.Content, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
