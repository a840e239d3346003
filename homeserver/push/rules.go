// Package push owns push rules (content/client-server-api/modules/push.md): the server-default
// rules, a user's rules on top of them, and the edits the push rules API makes. Unread counts,
// notifications and pushers will live here too.
//
// A user's rules are kept as their m.push_rules account data, {"global": ruleset}, which /sync
// sends to their clients; Effective rebuilds the ruleset from it with the current server-default
// rules, so that a server with newer defaults serves them to every user while keeping what each
// user changed (a default rule's enabled flag and actions, and their own rules).
package push

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/pushrules"

	"causeway/homeserver/mxerr"
)

// userPlaceholder stands for the user's ID in defaultRulesJSON.
const userPlaceholder = "@USER"

// defaultRulesJSON are the server-default rules of push.md, "Predefined Rules", in their
// order. .m.rule.master, first of the override rules, outranks the user's own rules; the others
// come after them.
const defaultRulesJSON = `{
"override": [
 {"rule_id": ".m.rule.master", "default": true, "enabled": false, "conditions": [], "actions": []},
 {"rule_id": ".m.rule.suppress_notices", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "content.msgtype", "pattern": "m.notice"}], "actions": []},
 {"rule_id": ".m.rule.invite_for_me", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.member"},
   {"kind": "event_match", "key": "content.membership", "pattern": "invite"},
   {"kind": "event_match", "key": "state_key", "pattern": "@USER"}],
  "actions": ["notify", {"set_tweak": "sound", "value": "default"}]},
 {"rule_id": ".m.rule.member_event", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.member"}], "actions": []},
 {"rule_id": ".m.rule.is_user_mention", "default": true, "enabled": true,
  "conditions": [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": "@USER"}],
  "actions": ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}]},
 {"rule_id": ".m.rule.is_room_mention", "default": true, "enabled": true,
  "conditions": [{"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": true},
   {"kind": "sender_notification_permission", "key": "room"}],
  "actions": ["notify", {"set_tweak": "highlight"}]},
 {"rule_id": ".m.rule.tombstone", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.tombstone"},
   {"kind": "event_match", "key": "state_key", "pattern": ""}],
  "actions": ["notify", {"set_tweak": "highlight"}]},
 {"rule_id": ".m.rule.reaction", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.reaction"}], "actions": []},
 {"rule_id": ".m.rule.room.server_acl", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.server_acl"},
   {"kind": "event_match", "key": "state_key", "pattern": ""}], "actions": []},
 {"rule_id": ".m.rule.suppress_edits", "default": true, "enabled": true,
  "conditions": [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}], "actions": []}
],
"content": [],
"room": [],
"sender": [],
"underride": [
 {"rule_id": ".m.rule.call", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.call.invite"}],
  "actions": ["notify", {"set_tweak": "sound", "value": "ring"}]},
 {"rule_id": ".m.rule.encrypted_room_one_to_one", "default": true, "enabled": true,
  "conditions": [{"kind": "room_member_count", "is": "2"}, {"kind": "event_match", "key": "type", "pattern": "m.room.encrypted"}],
  "actions": ["notify", {"set_tweak": "sound", "value": "default"}]},
 {"rule_id": ".m.rule.room_one_to_one", "default": true, "enabled": true,
  "conditions": [{"kind": "room_member_count", "is": "2"}, {"kind": "event_match", "key": "type", "pattern": "m.room.message"}],
  "actions": ["notify", {"set_tweak": "sound", "value": "default"}]},
 {"rule_id": ".m.rule.message", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.message"}], "actions": ["notify"]},
 {"rule_id": ".m.rule.encrypted", "default": true, "enabled": true,
  "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.encrypted"}], "actions": ["notify"]}
]}`

// Kinds are the kinds of rule, in the order they are checked.
var Kinds = []string{"override", "content", "room", "sender", "underride"}

// Ruleset is a user's rules by kind, in order, server-default and user-defined together: the
// shape of GET /pushrules/global/ and of m.push_rules's "global".
type Ruleset map[string][]*pushrules.PushRule

// defaults returns the server-default rules for user.
func defaults(user id.UserID) Ruleset {
	var rs Ruleset
	if err := json.Unmarshal([]byte(strings.ReplaceAll(defaultRulesJSON, userPlaceholder, string(user))), &rs); err != nil {
		panic(fmt.Sprintf("push: the default rules do not parse: %v", err))
	}
	return rs
}

