package targets

import "hash/maphash"

// index finds a key's place in the table's keys: an open-addressing hash table (linear
// probing, at most 3/4 full) of places + 1 (0 = empty). Keys are never removed, so
// there is no deletion. Not safe for concurrent use (the table's lock guards it).
type index struct {
	seed  maphash.Seed
	slots []int32 // a power of two long (or nil)
}

func newIndex() index { return index{seed: maphash.MakeSeed()} }

func (x *index) home(key string) int {
	return int(maphash.String(x.seed, key) & uint64(len(x.slots)-1))
}

// find returns the place of key among keys.
func (x *index) find(keys []string, key string) (int, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := len(x.slots) - 1
	for i := x.home(key); ; i = (i + 1) & mask {
		p := x.slots[i]
		if p == 0 {
			return 0, false
		}
		if keys[p-1] == key {
			return int(p - 1), true
		}
	}
}

// add indexes the last of keys (not indexed yet).
func (x *index) add(keys []string) {
	if len(keys)*4 > len(x.slots)*3 {
		x.slots = make([]int32, max(16, 2*len(x.slots)))
		for p := range keys[:len(keys)-1] {
			x.put(keys, p)
		}
	}
	x.put(keys, len(keys)-1)
}

func (x *index) put(keys []string, p int) {
	mask := len(x.slots) - 1
	i := x.home(keys[p])
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = int32(p + 1)
}
