package admin

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func testutilLint(reg *prometheus.Registry) ([]promlint.Problem, error) {
	probs, err := testutil.GatherAndLint(reg)
	var own []promlint.Problem
	for _, p := range probs {
		if len(p.Metric) > 12 && p.Metric[:12] == "auditstream_" {
			own = append(own, p)
		}
	}
	return own, err
}
