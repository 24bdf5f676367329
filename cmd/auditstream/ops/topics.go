package ops

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditstream/auditstream/internal/bus"
)

// TopicExists says whether topic exists on the brokers of b. It asks a broker directly
// (not the client's metadata cache, which may be seconds old) for the partitions of every
// topic and looks for it, so that asking never creates it (a broker with
// auto.create.topics.enable may create a topic it is asked about by name).
func TopicExists(ctx context.Context, b *bus.Bus, topic string) (bool, error) {
	var errs []error
	for _, addr := range b.Brokers() {
		conn, err := b.Dialer().DialContext(ctx, "tcp", addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		parts, err := conn.ReadPartitions()
		_ = conn.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range parts {
			if p.Topic == topic {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("kafka metadata from %v: %w", b.Brokers(), errors.Join(errs...))
}
