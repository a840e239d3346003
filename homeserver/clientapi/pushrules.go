package clientapi

import (
	"encoding/json"
	"net/http"

	"maunium.net/go/mautrix/pushrules"

	"causeway/homeserver/mxerr"
	"causeway/homeserver/push"
	"causeway/homeserver/web"
)

// The push rules API (data/api/client-server/pushrules.yaml): the user's rules, server-default
// and their own, all under the "global" scope.

// handleGetPushRules serves GET /_matrix/client/v3/pushrules/.
func (a *API) handleGetPushRules(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.sync.PushRules(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	return ok(w, json.RawMessage(rs.Content()))
}

// handleGetGlobalPushRules serves GET /_matrix/client/v3/pushrules/global/.
func (a *API) handleGetGlobalPushRules(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.sync.PushRules(r.Context(), requester(r).UserID)
	if err != nil {
		return err
	}
	return ok(w, rs)
}

// handleGetPushRule serves GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}.
func (a *API) handleGetPushRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.findPushRule(r)
	if err != nil {
		return err
	}
	kind, _, _ := pushRulePath(r)
	return ok(w, push.Wire(kind, rule))
}

// handleGetPushRuleEnabled serves GET …/pushrules/global/{kind}/{ruleId}/enabled.
func (a *API) handleGetPushRuleEnabled(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.findPushRule(r)
	if err != nil {
		return err
	}
	return ok(w, map[string]bool{"enabled": rule.Enabled})
}

// handleGetPushRuleActions serves GET …/pushrules/global/{kind}/{ruleId}/actions.
func (a *API) handleGetPushRuleActions(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.findPushRule(r)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"actions": rule.Actions})
}

// findPushRule reads the rule a path names.
func (a *API) findPushRule(r *http.Request) (*pushrules.PushRule, error) {
	kind, ruleID, err := pushRulePath(r)
	if err != nil {
		return nil, err
	}
	rs, err := a.sync.PushRules(r.Context(), requester(r).UserID)
	if err != nil {
		return nil, err
	}
	return rs.Find(kind, ruleID)
}

// handlePutPushRule serves PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}[?before=…|after=…].
func (a *API) handlePutPushRule(w http.ResponseWriter, r *http.Request) error {
	kind, ruleID, err := pushRulePath(r)
	if err != nil {
		return err
	}
	var body push.RuleBody
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	before, after := r.URL.Query().Get("before"), r.URL.Query().Get("after")
	return a.changePushRules(w, r, func(rs push.Ruleset) error { return rs.PutRule(kind, ruleID, body, before, after) })
}

// handleDeletePushRule serves DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}.
func (a *API) handleDeletePushRule(w http.ResponseWriter, r *http.Request) error {
	kind, ruleID, err := pushRulePath(r)
	if err != nil {
		return err
	}
	return a.changePushRules(w, r, func(rs push.Ruleset) error { return rs.DeleteRule(kind, ruleID) })
}

// handlePutPushRuleEnabled serves PUT …/pushrules/global/{kind}/{ruleId}/enabled.
func (a *API) handlePutPushRuleEnabled(w http.ResponseWriter, r *http.Request) error {
	kind, ruleID, err := pushRulePath(r)
	if err != nil {
		return err
	}
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Enabled == nil {
		return mxerr.MissingParam.WithMessage("enabled is required")
	}
	return a.changePushRules(w, r, func(rs push.Ruleset) error {
		rule, err := rs.Find(kind, ruleID)
		if err == nil {
			rule.Enabled = *body.Enabled
		}
		return err
	})
}

// handlePutPushRuleActions serves PUT …/pushrules/global/{kind}/{ruleId}/actions.
func (a *API) handlePutPushRuleActions(w http.ResponseWriter, r *http.Request) error {
	kind, ruleID, err := pushRulePath(r)
	if err != nil {
		return err
	}
	var body struct {
		Actions pushrules.PushActionArray `json:"actions"`
	}
	if err := a.readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Actions == nil {
		return mxerr.MissingParam.WithMessage("actions is required")
	}
	return a.changePushRules(w, r, func(rs push.Ruleset) error {
		rule, err := rs.Find(kind, ruleID)
		if err == nil {
			rule.Actions = body.Actions
		}
		return err
	})
}

// changePushRules applies change to the requester's rules and answers {}.
func (a *API) changePushRules(w http.ResponseWriter, r *http.Request, change func(push.Ruleset) error) error {
	if err := a.sync.ChangePushRules(r.Context(), requester(r).UserID, change); err != nil {
		return err
	}
	return ok(w, nil)
}

// pushRulePath reads the kind and rule ID of a push rule path.
func pushRulePath(r *http.Request) (kind, ruleID string, err error) {
	if kind, err = web.PathParam(r, "kind"); err != nil {
		return "", "", err
	}
	ruleID, err = web.PathParam(r, "ruleId")
	return kind, ruleID, err
}