// Effective rebuilds a user's ruleset from their stored m.push_rules content (nil for none):
// the current server-default rules with the enabled flag and actions the user gave them, and
// the user's own rules, before the defaults of their kind (after .m.rule.master).
func Effective(user id.UserID, stored json.RawMessage) Ruleset {
	var content struct {
		Global Ruleset `json:"global"`
	}
	if stored != nil {
		_ = json.Unmarshal(stored, &content) // content a client could not have written: defaults
	}
	out := defaults(user)
	changed := map[string]*pushrules.PushRule{}
	for _, kind := range Kinds {
		for _, r := range content.Global[kind] {
			if r != nil && r.Default {
				changed[kind+"/"+r.RuleID] = r
			}
		}
	}
	for _, kind := range Kinds {
		var own []*pushrules.PushRule
		for _, r := range content.Global[kind] {
			if r != nil && !r.Default {
				own = append(own, r)
			}
		}
		for _, r := range out[kind] {
			if c := changed[kind+"/"+r.RuleID]; c != nil {
				r.Enabled, r.Actions = c.Enabled, c.Actions
			}
		}
		at := 0
		if kind == "override" {
			at = 1 // .m.rule.master outranks everything
		}
		out[kind] = slices.Insert(out[kind], min(at, len(out[kind])), own...)
	}
	return out
}

// Content is the m.push_rules account data content of a ruleset.
func (rs Ruleset) Content() json.RawMessage {
	raw, _ := json.Marshal(map[string]Ruleset{"global": rs})
	return raw
}

// Find returns a rule of a kind by ID, or M_NOT_FOUND.
func (rs Ruleset) Find(kind, ruleID string) (*pushrules.PushRule, error) {
	if !slices.Contains(Kinds, kind) {
		return nil, mxerr.InvalidParam.WithMessage("unknown rule kind %q", kind)
	}
	for _, r := range rs[kind] {
		if r.RuleID == ruleID {
			return r, nil
		}
	}
	return nil, mxerr.NotFound.WithMessage("no %s push rule %q", kind, ruleID)
}

// wireRule is a rule as clients receive it (push_rule.yaml): override and underride rules
// always carry their conditions, an empty list included. mautrix's own encoding drops what a
// client needs: an event_match pattern that is "" (.m.rule.tombstone's state_key) and a
// highlight tweak without a value, which it writes as "value": null (false to some clients).
type wireRule struct {
	RuleID     string            `json:"rule_id"`
	Default    bool              `json:"default"`
	Enabled    bool              `json:"enabled"`
	Actions    []any             `json:"actions"`
	Conditions *[]map[string]any `json:"conditions,omitempty"`
	Pattern    string            `json:"pattern,omitempty"`
}

// Wire returns a rule of a kind as clients receive it.
func Wire(kind string, r *pushrules.PushRule) any {
	w := wireRule{RuleID: r.RuleID, Default: r.Default, Enabled: r.Enabled, Actions: wireActions(r.Actions), Pattern: r.Pattern}
	if kind == "override" || kind == "underride" {
		conditions := wireConditions(r.Conditions)
		w.Conditions = &conditions
	}
	return w
}

// wireActions writes actions as the spec has them: a string, or a tweak whose value is left
// out when it has none.
func wireActions(actions pushrules.PushActionArray) []any {
	out := []any{}
	for _, a := range actions {
		if a.Action != pushrules.ActionSetTweak {
			out = append(out, string(a.Action))
			continue
		}
		tweak := map[string]any{"set_tweak": a.Tweak}
		if a.Value != nil {
			tweak["value"] = a.Value
		}
		out = append(out, tweak)
	}
	return out
}

// wireConditions writes conditions with the fields their kind has, an empty pattern included.
func wireConditions(conditions []*pushrules.PushCondition) []map[string]any {
	out := []map[string]any{}
	for _, c := range conditions {
		m := map[string]any{"kind": c.Kind}
		if c.Key != "" {
			m["key"] = c.Key
		}
		switch c.Kind {
		case pushrules.KindEventMatch, pushrules.KindRelatedEventMatch:
			m["pattern"] = c.Pattern
		case pushrules.KindEventPropertyIs, pushrules.KindEventPropertyContains:
			m["value"] = c.Value
		case pushrules.KindRoomMemberCount:
			m["is"] = c.MemberCountCondition
		}
		if c.RelType != "" {
			m["rel_type"] = c.RelType
		}
		out = append(out, m)
	}
	return out
}

// MarshalJSON writes every kind, each rule as Wire has it.
func (rs Ruleset) MarshalJSON() ([]byte, error) {
	out := make(map[string][]any, len(Kinds))
	for _, kind := range Kinds {
		out[kind] = []any{}
		for _, r := range rs[kind] {
			out[kind] = append(out[kind], Wire(kind, r))
		}
	}
	return json.Marshal(out)
}
