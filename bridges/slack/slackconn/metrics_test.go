package slackconn_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"causeway/bridges/slack/slackconn"
)

// gather returns the registry's metrics as name{label values…} → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, fam := range families {
		for _, m := range fam.GetMetric() {
			key := fam.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += l.GetName() + "=" + l.GetValue()
			}
			key += "}"
			out[key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}

func TestCollector(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conn := slackconn.New(f.config())
	idle := slackconn.New(slackconn.Config{Name: "idle", APIURL: f.srv.APIURL()})
	reg := prometheus.NewPedanticRegistry()
	col := slackconn.NewCollector(conn)
	col.Add(idle)
	reg.MustRegister(col)

	var rec recorder
	start(t, conn, &rec)
	waitConnected(t, conn)
	f.post(t, f.alice.ID, f.general.ID, "one")
	f.post(t, f.alice.ID, f.general.ID, "two")
	rec.waitFor(t, 2)
	f.srv.RateLimit("chat.postMessage", 1, time.Second)
	if err := postVia(context.Background(), conn.API(), f.general.ID, "three"); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 3) // the bot's own message comes back as an event too

	got := gather(t, reg)
	for key, want := range map[string]float64{
		"causeway_slack_connected{workspace=acme}":                                  1,
		"causeway_slack_auth_failed{workspace=acme}":                                0,
		"causeway_slack_events_total{workspace=acme}":                               3,
		"causeway_slack_reconnects_total{workspace=acme}":                           0,
		"causeway_slack_rate_limited_total{method=chat.postMessage,workspace=acme}": 1,
		"causeway_slack_api_calls_total{method=chat.postMessage,workspace=acme}":    2,
		"causeway_slack_api_waiting{method=chat.postMessage,workspace=acme}":        0,
		"causeway_slack_connected{workspace=idle}":                                  0,
		"causeway_slack_last_event_timestamp_seconds{workspace=idle}":               0,
		"causeway_slack_api_calls_total{method=auth.test,workspace=acme}":           got["causeway_slack_api_calls_total{method=auth.test,workspace=acme}"],
		"causeway_slack_duplicate_events_total{workspace=acme}":                     0,
		"causeway_slack_handler_errors_total{workspace=acme}":                       0,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if last := got["causeway_slack_last_event_timestamp_seconds{workspace=acme}"]; time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last event timestamp = %v", last)
	}
	if got["causeway_slack_api_calls_total{method=auth.test,workspace=acme}"] < 1 {
		t.Error("auth.test not counted")
	}

	col.Remove(idle)
	if _, ok := gather(t, reg)["causeway_slack_connected{workspace=idle}"]; ok {
		t.Error("a removed workspace is still exported")
	}
}
