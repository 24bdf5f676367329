package checkpoint

import (
	"encoding/binary"
	"hash/maphash"
	"runtime"
	"strings"
)

// cursors is the store's table of cursors by key: an open-addressing hash table (linear
// probing) of places, each the place of one entry holding a key and its cursor.
//
// A process keeps the cursor of every target of the topic, so the per-key cost matters,
// and it is kept small two ways:
//   - an entry is a few bytes of lengths, the key and the cursor; the keys' leading
//     `<poller>/<provider>/`, the same for many keys, is kept once (prefixes) and an
//     entry holds its number instead;
//   - entries live outside the Go heap, in chunks of memory mapped from the operating
//     system (see chunks). Heap bytes cost about twice their size in a process's resident
//     memory, since the garbage collector lets the heap grow to twice what is live before
//     it runs; bytes outside the heap cost their size, and the collector never scans them.
//
// Entries are appended; a replaced or removed entry is dead space until the table is
// compacted (when dead space exceeds live space and a chunk). Nothing outside this file
// ever holds a reference into a chunk: get and all return copies.
// Not safe for concurrent use (the store's lock guards it).
type cursors struct {
	seed  maphash.Seed
	slots []uint64 // 0 = empty, else the entry's place + 1; a power of two long (or nil)
	n     int
	// prefixes are the key prefixes entries refer to by number (never removed: a
	// deployment has a few pollers and providers).
	prefixes []string
	prefixID map[string]uint64
	mem      *chunks
	// live and dead are the bytes of the entries in the table and of those replaced or
	// removed since the last compaction.
	live, dead int
}

