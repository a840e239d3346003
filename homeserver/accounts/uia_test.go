package accounts_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"maunium.net/go/mautrix"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

var (
	password = mautrix.AuthTypePassword
	dummy    = mautrix.AuthTypeDummy
	regToken = accounts.AuthTypeRegistrationToken
	terms    = mautrix.AuthType("m.login.terms")
)

func TestUIASessions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, accounts.Options{})
		flows := []mautrix.UIAFlow{{Stages: []mautrix.AuthType{password}}}

		sess, err := s.BeginOrContinue(ctx, "", "@alice:hs.test", "delete-device-ABC")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9]{24}$`).MatchString(sess.ID) || len(sess.Completed) != 0 {
			t.Errorf("new session = %+v", sess)
		}
		if accounts.FlowsSatisfied(flows, sess.Completed) {
			t.Error("flows satisfied before any stage")
		}

		again, err := s.BeginOrContinue(ctx, sess.ID, "@alice:hs.test", "delete-device-ABC")
		if err != nil || again.ID != sess.ID {
			t.Fatalf("continue = %+v, %v", again, err)
		}
		_, err = s.BeginOrContinue(ctx, sess.ID, "@alice:hs.test", "delete-device-XYZ")
		wantCode(t, err, "M_FORBIDDEN")
		_, err = s.BeginOrContinue(ctx, sess.ID, "@mallory:hs.test", "delete-device-ABC")
		wantCode(t, err, "M_INVALID_PARAM")
		_, err = s.BeginOrContinue(ctx, "unknown", "@alice:hs.test", "delete-device-ABC")
		wantCode(t, err, "M_INVALID_PARAM")

		wantCode(t, s.CompleteStage(ctx, &again, flows, dummy, ""), "M_FORBIDDEN")
		if err := s.CompleteStage(ctx, &again, flows, password, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteStage(ctx, &again, flows, password, ""); err != nil {
			t.Errorf("completing a completed stage again: %v", err)
		}
		loaded, err := s.BeginOrContinue(ctx, sess.ID, "@alice:hs.test", "delete-device-ABC")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]mautrix.AuthType{password}, loaded.Completed); diff != "" {
			t.Errorf("stored completed stages (-want +got):\n%s", diff)
		}
		if !accounts.FlowsSatisfied(flows, loaded.Completed) {
			t.Error("flow not satisfied after its only stage")
		}

		if err := s.EndSession(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.BeginOrContinue(ctx, sess.ID, "@alice:hs.test", "delete-device-ABC")
		wantCode(t, err, "M_INVALID_PARAM")
		if err := s.EndSession(ctx, sess.ID); err != nil {
			t.Errorf("ending an ended session: %v", err)
		}

		// Expiry.
		old, err := s.BeginOrContinue(ctx, "", "", "register")
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(accounts.UIASessionLifetime - time.Second)
		if _, err := s.BeginOrContinue(ctx, old.ID, "", "register"); err != nil {
			t.Errorf("session just before expiry: %v", err)
		}
		clk.Advance(time.Second)
		wantCode(t, s.CompleteStage(ctx, &old, []mautrix.UIAFlow{{Stages: []mautrix.AuthType{dummy}}}, dummy, ""), "M_INVALID_PARAM")
		_, err = s.BeginOrContinue(ctx, old.ID, "", "register")
		wantCode(t, err, "M_INVALID_PARAM")
	})
}

func TestFlows(t *testing.T) {
	flows := []mautrix.UIAFlow{
		{Stages: []mautrix.AuthType{regToken, terms, dummy}},
		{Stages: []mautrix.AuthType{regToken, password}},
		{Stages: []mautrix.AuthType{password}},
	}
	cases := []struct {
		name      string
		completed []mautrix.AuthType
		next      mautrix.AuthType
		allowed   bool
		satisfied bool
	}{
		{"first stage of a flow", nil, regToken, true, false},
		{"first stage of another flow", nil, password, true, false},
		{"not a first stage", nil, dummy, false, false},
		{"second stage", []mautrix.AuthType{regToken}, terms, true, false},
		{"second stage of another flow", []mautrix.AuthType{regToken}, password, true, false},
		{"out of order", []mautrix.AuthType{regToken}, dummy, false, false},
		{"single-stage flow done", []mautrix.AuthType{password}, dummy, false, true},
		{"two-stage flow done", []mautrix.AuthType{regToken, password}, dummy, false, true},
		{"three-stage flow half done", []mautrix.AuthType{regToken, terms}, dummy, true, false},
		{"three-stage flow done", []mautrix.AuthType{regToken, terms, dummy}, password, false, true},
		{"same stages, wrong order", []mautrix.AuthType{terms, regToken}, dummy, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := accounts.StageAllowed(flows, tc.completed, tc.next); got != tc.allowed {
				t.Errorf("StageAllowed(%v, %s) = %v, want %v", tc.completed, tc.next, got, tc.allowed)
			}
			if got := accounts.FlowsSatisfied(flows, tc.completed); got != tc.satisfied {
				t.Errorf("FlowsSatisfied(%v) = %v, want %v", tc.completed, got, tc.satisfied)
			}
		})
	}
	if accounts.FlowsSatisfied([]mautrix.UIAFlow{{}}, nil) {
		t.Error("an empty flow is satisfied by nothing")
	}
}

func int64p(v int64) *int64 { return &v }

// tokenCounts returns a registration token's pending and completed uses.
func tokenCounts(t *testing.T, db *storage.DB, token string) (pending, completed int64) {
	t.Helper()
	rt, err := db.RegistrationTokenByValue(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return rt.Pending, rt.Completed
}

func TestRegistrationTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, clk := newService(t, db, accounts.Options{})
		flows := []mautrix.UIAFlow{{Stages: []mautrix.AuthType{regToken}}}
		valid := func(token string) bool {
			t.Helper()
			ok, err := s.ValidateRegistrationToken(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		begin := func() accounts.UIASession {
			t.Helper()
			sess, err := s.BeginOrContinue(ctx, "", "", "register")
			if err != nil {
				t.Fatal(err)
			}
			return sess
		}

		_, err := s.CreateRegistrationToken(ctx, int64p(-1), nil)
		wantCode(t, err, "M_INVALID_PARAM")
		past := clk.Now().Add(-time.Second)
		_, err = s.CreateRegistrationToken(ctx, nil, &past)
		wantCode(t, err, "M_INVALID_PARAM")

		once, err := s.CreateRegistrationToken(ctx, int64p(1), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9._~-]{16}$`).MatchString(once) {
			t.Errorf("token %q is not 16 opaque-identifier characters", once)
		}
		if !valid(once) || valid("nonsense") {
			t.Error("validity of a fresh and an unknown token wrong")
		}

		// A pending use counts: a second registration cannot take the only use.
		a := begin()
		wantCode(t, s.CompleteStage(ctx, &a, flows, regToken, ""), "M_MISSING_PARAM")
		wantCode(t, s.CompleteStage(ctx, &a, flows, regToken, "nonsense"), "M_UNAUTHORIZED")
		if err := s.CompleteStage(ctx, &a, flows, regToken, once); err != nil {
			t.Fatal(err)
		}
		if p, c := tokenCounts(t, db, once); p != 1 || c != 0 {
			t.Errorf("after reservation: pending %d, completed %d; want 1, 0", p, c)
		}
		if valid(once) {
			t.Error("token with its only use pending is still valid")
		}
		b := begin()
		wantCode(t, s.CompleteStage(ctx, &b, flows, regToken, once), "M_UNAUTHORIZED")

		// Registering completes the use and ends the session.
		if !accounts.FlowsSatisfied(flows, a.Completed) {
			t.Fatal("token flow not satisfied")
		}
		if _, err := s.Register(ctx, accounts.RegisterParams{Localpart: "alice", Password: "pw", UIASession: a.ID}); err != nil {
			t.Fatal(err)
		}
		if p, c := tokenCounts(t, db, once); p != 0 || c != 1 {
			t.Errorf("after registration: pending %d, completed %d; want 0, 1", p, c)
		}
		_, err = s.BeginOrContinue(ctx, a.ID, "", "register")
		wantCode(t, err, "M_INVALID_PARAM")
		_, err = s.Register(ctx, accounts.RegisterParams{Localpart: "alice2", Password: "pw", UIASession: a.ID})
		wantCode(t, err, "M_INVALID_PARAM")
		if valid(once) {
			t.Error("used-up token is valid")
		}

		// An abandoned session gives its use back, when ended or when expired.
		twice, err := s.CreateRegistrationToken(ctx, int64p(2), nil)
		if err != nil {
			t.Fatal(err)
		}
		c, d := begin(), begin()
		for _, sess := range []*accounts.UIASession{&c, &d} {
			if err := s.CompleteStage(ctx, sess, flows, regToken, twice); err != nil {
				t.Fatal(err)
			}
		}
		if valid(twice) {
			t.Error("token with both uses pending is valid")
		}
		if err := s.EndSession(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if p, _ := tokenCounts(t, db, twice); p != 1 || !valid(twice) {
			t.Errorf("after ending a session: pending %d; want 1 and the token valid", p)
		}
		clk.Advance(accounts.UIASessionLifetime)
		n, err := s.ExpireUIASessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 { // d, and b which reserved nothing
			t.Errorf("ExpireUIASessions ended %d sessions, want 2", n)
		}
		if p, _ := tokenCounts(t, db, twice); p != 0 {
			t.Errorf("after expiry: pending %d, want 0", p)
		}

		// Unlimited, expiring token.
		expiry := clk.Now().Add(10 * time.Minute)
		timed, err := s.CreateRegistrationToken(ctx, nil, &expiry)
		if err != nil {
			t.Fatal(err)
		}
		e := begin()
		if err := s.CompleteStage(ctx, &e, flows, regToken, timed); err != nil {
			t.Fatal(err)
		}
		if !valid(timed) {
			t.Error("unlimited token invalid with a pending use")
		}
		clk.Advance(10 * time.Minute)
		if valid(timed) {
			t.Error("expired token is valid")
		}
		f := begin()
		wantCode(t, s.CompleteStage(ctx, &f, flows, regToken, timed), "M_UNAUTHORIZED")
		// A use reserved before expiry may still complete.
		if _, err := s.Register(ctx, accounts.RegisterParams{Localpart: "bob", Password: "pw", UIASession: e.ID}); err != nil {
			t.Errorf("registration with a use reserved before expiry: %v", err)
		}
	})
}
