package bot

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opsbot-dev/opsbot/store"
)

// Metrics are the bot's Prometheus instruments, registered on a registry of the caller's
// choosing (never the global one).
type Metrics struct {
	envelopes   *prometheus.CounterVec
	acks        *prometheus.CounterVec
	ackLatency  *prometheus.HistogramVec
	duplicates  prometheus.Counter
	handled     *prometheus.CounterVec
	connected   prometheus.Gauge
	outboxSends *prometheus.CounterVec
}

// NewMetrics creates the instruments and registers them, with collectors that read the
// outbox depth and the runs by state from st at scrape time.
func NewMetrics(reg prometheus.Registerer, st store.Store) *Metrics {
	m := &Metrics{
		envelopes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsbot_envelopes_total", Help: "Socket Mode envelopes received, by type.",
		}, []string{"type"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsbot_acks_total", Help: "Envelopes acknowledged, by type and result.",
		}, []string{"type", "result"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "opsbot_ack_latency_seconds",
			Help:    "Time from receiving an envelope to handing its ack to the socket, by type.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .05, .1, .5, 1, 3},
		}, []string{"type"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opsbot_duplicate_deliveries_total", Help: "Retried deliveries recognised and not handled again.",
		}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsbot_deliveries_handled_total", Help: "Deliveries handled after the ack, by result.",
		}, []string{"result"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opsbot_socket_connected", Help: "1 while a Socket Mode connection is open.",
		}),
		outboxSends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsbot_outbox_sends_total", Help: "Slack writes made by the outbox, by method and result.",
		}, []string{"method", "result"}),
	}
	reg.MustRegister(m.envelopes, m.acks, m.ackLatency, m.duplicates, m.handled, m.connected, m.outboxSends,
		storeCollector{st: st})
	return m
}

// storeCollector reads gauges that live in the store when Prometheus scrapes.
type storeCollector struct{ st store.Store }

var (
	outboxDepthDesc = prometheus.NewDesc("opsbot_outbox_depth", "Slack writes waiting in the outbox.", nil, nil)
	runsDesc        = prometheus.NewDesc("opsbot_runs", "Runs by state.", []string{"state"}, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepthDesc
	ch <- runsDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if pending, _, err := c.st.OutboxStats(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(outboxDepthDesc, prometheus.GaugeValue, float64(pending))
	}
	if counts, err := c.st.CountRuns(ctx); err == nil {
		for state, n := range counts {
			ch <- prometheus.MustNewConstMetric(runsDesc, prometheus.GaugeValue, float64(n), string(state))
		}
	}
}
