package checkpoint

import (
	"encoding/binary"
	"hash/maphash"
)

// cursors is the store's table of cursors by key: an open-addressing hash table (linear
// probing) of entries, each one string holding the key's length (uvarint), the key and
// the cursor. A process keeps a cursor per target of the topic, so its per-key cost
// matters: 16 bytes of slot and one allocation of about the key and cursor, about half
// what a Go map[string]string takes with its own key and value allocations and slots.
// Not safe for concurrent use (the store's lock guards it).
type cursors struct {
	seed  maphash.Seed
	slots []string // "" = empty; a power of two long (or nil)
	n     int
}

func newCursors() *cursors { return &cursors{seed: maphash.MakeSeed()} }

// entry builds the entry of key and cursor (one allocation).
func entry(key string, cursor []byte) string {
	var p [binary.MaxVarintLen64]byte
	w := binary.PutUvarint(p[:], uint64(len(key)))
	return string(p[:w]) + key + string(cursor)
}

// split returns an entry's key and cursor (substrings of it).
func split(e string) (key, cursor string) {
	var n uint64
	w := 0
	for shift := uint(0); w < len(e); shift += 7 {
		b := e[w]
		w++
		n |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
	}
	return e[w : w+int(n)], e[w+int(n):]
}

func (c *cursors) home(key string) int {
	return int(maphash.String(c.seed, key) & uint64(len(c.slots)-1))
}

// find returns the slot of key, or of the empty slot where it would go.
func (c *cursors) find(key string) (int, bool) {
	mask := len(c.slots) - 1
	for i := c.home(key); ; i = (i + 1) & mask {
		e := c.slots[i]
		if e == "" {
			return i, false
		}
		if k, _ := split(e); k == key {
			return i, true
		}
	}
}

// get returns the cursor of key.
func (c *cursors) get(key string) (string, bool) {
	if c.n == 0 {
		return "", false
	}
	i, ok := c.find(key)
	if !ok {
		return "", false
	}
	_, cur := split(c.slots[i])
	return cur, true
}

// put stores the cursor of key.
func (c *cursors) put(key string, cursor []byte) {
	if (c.n+1)*5 > len(c.slots)*4 { // at most 80 % full
		c.grow()
	}
	i, ok := c.find(key)
	c.slots[i] = entry(key, cursor)
	if !ok {
		c.n++
	}
}

func (c *cursors) grow() {
	old := c.slots
	c.slots = make([]string, max(8, 2*len(old)))
	for _, e := range old {
		if e != "" {
			k, _ := split(e)
			i, _ := c.find(k)
			c.slots[i] = e
		}
	}
}

// remove forgets key: the entries after it in its run move back (backward-shift
// deletion), so no lookup ever stops early at the hole.
func (c *cursors) remove(key string) {
	if c.n == 0 {
		return
	}
	i, ok := c.find(key)
	if !ok {
		return
	}
	mask := len(c.slots) - 1
	for j := (i + 1) & mask; c.slots[j] != ""; j = (j + 1) & mask {
		k, _ := split(c.slots[j])
		h := c.home(k)
		// The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
		if (i < j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			c.slots[i] = c.slots[j]
			i = j
		}
	}
	c.slots[i] = ""
	c.n--
}

// all calls f with every key and cursor.
func (c *cursors) all(f func(key, cursor string)) {
	for _, e := range c.slots {
		if e != "" {
			f(split(e))
		}
	}
}
