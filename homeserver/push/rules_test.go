package push

import (
	"encoding/json"
	"testing"
)

// TestEffectiveKeepsChangesAndNewDefaults: what a user changed survives, a default rule the
// stored rules lack (a newer server's) appears, and a stored default rule's conditions give way
// to the current ones.
func TestEffectiveKeepsChangesAndNewDefaults(t *testing.T) {
	stored := json.RawMessage(`{"global": {
		"override": [
			{"rule_id": ".m.rule.master", "default": true, "enabled": true, "conditions": [], "actions": []},
			{"rule_id": "mine", "default": false, "enabled": true, "conditions": [], "actions": ["notify"]},
			{"rule_id": ".m.rule.suppress_notices", "default": true, "enabled": false, "conditions": [{"kind": "event_match", "key": "stale", "pattern": "x"}], "actions": []}
		],
		"content": [], "room": [], "sender": [],
		"underride": []}}`)
	rs := Effective("@alice:hs", stored)
	ids := func(kind string) []string {
		var out []string
		for _, r := range rs[kind] {
			out = append(out, r.RuleID)
		}
		return out
	}
	override := ids("override")
	if override[0] != ".m.rule.master" || override[1] != "mine" || len(override) != 11 {
		t.Errorf("override rules = %v, want the master rule, alice's, then the 9 other defaults", override)
	}
	if !rs["override"][0].Enabled {
		t.Error("the master rule lost the user's enabled flag")
	}
	notices, _ := rs.Find("override", ".m.rule.suppress_notices")
	if notices.Enabled || notices.Conditions[0].Key != "content.msgtype" {
		t.Errorf("suppress_notices = enabled %v, conditions %+v; want disabled, with the current conditions", notices.Enabled, notices.Conditions[0])
	}
	if got := ids("underride"); len(got) != 5 {
		t.Errorf("underride rules = %v, want the 5 defaults the stored rules lacked", got)
	}
	if rs.PutRule("override", "mine", RuleBody{Actions: nil}, "", "") == nil {
		t.Error("a rule without actions was accepted")
	}
}

// TestWire: what clients receive keeps an empty event_match pattern and writes a highlight
// tweak without a value.
func TestWire(t *testing.T) {
	rs := Effective("@alice:hs", nil)
	raw, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Override []struct {
			RuleID     string           `json:"rule_id"`
			Actions    []any            `json:"actions"`
			Conditions []map[string]any `json:"conditions"`
		} `json:"override"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, r := range got.Override {
		if r.RuleID != ".m.rule.tombstone" {
			continue
		}
		if p, ok := r.Conditions[1]["pattern"]; !ok || p != "" {
			t.Errorf("tombstone's state_key condition = %v, want an empty pattern", r.Conditions[1])
		}
		if tweak, ok := r.Actions[1].(map[string]any); !ok || tweak["set_tweak"] != "highlight" || len(tweak) != 1 {
			t.Errorf("tombstone's highlight = %v, want the tweak alone", r.Actions[1])
		}
	}
}
