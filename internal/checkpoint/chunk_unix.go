//go:build unix

package checkpoint

import "syscall"

// mapChunk returns n bytes of anonymous private memory mapped from the system, outside
// the Go heap (mapped true), or heap bytes when the system refuses.
func mapChunk(n int) ([]byte, bool) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n), false
	}
	return b, true
}

// unmapChunk returns a chunk from mapChunk to the system.
func unmapChunk(b []byte) { _ = syscall.Munmap(b) }
