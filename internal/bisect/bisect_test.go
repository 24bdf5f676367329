package bisect

import (
	"context"
	"errors"
	"slices"
	"testing"
)

var errRefused = errors.New("batch refused")

// store refuses any batch that holds a bad item, and keeps the items of accepted batches.
type store struct {
	bad    map[int]bool
	kept   []int
	writes int
	down   bool
}

func (s *store) write(_ context.Context, items []int) error {
	s.writes++
	if s.down {
		return errors.New("connection refused")
	}
	for _, it := range items {
		if s.bad[it] {
			return errRefused
		}
	}
	s.kept = append(s.kept, items...)
	return nil
}

func TestDoIsolatesEveryPoisonItem(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		bad  []int
	}{
		{"none", 10, nil},
		{"first", 10, []int{0}},
		{"last", 10, []int{9}},
		{"middle", 7, []int{3}},
		{"two apart", 16, []int{2, 13}},
		{"adjacent", 16, []int{7, 8}},
		{"all", 3, []int{0, 1, 2}},
		{"single good", 1, nil},
		{"single bad", 1, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &store{bad: map[int]bool{}}
			for _, b := range tc.bad {
				s.bad[b] = true
			}
			items := make([]int, tc.n)
			for i := range items {
				items[i] = i
			}
			var poisoned []int
			err := Do(context.Background(), items, s.write, func(err error) bool { return errors.Is(err, errRefused) },
				func(it int, err error) error {
					if !errors.Is(err, errRefused) {
						t.Errorf("poison %d got err %v", it, err)
					}
					poisoned = append(poisoned, it)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tc.bad)
			if want == nil {
				want = []int{}
			}
			if poisoned == nil {
				poisoned = []int{}
			}
			if !slices.Equal(poisoned, want) {
				t.Fatalf("poisoned %v, want %v", poisoned, want)
			}
			slices.Sort(s.kept)
			var good []int
			for _, it := range items {
				if !s.bad[it] {
					good = append(good, it)
				}
			}
			if !slices.Equal(s.kept, good) {
				t.Fatalf("kept %v, want %v", s.kept, good)
			}
		})
	}
}

func TestDoStopsOnOtherErrors(t *testing.T) {
	s := &store{down: true}
	called := false
	err := Do(context.Background(), []int{1, 2, 3}, s.write, func(err error) bool { return errors.Is(err, errRefused) },
		func(int, error) error { called = true; return nil })
	if err == nil || errors.Is(err, errRefused) || called || s.writes != 1 {
		t.Fatalf("err=%v poison called=%v writes=%d", err, called, s.writes)
	}
	// A failing poison handler (the dead-letter topic is down) stops the bisection too.
	s = &store{bad: map[int]bool{0: true, 2: true}}
	dlqDown := errors.New("dlq down")
	err = Do(context.Background(), []int{0, 1, 2}, s.write, func(err error) bool { return errors.Is(err, errRefused) },
		func(int, error) error { return dlqDown })
	if !errors.Is(err, dlqDown) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Do(ctx, []int{1}, s.write, func(error) bool { return true }, func(int, error) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestDoWriteCountIsLogarithmic(t *testing.T) {
	s := &store{bad: map[int]bool{37: true}}
	items := make([]int, 512)
	for i := range items {
		items[i] = i
	}
	if err := Do(context.Background(), items, s.write, func(err error) bool { return errors.Is(err, errRefused) },
		func(int, error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// 1 + 2 per level below the top, 9 levels for 512 items.
	if s.writes > 1+2*9 {
		t.Fatalf("%d writes for one poison item in 512", s.writes)
	}
}
