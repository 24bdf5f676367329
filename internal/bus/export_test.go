package bus

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"
)

// SetReadIdle shortens ReadRange's wait for the next record (tests); it returns the
// function restoring the previous wait.
func SetReadIdle(d time.Duration) func() {
	old := readIdle
	readIdle = d
	return func() { readIdle = old }
}

// StallReads makes every ReadRange wait for a record time out, as a stalled broker
// would; it returns the function restoring normal reads.
func StallReads() func() {
	old := readMessage
	readMessage = func(*kafka.Reader, context.Context) (kafka.Message, error) {
		return kafka.Message{}, context.DeadlineExceeded
	}
	return func() { readMessage = old }
}
