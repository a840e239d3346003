package syncapi

import (
	"context"
	"encoding/json"
	"errors"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/push"
	"causeway/homeserver/storage"
)

// A user's push rules are their m.push_rules global account data, which the server alone
// writes (serverManaged); push.Effective merges what is stored with the current server-default
// rules wherever it is read: the push rules API, GET account_data, and /sync, whose initial
// response carries the defaults for a user who never changed a rule.

// pushRulesType is the account data type of push rules.
var pushRulesType = event.AccountDataPushRules.Type

// PushRules returns a user's push rules.
func (s *Service) PushRules(ctx context.Context, userID id.UserID) (push.Ruleset, error) {
	d, err := s.db.AccountDataOf(ctx, userID, "", pushRulesType)
	if errors.Is(err, storage.ErrNotFound) {
		return push.Effective(userID, nil), nil
	} else if err != nil {
		return nil, err
	}
	return push.Effective(userID, d.Content), nil
}

// ChangePushRules applies change to a user's push rules and stores them, in one transaction;
// nothing is stored when change fails.
func (s *Service) ChangePushRules(ctx context.Context, userID id.UserID, change func(push.Ruleset) error) error {
	return s.updateAccountData(ctx, userID, "", pushRulesType, func(current json.RawMessage) (json.RawMessage, error) {
		rs := push.Effective(userID, current)
		if err := change(rs); err != nil {
			return nil, err
		}
		return rs.Content(), nil
	})
}

// withPushRules makes the push rules of a sync's global account data effective, and adds them
// to an initial (or full_state) sync of a user who has none stored.
func withPushRules(userID id.UserID, w *accountDataWindow) {
	found := false
	for i, d := range w.global {
		if d.Type == pushRulesType {
			w.global[i].Content = push.Effective(userID, d.Content).Content()
			found = true
		}
	}
	if !found && w.all {
		w.global = append(w.global, storage.AccountData{UserID: userID, Type: pushRulesType, Content: push.Effective(userID, nil).Content()})
	}
}
