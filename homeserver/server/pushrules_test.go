package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/pushrules"

	"causeway/homeserver/storage/storagetest"
)

// ruleIDs lists the IDs of rules in order.
func ruleIDs(rules pushrules.PushRuleArray) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.RuleID)
	}
	return out
}

func TestPushRules(t *testing.T) {
	storagetest.EachDSN(t, func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		ts := startServer(t, driver, dsn)
		alice := ts.register(t, "alice")
		bob := ts.register(t, "bob")

		// A new account has the server-default rules, in /pushrules/ and in its first sync.
		rs, err := alice.GetPushRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := ruleIDs(rs.Override); len(got) < 9 || got[0] != ".m.rule.master" || !slices.Contains(got, ".m.rule.is_user_mention") {
			t.Errorf("default override rules = %v", got)
		}
		if got := ruleIDs(rs.Underride); !slices.Equal(got, []string{".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message", ".m.rule.encrypted"}) {
			t.Errorf("default underride rules = %v", got)
		}
		invite := rs.Override[slices.IndexFunc(rs.Override, func(r *pushrules.PushRule) bool { return r.RuleID == ".m.rule.invite_for_me" })]
		if invite.Conditions[2].Pattern != string(alice.UserID) {
			t.Errorf(".m.rule.invite_for_me matches state_key %q, want alice's ID", invite.Conditions[2].Pattern)
		}
		first := ts.sync(t, alice, url.Values{})
		if _, ok := accountDataIn(first.AccountData.Events)["m.push_rules"]; !ok {
			t.Error("the initial sync has no m.push_rules")
		}
		since := first.NextBatch

		// Alice's own rules, placed with before and after, and a changed default.
		put := func(kind pushrules.PushRuleType, ruleID string, req *mautrix.ReqPutPushRule) {
			t.Helper()
			if err := alice.PutPushRule(ctx, "global", kind, ruleID, req); err != nil {
				t.Fatalf("put %s %s: %v", kind, ruleID, err)
			}
		}
		notify := []*pushrules.PushAction{{Action: pushrules.ActionNotify}}
		put(pushrules.ContentRule, "cake", &mautrix.ReqPutPushRule{Pattern: "cake", Actions: notify})
		put(pushrules.ContentRule, "tea", &mautrix.ReqPutPushRule{Pattern: "tea", Actions: notify})
		put(pushrules.ContentRule, "lie", &mautrix.ReqPutPushRule{Pattern: "cake*lie", Actions: notify, After: "tea"})
		put(pushrules.ContentRule, "first", &mautrix.ReqPutPushRule{Pattern: "first", Actions: notify, Before: "tea"})
		put(pushrules.OverrideRule, "quiet-bots", &mautrix.ReqPutPushRule{Actions: []*pushrules.PushAction{},
			Conditions: []*pushrules.PushCondition{{Kind: pushrules.KindEventMatch, Key: "sender", Pattern: "@bot*"}}})
		if err := alice.SetPushRuleEnabled(ctx, "global", pushrules.OverrideRule, ".m.rule.master", true); err != nil {
			t.Fatal(err)
		}
		if err := alice.DeletePushRule(ctx, "global", pushrules.ContentRule, "cake"); err != nil {
			t.Fatal(err)
		}
		rs, err = alice.GetPushRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := ruleIDs(rs.Content); !slices.Equal(got, []string{"first", "tea", "lie"}) {
			t.Errorf("alice's content rules = %v, want first, tea, lie", got)
		}
		if got := ruleIDs(rs.Override); len(got) < 2 || got[0] != ".m.rule.master" || got[1] != "quiet-bots" || !rs.Override[0].Enabled {
			t.Errorf("override rules = %v (master enabled %v), want the master rule enabled, then alice's", got, rs.Override[0].Enabled)
		}
		rule, err := alice.GetPushRule(ctx, "global", pushrules.ContentRule, "lie")
		if err != nil || rule.Pattern != "cake*lie" || !rule.Enabled || rule.Default {
			t.Errorf("GET the lie rule = %+v, %v", rule, err)
		}
		// The change reaches alice's other clients through /sync.
		resp := ts.sync(t, alice, url.Values{"since": {since}})
		if _, ok := accountDataIn(resp.AccountData.Events)["m.push_rules"]; !ok {
			t.Error("the incremental sync after the changes has no m.push_rules")
		}
		// Bob's rules are his own.
		if rs, err := bob.GetPushRules(ctx); err != nil || len(rs.Content) != 0 || rs.Override[0].Enabled {
			t.Errorf("bob's rules changed with alice's: %d content rules, master enabled %v, %v", len(rs.Content), rs.Override[0].Enabled, err)
		}

		path := func(kind, ruleID, rest string) string {
			return "/_matrix/client/v3/pushrules/global/" + kind + "/" + url.PathEscape(ruleID) + rest
		}
		notifyBody := map[string]any{"actions": []string{"notify"}}
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			errcode            string
		}{
			{"a dotted rule ID", http.MethodPut, path("override", ".mine", ""), notifyBody, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"an unknown kind", http.MethodPut, path("sideways", "x", ""), notifyBody, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"a content rule without a pattern", http.MethodPut, path("content", "x", ""), notifyBody, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"no actions", http.MethodPut, path("override", "x", ""), map[string]any{}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"a room rule for no room", http.MethodPut, path("room", "general", ""), notifyBody, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"before an unknown rule", http.MethodPut, path("content", "x", "?before=nothing"), map[string]any{"pattern": "x", "actions": []string{}}, http.StatusBadRequest, "M_UNKNOWN"},
			{"an unknown rule", http.MethodGet, path("content", "nothing", ""), nil, http.StatusNotFound, "M_NOT_FOUND"},
			{"deleting a default rule", http.MethodDelete, path("override", ".m.rule.master", ""), nil, http.StatusBadRequest, "M_INVALID_PARAM"},
			{"deleting an unknown rule", http.MethodDelete, path("content", "nothing", ""), nil, http.StatusNotFound, "M_NOT_FOUND"},
			{"enabling without a flag", http.MethodPut, path("content", "tea", "/enabled"), map[string]any{}, http.StatusBadRequest, "M_MISSING_PARAM"},
			{"setting m.push_rules as account data", http.MethodPut, accountDataPath(alice.UserID, "/account_data/m.push_rules"), map[string]any{"global": map[string]any{}}, http.StatusMethodNotAllowed, "M_BAD_JSON"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, ts.do(t, tc.method, tc.path, alice.AccessToken, tc.body), tc.status, tc.errcode)
			})
		}
		// Actions of a default rule can change; the account data shows the effective rules.
		if err := alice.PutPushRuleActions(ctx, "global", pushrules.UnderrideRule, ".m.rule.message", []*pushrules.PushAction{}); err != nil {
			t.Fatal(err)
		}
		var content struct {
			Global pushrules.PushRuleset `json:"global"`
		}
		if err := alice.GetAccountData(ctx, event.AccountDataPushRules.Type, &content); err != nil {
			t.Fatal(err)
		}
		for _, r := range content.Global.Underride {
			if r.RuleID == ".m.rule.message" && len(r.Actions) != 0 {
				t.Errorf(".m.rule.message actions = %v, want none", r.Actions)
			}
		}
	})
}