func newCursors() *cursors {
	c := &cursors{seed: maphash.MakeSeed(), prefixes: []string{""}, prefixID: map[string]uint64{"": 0}, mem: &chunks{}}
	// The chunks are not the garbage collector's to free: they go back to the system
	// when the table is unreachable (a process has one store; tests make many).
	runtime.AddCleanup(c, (*chunks).release, c.mem)
	return c
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

// add writes the entry of key and cursor into the chunks and returns its place and size:
// the number of key's prefix, the lengths of the rest of the key and of the cursor (all
// uvarints), then that rest and the cursor.
func (c *cursors) add(key string, cursor []byte) (uint64, int) {
	p := prefix(key)
	id, ok := c.prefixID[p]
	if !ok {
		p = strings.Clone(p)
		id = uint64(len(c.prefixes))
		c.prefixes = append(c.prefixes, p)
		c.prefixID[p] = id
	}
	rest := key[len(p):]
	var head [3 * binary.MaxVarintLen64]byte
	w := binary.PutUvarint(head[:], id)
	w += binary.PutUvarint(head[w:], uint64(len(rest)))
	w += binary.PutUvarint(head[w:], uint64(len(cursor)))
	size := w + len(rest) + len(cursor)
	place, b := c.mem.alloc(size)
	n := copy(b, head[:w])
	n += copy(b[n:], rest)
	copy(b[n:], cursor)
	return place, size
}

// uvarint reads a uvarint at the start of b: the value and its length.
func uvarint(b []byte) (uint64, int) {
	var n uint64
	w := 0
	for shift := uint(0); w < len(b); shift += 7 {
		x := b[w]
		w++
		n |= uint64(x&0x7f) << shift
		if x < 0x80 {
			break
		}
	}
	return n, w
}

// entry returns the key prefix, the rest of the key and the cursor of the entry at place
// (the last two are views into a chunk, valid until the next put or remove) and the
// entry's size.
func (c *cursors) entry(place uint64) (prefix string, rest, cursor []byte, size int) {
	b := c.mem.at(place)
	id, w := uvarint(b)
	nr, w2 := uvarint(b[w:])
	nc, w3 := uvarint(b[w+w2:])
	h := w + w2 + w3
	b = b[h:]
	return c.prefixes[id], b[:nr:nr], b[nr : nr+nc : nr+nc], h + int(nr+nc)
}

// hash is the hash of the key prefix+rest; home(prefix+rest) is the same.
func (c *cursors) hash(prefix string, rest []byte) int {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(prefix)
	h.Write(rest)
	return int(h.Sum64() & uint64(len(c.slots)-1))
}

func (c *cursors) home(key string) int {
	return int(maphash.String(c.seed, key) & uint64(len(c.slots)-1))
}

// find returns the slot of key, or of the empty slot where it would go.
func (c *cursors) find(key string) (int, bool) {
	mask := len(c.slots) - 1
	for i := c.home(key); ; i = (i + 1) & mask {
		s := c.slots[i]
		if s == 0 {
			return i, false
		}
		if p, rest, _, _ := c.entry(s - 1); len(p)+len(rest) == len(key) && key[:len(p)] == p && string(rest) == key[len(p):] {
			return i, true
		}
	}
}

// get returns (a copy of) the cursor of key.
func (c *cursors) get(key string) (string, bool) {
	if c.n == 0 {
		return "", false
	}
	i, ok := c.find(key)
	if !ok {
		return "", false
	}
	_, _, cur, _ := c.entry(c.slots[i] - 1)
	return string(cur), true
}

// put stores the cursor of key.
func (c *cursors) put(key string, cursor []byte) {
	if (c.n+1)*5 > len(c.slots)*4 { // at most 80 % full
		c.grow()
	}
	i, ok := c.find(key)
	if ok {
		_, _, _, old := c.entry(c.slots[i] - 1)
		c.live -= old
		c.dead += old
	} else {
		c.n++
	}
	place, size := c.add(key, cursor)
	c.slots[i] = place + 1
	c.live += size
	c.maybeCompact()
}

func (c *cursors) grow() {
	old := c.slots
	c.slots = make([]uint64, max(8, 2*len(old)))
	mask := len(c.slots) - 1
	for _, s := range old {
		if s != 0 {
			p, rest, _, _ := c.entry(s - 1)
			i := c.hash(p, rest)
			for c.slots[i] != 0 {
				i = (i + 1) & mask
			}
			c.slots[i] = s
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
	_, _, _, size := c.entry(c.slots[i] - 1)
	c.live -= size
	c.dead += size
	mask := len(c.slots) - 1
	for j := (i + 1) & mask; c.slots[j] != 0; j = (j + 1) & mask {
		p, rest, _, _ := c.entry(c.slots[j] - 1)
		h := c.hash(p, rest)
		// The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
		if (i < j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			c.slots[i] = c.slots[j]
			i = j
		}
	}
	c.slots[i] = 0
	c.n--
	c.maybeCompact()
}

// maybeCompact copies the live entries into new chunks and releases the old ones once
// dead space exceeds both live space and a chunk: the chunks hold at most about twice
// what is live, plus a chunk.
func (c *cursors) maybeCompact() {
	if c.dead <= c.live || c.dead <= chunkSize {
		return
	}
	fresh := &chunks{}
	for i, s := range c.slots {
		if s == 0 {
			continue
		}
		b := c.mem.at(s - 1)
		_, _, _, size := c.entry(s - 1)
		place, nb := fresh.alloc(size)
		copy(nb, b[:size])
		c.slots[i] = place + 1
	}
	old := *c.mem
	*c.mem = *fresh // the cleanup holds c.mem: it releases what c.mem holds then
	old.release()
	c.dead = 0
}

// all calls f with every key and (a copy of its) cursor.
func (c *cursors) all(f func(key, cursor string)) {
	for _, s := range c.slots {
		if s != 0 {
			p, rest, cur, _ := c.entry(s - 1)
			f(p+string(rest), string(cur))
		}
	}
}

// chunkSize is the size of a chunk (an entry larger than that gets a chunk of its own).
const chunkSize = 1 << 20

// chunks is append-only memory for entries, in chunks mapped from the operating system
// (mapChunk: outside the Go heap where the platform allows it). A place is a chunk's
// number (high 24 bits) and an offset in it (low 40 bits).
type chunks struct {
	bufs   [][]byte
	mapped []bool // bufs[i] came from mapChunk and goes back with unmapChunk
	fill   int    // bytes used in the last chunk
}

// alloc returns the place of n new bytes and the bytes.
func (m *chunks) alloc(n int) (uint64, []byte) {
	last := len(m.bufs) - 1
	if last < 0 || m.fill+n > len(m.bufs[last]) {
		size := chunkSize
		if n > size {
			size = (n + 4095) &^ 4095
		}
		b, mapped := mapChunk(size)
		m.bufs = append(m.bufs, b)
		m.mapped = append(m.mapped, mapped)
		m.fill = 0
		last++
	}
	off := m.fill
	m.fill += n
	return uint64(last)<<40 | uint64(off), m.bufs[last][off : off+n : off+n]
}

// at returns the bytes from place to the end of its chunk.
func (m *chunks) at(place uint64) []byte {
	return m.bufs[place>>40][place&(1<<40-1):]
}

// release gives the mapped chunks back to the operating system.
func (m *chunks) release() {
	for i, b := range m.bufs {
		if m.mapped[i] {
			unmapChunk(b)
		}
	}
	*m = chunks{}
}
