package bus

import (
	"strconv"

	"github.com/segmentio/kafka-go"
)

// DeadLetter builds a dead-letter record: original key and bytes, reason headers.
func DeadLetter(topic, stage, reason string, cause error, m kafka.Message) kafka.Message {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000] + "…"
	}
	return kafka.Message{Topic: topic, Key: m.Key, Value: m.Value, Headers: []kafka.Header{
		{Key: "dlq.stage", Value: []byte(stage)},
		{Key: "dlq.reason", Value: []byte(reason)},
		{Key: "dlq.error", Value: []byte(msg)},
		{Key: "dlq.topic", Value: []byte(m.Topic)},
		{Key: "dlq.partition", Value: []byte(strconv.Itoa(m.Partition))},
		{Key: "dlq.offset", Value: []byte(strconv.FormatInt(m.Offset, 10))},
	}}
}
