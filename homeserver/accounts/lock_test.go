package accounts_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"causeway/homeserver/accounts"
	"causeway/homeserver/storage"
	"causeway/homeserver/storage/storagetest"
)

func TestLock(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		root := mustRegister(t, s, "root", "pw")
		bob := mustRegister(t, s, "bob", "pw")
		withRefresh := mustLogin(t, s, accounts.LoginParams{UserID: bob.UserID, Password: "pw", RefreshToken: true})
		admin := accounts.Requester{UserID: root.UserID, IsAdmin: true}

		if err := s.SetLocked(ctx, admin, bob.UserID, true); err != nil {
			t.Fatal(err)
		}
		if locked, err := s.Locked(ctx, admin, bob.UserID); err != nil || !locked {
			t.Fatalf("Locked = %t, %v; want true", locked, err)
		}

		_, err := s.Authenticate(ctx, bob.AccessToken)
		if resp := wantCode(t, err, "M_USER_LOCKED"); resp.StatusCode != 401 || !softLogout(resp) {
			t.Errorf("locked token: %d soft_logout=%t, want 401 with soft_logout", resp.StatusCode, softLogout(resp))
		}
		req, err := s.AuthenticateAllowLocked(ctx, bob.AccessToken, "")
		if err != nil || !req.Locked || req.UserID != bob.UserID {
			t.Errorf("AuthenticateAllowLocked = %+v, %v; want bob, locked", req, err)
		}
		_, err = s.Login(ctx, accounts.LoginParams{UserID: bob.UserID, Password: "wrong"})
		wantCode(t, err, "M_FORBIDDEN") // a wrong password tells nothing of the lock
		_, err = s.Login(ctx, accounts.LoginParams{UserID: bob.UserID, Password: "pw"})
		wantCode(t, err, "M_USER_LOCKED")
		_, err = s.Refresh(ctx, withRefresh.RefreshToken)
		wantCode(t, err, "M_USER_LOCKED")
		if _, err := s.Authenticate(ctx, root.AccessToken); err != nil {
			t.Errorf("someone else's token: %v", err)
		}

		if err := s.SetLocked(ctx, admin, bob.UserID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, bob.AccessToken); err != nil {
			t.Errorf("token after unlock: %v", err)
		}
		if _, err := s.Refresh(ctx, withRefresh.RefreshToken); err != nil {
			t.Errorf("refresh after unlock: %v", err)
		}
		mustLogin(t, s, accounts.LoginParams{UserID: bob.UserID, Password: "pw"})
	})
}

func TestSuspend(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		root := mustRegister(t, s, "root", "pw")
		bob := mustRegister(t, s, "bob", "pw")
		admin := accounts.Requester{UserID: root.UserID, IsAdmin: true}

		if err := s.SetSuspended(ctx, admin, bob.UserID, true); err != nil {
			t.Fatal(err)
		}
		if suspended, err := s.Suspended(ctx, admin, bob.UserID); err != nil || !suspended {
			t.Fatalf("Suspended = %t, %v; want true", suspended, err)
		}
		req, err := s.Authenticate(ctx, bob.AccessToken)
		if err != nil || !req.Suspended || req.Locked {
			t.Errorf("Authenticate = %+v, %v; want suspended and not locked", req, err)
		}
		sess := mustLogin(t, s, accounts.LoginParams{UserID: bob.UserID, Password: "pw"})
		if req, err := s.Authenticate(ctx, sess.AccessToken); err != nil || !req.Suspended {
			t.Errorf("new session = %+v, %v; want suspended", req, err)
		}

		if err := s.SetSuspended(ctx, admin, bob.UserID, false); err != nil {
			t.Fatal(err)
		}
		if req, err := s.Authenticate(ctx, bob.AccessToken); err != nil || req.Suspended {
			t.Errorf("after unsuspending: %+v, %v", req, err)
		}
	})
}

