// Package bisect isolates the items a store refuses when it only answers "this batch was
// refused" without saying which item: the batch is split in halves, each half is sent
// again, and a refused half is split again, until the refused items stand alone. Every
// batch writer of the project that meets such a whole-batch refusal (the sink runner, the
// normalizer's publish to Kafka) uses this one helper.
package bisect

import "context"

// Do sends items with write. When write reports a refusal (refused(err) is true) of more
// than one item, Do splits items in two halves and sends each half again the same way; a
// single refused item is handed to poison (which dead-letters it, say) and the rest goes
// on. Any other error from write, poison or ctx stops Do and is returned: the caller
// retries the whole call later, so write must be safe to call again with items already
// written (idempotent, or at-least-once by contract).
//
// A batch of n items with one poison item costs about 2·log2(n) extra writes; with k
// poison items at most about 2·k·log2(n).
func Do[T any](ctx context.Context, items []T, write func(context.Context, []T) error,
	refused func(error) bool, poison func(T, error) error) error {
	if len(items) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := write(ctx, items)
	if err == nil || !refused(err) {
		return err
	}
	if len(items) == 1 {
		return poison(items[0], err)
	}
	mid := len(items) / 2
	if err := Do(ctx, items[:mid], write, refused, poison); err != nil {
		return err
	}
	return Do(ctx, items[mid:], write, refused, poison)
}
