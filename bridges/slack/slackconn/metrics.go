package slackconn

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the status of the workspaces' connections as Prometheus metrics,
// labelled by workspace (and by method for the Web API). One Collector serves every
// workspace, as a registry accepts each metric name once. It reads Status at each scrape,
// so it keeps no state of its own.
type Collector struct {
	mu    sync.Mutex
	conns []*Conn
}

// NewCollector returns a Collector for conns. Add and Remove change the set later.
func NewCollector(conns ...*Conn) *Collector {
	return &Collector{conns: slices.Clone(conns)}
}

// Add starts exporting conn's metrics.
func (col *Collector) Add(conn *Conn) {
	col.mu.Lock()
	defer col.mu.Unlock()
	if !slices.Contains(col.conns, conn) {
		col.conns = append(col.conns, conn)
	}
}

// Remove stops exporting conn's metrics.
func (col *Collector) Remove(conn *Conn) {
	col.mu.Lock()
	defer col.mu.Unlock()
	col.conns = slices.DeleteFunc(col.conns, func(c *Conn) bool { return c == conn })
}

var (
	workspaceLabel       = []string{"workspace"}
	workspaceMethodLabel = []string{"workspace", "method"}

	descConnected = prometheus.NewDesc("causeway_slack_connected",
		"Whether the workspace's Socket Mode connection is open and greeted (1) or not (0).", workspaceLabel, nil)
	descAuthFailed = prometheus.NewDesc("causeway_slack_auth_failed",
		"Whether Slack refused the workspace's app or bot token (1): an admin must replace it.", workspaceLabel, nil)
	descReconnects = prometheus.NewDesc("causeway_slack_reconnects_total",
		"Socket Mode connections that ended or failed and were opened again.", workspaceLabel, nil)
	descEvents = prometheus.NewDesc("causeway_slack_events_total",
		"Events API events handed to the bridge.", workspaceLabel, nil)
	descDuplicates = prometheus.NewDesc("causeway_slack_duplicate_events_total",
		"Events Slack delivered again after they were handled, dropped.", workspaceLabel, nil)
	descHandlerErrors = prometheus.NewDesc("causeway_slack_handler_errors_total",
		"Events whose handling failed (they were acknowledged and left to catch-up).", workspaceLabel, nil)
	descLastEvent = prometheus.NewDesc("causeway_slack_last_event_timestamp_seconds",
		"When the last event arrived, in Unix seconds; 0 before the first.", workspaceLabel, nil)
	descAPICalls = prometheus.NewDesc("causeway_slack_api_calls_total",
		"Web API requests by method, retries included.", workspaceMethodLabel, nil)
	descRateLimited = prometheus.NewDesc("causeway_slack_rate_limited_total",
		"Web API requests Slack answered with 429, by method.", workspaceMethodLabel, nil)
	descWaiting = prometheus.NewDesc("causeway_slack_api_waiting",
		"Callers waiting for a method's rate limit to end: the method's queue depth.", workspaceMethodLabel, nil)
)

// Describe sends the descriptions of every metric the Collector exports.
func (col *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descConnected, descAuthFailed, descReconnects, descEvents, descDuplicates, descHandlerErrors,
		descLastEvent, descAPICalls, descRateLimited, descWaiting,
	} {
		ch <- d
	}
}

// Collect sends the current value of every metric.
func (col *Collector) Collect(ch chan<- prometheus.Metric) {
	col.mu.Lock()
	conns := slices.Clone(col.conns)
	col.mu.Unlock()
	for _, conn := range conns {
		s := conn.Status()
		ws := s.Workspace
		ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, boolValue(s.Connected), ws)
		ch <- prometheus.MustNewConstMetric(descAuthFailed, prometheus.GaugeValue, boolValue(s.AuthFailed), ws)
		ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(s.Reconnects), ws)
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(s.Events), ws)
		ch <- prometheus.MustNewConstMetric(descDuplicates, prometheus.CounterValue, float64(s.Duplicates), ws)
		ch <- prometheus.MustNewConstMetric(descHandlerErrors, prometheus.CounterValue, float64(s.HandlerErrors), ws)
		var last float64
		if !s.LastEventAt.IsZero() {
			last = float64(s.LastEventAt.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(descLastEvent, prometheus.GaugeValue, last, ws)
		for method, m := range s.Methods {
			ch <- prometheus.MustNewConstMetric(descAPICalls, prometheus.CounterValue, float64(m.Calls), ws, method)
			ch <- prometheus.MustNewConstMetric(descRateLimited, prometheus.CounterValue, float64(m.RateLimited), ws, method)
			ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(m.Waiting), ws, method)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