func TestModerationTarget(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, accounts.Options{})
		root := mustRegister(t, s, "root", "pw")
		other, err := s.Register(ctx, accounts.RegisterParams{Localpart: "other", Password: "pw", Admin: true, InhibitLogin: true})
		if err != nil {
			t.Fatal(err)
		}
		bob := mustRegister(t, s, "bob", "pw")
		gone := mustRegister(t, s, "gone", "pw")
		if err := s.Deactivate(ctx, gone.UserID); err != nil {
			t.Fatal(err)
		}
		admin := accounts.Requester{UserID: root.UserID, IsAdmin: true}
		user := accounts.Requester{UserID: bob.UserID}

		for _, tc := range []struct {
			name   string
			by     accounts.Requester
			target id.UserID
			get    string // errcode of the lookup, "" for success
			set    string // errcode of the change
		}{
			{"a user", admin, bob.UserID, "", ""},
			{"by a non-admin", user, bob.UserID, "M_FORBIDDEN", "M_FORBIDDEN"},
			{"unknown, by a non-admin", user, "@nobody:" + serverName, "M_FORBIDDEN", "M_FORBIDDEN"},
			{"unknown", admin, "@nobody:" + serverName, "M_NOT_FOUND", "M_NOT_FOUND"},
			{"deactivated", admin, gone.UserID, "M_NOT_FOUND", "M_NOT_FOUND"},
			{"remote", admin, "@bob:elsewhere.test", "M_INVALID_PARAM", "M_INVALID_PARAM"},
			{"another admin", admin, other.UserID, "M_FORBIDDEN", "M_FORBIDDEN"},
			{"oneself", admin, root.UserID, "", "M_FORBIDDEN"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				check := func(what, want string, err error) {
					t.Helper()
					if want == "" {
						if err != nil {
							t.Errorf("%s: %v", what, err)
						}
						return
					}
					wantCode(t, err, want)
				}
				_, err := s.Locked(ctx, tc.by, tc.target)
				check("Locked", tc.get, err)
				_, err = s.Suspended(ctx, tc.by, tc.target)
				check("Suspended", tc.get, err)
				check("SetLocked", tc.set, s.SetLocked(ctx, tc.by, tc.target, false))
				check("SetSuspended", tc.set, s.SetSuspended(ctx, tc.by, tc.target, false))
			})
		}
	})
}

func TestCheckSend(t *testing.T) {
	const bob, alice = id.UserID("@bob:hs.test"), id.UserID("@alice:hs.test")
	str := func(s string) *string { return &s }
	member := event.StateMember.Type
	for _, tc := range []struct {
		name string
		ev   accounts.OutgoingEvent
		ok   bool
	}{
		{"own leave", accounts.OutgoingEvent{Type: member, StateKey: str(string(bob)), Membership: "leave"}, true},
		{"own redaction", accounts.OutgoingEvent{Type: "m.room.redaction", RedactedSender: bob}, true},
		{"message", accounts.OutgoingEvent{Type: "m.room.message"}, false},
		{"reaction", accounts.OutgoingEvent{Type: "m.reaction"}, false},
		{"topic", accounts.OutgoingEvent{Type: "m.room.topic", StateKey: str("")}, false},
		{"own join", accounts.OutgoingEvent{Type: member, StateKey: str(string(bob)), Membership: "join"}, false},
		{"kick", accounts.OutgoingEvent{Type: member, StateKey: str(string(alice)), Membership: "leave"}, false},
		{"invite", accounts.OutgoingEvent{Type: member, StateKey: str(string(alice)), Membership: "invite"}, false},
		{"redaction of another's event", accounts.OutgoingEvent{Type: "m.room.redaction", RedactedSender: alice}, false},
		{"redaction of an unknown event", accounts.OutgoingEvent{Type: "m.room.redaction"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := (accounts.Requester{UserID: bob}).CheckSend(tc.ev); err != nil {
				t.Errorf("not suspended: %v", err)
			}
			err := accounts.Requester{UserID: bob, Suspended: true}.CheckSend(tc.ev)
			if tc.ok {
				if err != nil {
					t.Errorf("suspended: %v, want allowed", err)
				}
				return
			}
			if resp := wantCode(t, err, "M_USER_SUSPENDED"); resp.StatusCode != 403 {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
		})
	}
}
