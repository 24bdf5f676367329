package bus

import (
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"
)

// DLQHeaderPrefix starts the names of the reason headers of a dead letter.
const DLQHeaderPrefix = "dlq."

// DeadLetter builds a dead-letter record: original key, bytes and headers (an event's
// CloudEvents headers, so that a re-injected event routes as before), then the reason
// headers dlq.stage, dlq.reason, dlq.error, dlq.topic, dlq.partition and dlq.offset.
func DeadLetter(topic, stage, reason string, cause error, m kafka.Message) kafka.Message {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000] + "…"
	}
	headers := OriginalHeaders(m)
	headers = append(headers,
		kafka.Header{Key: "dlq.stage", Value: []byte(stage)},
		kafka.Header{Key: "dlq.reason", Value: []byte(reason)},
		kafka.Header{Key: "dlq.error", Value: []byte(msg)},
		kafka.Header{Key: "dlq.topic", Value: []byte(m.Topic)},
		kafka.Header{Key: "dlq.partition", Value: []byte(strconv.Itoa(m.Partition))},
		kafka.Header{Key: "dlq.offset", Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	return kafka.Message{Topic: topic, Key: m.Key, Value: m.Value, Headers: headers}
}

// OriginalHeaders returns the headers of m that are not dead-letter reason headers.
func OriginalHeaders(m kafka.Message) []kafka.Header {
	var out []kafka.Header
	for _, h := range m.Headers {
		if !strings.HasPrefix(h.Key, DLQHeaderPrefix) {
			out = append(out, h)
		}
	}
	return out
}
