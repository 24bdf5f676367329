package bus

import (
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is an in-process Kafka broker (franz-go kfake) for development and fast tests.
// It is not Apache Kafka: no replication, no compaction, no durability guarantees.
type Embedded struct {
	cluster *kfake.Cluster
}

// StartEmbedded starts the in-process broker. dataDir, when set, keeps its data across
// restarts (so cursors and offsets survive `make run` restarts); port 0 picks a free port.
func StartEmbedded(log *slog.Logger, dataDir string, port int) (*Embedded, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.ClusterID("auditstream-embedded")}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka (data dir %q): %w", dataDir, err)
	}
	log.Warn("EMBEDDED KAFKA BROKER (franz-go kfake) — for development only; set kafka.brokers for production",
		"addr", c.ListenAddrs(), "data_dir", dataDir)
	return &Embedded{cluster: c}, nil
}

// Addrs returns the broker addresses.
func (e *Embedded) Addrs() []string { return e.cluster.ListenAddrs() }

// Close stops the broker.
func (e *Embedded) Close() { e.cluster.Close() }
