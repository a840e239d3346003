package appservice

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics of appservice delivery, computed from Status at each scrape.
var (
	metricQueueDepth = prometheus.NewDesc("causeway_appservice_queue_depth",
		"Stream positions between the appservice's cursor and the head (an upper bound on undelivered events).", []string{"appservice"}, nil)
	metricOldestAge = prometheus.NewDesc("causeway_appservice_oldest_queued_age_seconds",
		"Age of the oldest event or transaction waiting for the appservice.", []string{"appservice"}, nil)
	metricLastSuccess = prometheus.NewDesc("causeway_appservice_last_success_timestamp_seconds",
		"When delivery to the appservice last made progress.", []string{"appservice"}, nil)
	metricLastError = prometheus.NewDesc("causeway_appservice_last_error_timestamp_seconds",
		"When delivery to the appservice last failed.", []string{"appservice"}, nil)
	metricInFlight = prometheus.NewDesc("causeway_appservice_transaction_in_flight",
		"1 while a transaction is being sent or retried.", []string{"appservice"}, nil)
)

// Describe implements prometheus.Collector.
func (s *Sender) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{metricQueueDepth, metricOldestAge, metricLastSuccess, metricLastError, metricInFlight} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Sender) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	statuses, err := s.Status(ctx)
	if err != nil {
		s.opts.Log.Warn("appservice metrics unavailable", "err", err)
		return
	}
	for _, st := range statuses {
		inFlight := 0.0
		if st.InFlightTxnID != "" {
			inFlight = 1
		}
		ch <- prometheus.MustNewConstMetric(metricQueueDepth, prometheus.GaugeValue, float64(st.QueueDepth), st.ID)
		ch <- prometheus.MustNewConstMetric(metricOldestAge, prometheus.GaugeValue, st.OldestQueuedAge.Seconds(), st.ID)
		ch <- prometheus.MustNewConstMetric(metricLastSuccess, prometheus.GaugeValue, unixSeconds(st.LastSuccess), st.ID)
		ch <- prometheus.MustNewConstMetric(metricLastError, prometheus.GaugeValue, unixSeconds(st.LastErrorAt), st.ID)
		ch <- prometheus.MustNewConstMetric(metricInFlight, prometheus.GaugeValue, inFlight, st.ID)
	}
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}
