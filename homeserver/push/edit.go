package push

import (
	"cmp"
	"slices"
	"strings"

	"maunium.net/go/mautrix/pushrules"

	"causeway/homeserver/mxerr"
)

// RuleBody is the body of PUT /pushrules/global/{kind}/{ruleId}
// (data/api/client-server/pushrules.yaml).
type RuleBody struct {
	Actions    pushrules.PushActionArray  `json:"actions"`
	Conditions []*pushrules.PushCondition `json:"conditions"`
	Pattern    *string                    `json:"pattern"`
}

// PutRule adds a user-defined rule, or changes one, which keeps its place and its enabled flag.
// before or after, when given, name the user-defined rule of the same kind that the rule goes
// just before or after; a new rule without them becomes the kind's most important user rule.
func (rs Ruleset) PutRule(kind, ruleID string, body RuleBody, before, after string) error {
	rule, err := newRule(kind, ruleID, body)
	if err != nil {
		return err
	}
	own := rs.own(kind)
	at := slices.IndexFunc(own, func(r *pushrules.PushRule) bool { return r.RuleID == ruleID })
	if at >= 0 {
		rule.Enabled = own[at].Enabled
		own = slices.Delete(own, at, at+1)
	} else {
		at = 0
	}
	if anchor := cmp.Or(before, after); anchor != "" {
		i := slices.IndexFunc(own, func(r *pushrules.PushRule) bool { return r.RuleID == anchor })
		if i < 0 {
			return mxerr.Unknown.WithStatus(400).WithMessage("before/after rule not found: %s", anchor)
		}
		at = i
		if before == "" {
			at = i + 1
		}
	}
	rs.setOwn(kind, slices.Insert(own, at, rule))
	return nil
}

// DeleteRule removes a user-defined rule; server-default rules can only be disabled.
func (rs Ruleset) DeleteRule(kind, ruleID string) error {
	rule, err := rs.Find(kind, ruleID)
	if err != nil {
		return err
	}
	if rule.Default {
		return mxerr.InvalidParam.WithMessage("server-default rule %s cannot be deleted; disable it instead", ruleID)
	}
	rs.setOwn(kind, slices.DeleteFunc(rs.own(kind), func(r *pushrules.PushRule) bool { return r.RuleID == ruleID }))
	return nil
}

// newRule checks a rule's ID and body for its kind and builds it, enabled.
func newRule(kind, ruleID string, body RuleBody) (*pushrules.PushRule, error) {
	switch {
	case !slices.Contains(Kinds, kind):
		return nil, mxerr.InvalidParam.WithMessage("unknown rule kind %q", kind)
	case ruleID == "" || strings.HasPrefix(ruleID, ".") || strings.ContainsAny(ruleID, `/\`):
		return nil, mxerr.InvalidParam.WithMessage("rule IDs may not start with a dot or hold slashes (%q)", ruleID)
	case kind == "room" && !strings.HasPrefix(ruleID, "!"), kind == "sender" && !strings.HasPrefix(ruleID, "@"):
		return nil, mxerr.InvalidParam.WithMessage("the ID of a %s rule is the %s's ID (got %q)", kind, map[string]string{"room": "room", "sender": "user"}[kind], ruleID)
	case body.Actions == nil:
		return nil, mxerr.MissingParam.WithMessage("actions is required")
	case kind == "content" && (body.Pattern == nil || *body.Pattern == ""):
		return nil, mxerr.MissingParam.WithMessage("a content rule needs a pattern")
	}
	rule := &pushrules.PushRule{RuleID: ruleID, Actions: body.Actions, Enabled: true}
	switch kind {
	case "override", "underride":
		rule.Conditions = body.Conditions
		if rule.Conditions == nil {
			rule.Conditions = []*pushrules.PushCondition{}
		}
	case "content":
		rule.Pattern = *body.Pattern
	}
	return rule, nil
}

// own returns a kind's user-defined rules, in order.
func (rs Ruleset) own(kind string) []*pushrules.PushRule {
	var out []*pushrules.PushRule
	for _, r := range rs[kind] {
		if !r.Default {
			out = append(out, r)
		}
	}
	return out
}

// setOwn replaces a kind's user-defined rules, which go before its server-default rules, after
// .m.rule.master.
func (rs Ruleset) setOwn(kind string, own []*pushrules.PushRule) {
	var master, defaults []*pushrules.PushRule
	for _, r := range rs[kind] {
		switch {
		case r.Default && r.RuleID == ".m.rule.master":
			master = append(master, r)
		case r.Default:
			defaults = append(defaults, r)
		}
	}
	rs[kind] = slices.Concat(master, own, defaults)
}
