package checkpoint

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
)

// cursors is the store's table of cursors by key: an open-addressing hash table (linear
// probing) of entries, each one string holding the key and the cursor. A process keeps a
// cursor per target of the topic, so its per-key cost matters: a key's leading
// `<poller>/<provider>/`, the same for many keys, is kept once (prefixes) and an entry
// holds its number, the rest of the key and the cursor; with its 16-byte slot that is
// about half what a Go map[string]string takes with its own key and value allocations.
// Not safe for concurrent use (the store's lock guards it).
type cursors struct {
	seed  maphash.Seed
	slots []string // "" = empty; a power of two long (or nil)
	n     int
	// prefixes are the key prefixes entries refer to by number (never removed: a
	// deployment has a few pollers and providers).
	prefixes []string
	prefixID map[string]uint64
}

func newCursors() *cursors {
	return &cursors{seed: maphash.MakeSeed(), prefixes: []string{""}, prefixID: map[string]uint64{"": 0}}
}

// prefix is the part of key kept once: up to its second '/' included ("" without one).
func prefix(key string) string {
	i := strings.IndexByte(key, '/')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(key[i+1:], '/')
	if j < 0 {
		return ""
	}
	return key[:i+j+2]
}

// entry builds the entry of key and cursor (one allocation): the number of key's
// prefix, the length of the rest of the key (both uvarints), that rest and the cursor.
func (c *cursors) entry(key string, cursor []byte) string {
	p := prefix(key)
	id, ok := c.prefixID[p]
	if !ok {
		p = strings.Clone(p)
		id = uint64(len(c.prefixes))
		c.prefixes = append(c.prefixes, p)
		c.prefixID[p] = id
	}
	rest := key[len(p):]
	var b [2 * binary.MaxVarintLen64]byte
	w := binary.PutUvarint(b[:], id)
	w += binary.PutUvarint(b[w:], uint64(len(rest)))
	return string(b[:w]) + rest + string(cursor)
}

// uvarint reads a uvarint at the start of s: the value and its length.
func uvarint(s string) (uint64, int) {
	var n uint64
	w := 0
	for shift := uint(0); w < len(s); shift += 7 {
		b := s[w]
		w++
		n |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
	}
	return n, w
}

// split returns an entry's key prefix, the rest of its key and its cursor (substrings).
func (c *cursors) split(e string) (prefix, rest, cursor string) {
	id, w := uvarint(e)
	n, w2 := uvarint(e[w:])
	e = e[w+w2:]
	return c.prefixes[id], e[:n], e[n:]
}

// hash is the hash of the key prefix+rest.
func (c *cursors) hash(prefix, rest string) int {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(prefix)
	h.WriteString(rest)
	return int(h.Sum64() & uint64(len(c.slots)-1))
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
		if p, rest, _ := c.split(e); len(p)+len(rest) == len(key) && key[:len(p)] == p && key[len(p):] == rest {
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
	_, _, cur := c.split(c.slots[i])
	return cur, true
}

// put stores the cursor of key.
func (c *cursors) put(key string, cursor []byte) {
	if (c.n+1)*5 > len(c.slots)*4 { // at most 80 % full
		c.grow()
	}
	i, ok := c.find(key)
	c.slots[i] = c.entry(key, cursor)
	if !ok {
		c.n++
	}
}

func (c *cursors) grow() {
	old := c.slots
	c.slots = make([]string, max(8, 2*len(old)))
	mask := len(c.slots) - 1
	for _, e := range old {
		if e != "" {
			i := c.hash(c.split3(e))
			for c.slots[i] != "" {
				i = (i + 1) & mask
			}
			c.slots[i] = e
		}
	}
}

// split3 is split without the cursor.
func (c *cursors) split3(e string) (prefix, rest string) {
	p, r, _ := c.split(e)
	return p, r
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
		h := c.hash(c.split3(c.slots[j]))
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
			p, rest, cur := c.split(e)
			f(p+rest, cur)
		}
	}
}
