package shard

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	members = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "weir_shard_members", Help: "Live members of this replica's shard group, as it last read them.",
	})
	ownedObjects = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "weir_shard_owned_objects", Help: "Objects this replica owns under automatic sharding.",
	})
)

// RegisterMetrics registers the sharding gauges with reg (once; registering again is a no-op).
func RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{members, ownedObjects} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}
